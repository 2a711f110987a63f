//! Watch hub: fans committed events out to watchers and keeps a bounded in-memory
//! history so that recent watches resume without touching the backend.
//!
//! The hub is backend-agnostic: a backend calls [`Hub::publish`] once per commit, in
//! revision order, and [`Hub::subscribe`] to start a watch. Subscribing and publishing
//! take the same lock, so the replay a subscriber gets and the live events that follow
//! meet exactly: no gap, no duplicate.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::{Event, Revision, StoreError, Watch};

/// Sender half of one watcher's channel.
pub(crate) type EventSender = mpsc::Sender<Result<Arc<Event>, StoreError>>;
/// Receiver half of one watcher's channel.
pub(crate) type EventReceiver = mpsc::Receiver<Result<Arc<Event>, StoreError>>;

/// Limits of the history ring and of each watcher's queue.
#[derive(Clone, Debug)]
pub struct HubOptions {
    /// Events younger than this are kept (unless `history_max_bytes` is exceeded).
    pub history_min_age: Duration,
    /// At least this many events are kept (unless `history_max_bytes` is exceeded).
    pub history_min_events: usize,
    /// Hard bound on the summed key and value sizes held by the history.
    pub history_max_bytes: usize,
    /// Events a watcher may have queued before it is dropped as too slow.
    pub watcher_buffer: usize,
}

impl Default for HubOptions {
    fn default() -> Self {
        Self {
            history_min_age: Duration::from_secs(5 * 60),
            history_min_events: 10_000,
            history_max_bytes: 256 << 20,
            watcher_buffer: 1024,
        }
    }
}

struct Entry {
    event: Arc<Event>,
    at: Instant,
    size: usize,
}

struct Watcher {
    prefix: String,
    /// Events at or below this revision were replayed already (or predate the watch).
    after: Revision,
    tx: EventSender,
}

impl Watcher {
    /// Offers one event; returns false when the watcher must be dropped.
    fn offer(&self, event: &Arc<Event>) -> bool {
        if self.tx.is_closed() {
            return false;
        }
        if event.kv.mod_revision <= self.after || !event.kv.key.starts_with(&self.prefix) {
            return true;
        }
        // One slot is reserved for the error, so the watcher always learns why it ended.
        // Only the hub sends on this channel, so the capacity cannot shrink under us.
        if self.tx.capacity() > 1 {
            self.tx.try_send(Ok(Arc::clone(event))).is_ok()
        } else {
            let _ = self.tx.try_send(Err(StoreError::WatcherTooSlow));
            false
        }
    }
}

struct Inner {
    history: VecDeque<Entry>,
    history_bytes: usize,
    /// Every event with `floor < revision <= last` is in `history`.
    floor: Revision,
    /// Revision of the newest published event.
    last: Revision,
    watchers: Vec<Watcher>,
    closed: bool,
}

/// The outcome of [`Hub::subscribe`].
pub(crate) enum Subscription {
    /// The history covered the request; the watch is complete and live.
    Ready(Watch),
    /// The history starts after the requested revision: the caller replays
    /// `(after, floor]` from its log, then `history`, then forwards `live`.
    NeedsLog { floor: Revision, history: Vec<Arc<Event>>, live: EventReceiver },
}

/// Fan-out point and history ring of one store.
pub(crate) struct Hub {
    inner: Mutex<Inner>,
    opts: HubOptions,
}

impl Hub {
    /// A hub whose newest committed revision is `current`.
    pub(crate) fn new(current: Revision, opts: HubOptions) -> Self {
        Self {
            inner: Mutex::new(Inner {
                history: VecDeque::new(),
                history_bytes: 0,
                floor: current,
                last: current,
                watchers: Vec::new(),
                closed: false,
            }),
            opts,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the ring half-updated in a way
        // that matters more than stopping the store would, so keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Buffer size of a watcher's channel, including the slot reserved for the error.
    pub(crate) fn watcher_capacity(&self) -> usize {
        self.opts.watcher_buffer.max(1) + 1
    }

    /// Records and delivers the events of one commit (in revision order).
    pub(crate) fn publish(&self, events: &[Arc<Event>]) {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.closed {
            return;
        }
        for event in events {
            inner.watchers.retain(|w| w.offer(event));
            let size = event.kv.key.len() + event.kv.value.len() + event.prev_value.as_ref().map_or(0, |v| v.len());
            inner.history_bytes += size;
            inner.last = event.kv.mod_revision;
            inner.history.push_back(Entry { event: Arc::clone(event), at: now, size });
        }
        self.evict(&mut inner, now);
    }

    fn evict(&self, inner: &mut Inner, now: Instant) {
        while let Some(oldest) = inner.history.front() {
            let old_and_many = inner.history.len() > self.opts.history_min_events
                && now.duration_since(oldest.at) > self.opts.history_min_age;
            if !old_and_many && inner.history_bytes <= self.opts.history_max_bytes {
                break;
            }
            inner.floor = oldest.event.kv.mod_revision;
            inner.history_bytes -= oldest.size;
            inner.history.pop_front();
        }
    }

    /// Starts a watch of `prefix` for events after revision `after`.
    pub(crate) fn subscribe(&self, prefix: &str, after: Revision) -> Result<Subscription, StoreError> {
        let mut inner = self.lock();
        if inner.closed {
            return Err(StoreError::Closed);
        }
        let replay: Vec<Arc<Event>> = inner
            .history
            .iter()
            .filter(|e| e.event.kv.mod_revision > after && e.event.kv.key.starts_with(prefix))
            .map(|e| Arc::clone(&e.event))
            .collect();
        let covered = after >= inner.floor;
        // The replay is queued up front, so the channel must hold it plus a full buffer.
        let capacity = self.watcher_capacity() + if covered { replay.len() } else { 0 };
        let (tx, rx) = mpsc::channel(capacity);
        // Live events start after everything the history holds now.
        let live_after = inner.last.max(after);
        let floor = inner.floor;
        if covered {
            for event in replay {
                // Cannot fail: the channel was sized for the replay and nobody reads yet.
                let _ = tx.try_send(Ok(event));
            }
            inner.watchers.push(Watcher { prefix: prefix.to_owned(), after: live_after, tx });
            Ok(Subscription::Ready(Watch::new(rx)))
        } else {
            inner.watchers.push(Watcher { prefix: prefix.to_owned(), after: live_after, tx });
            Ok(Subscription::NeedsLog { floor, history: replay, live: rx })
        }
    }

    /// Number of live watchers (for stats and tests).
    pub(crate) fn watcher_count(&self) -> usize {
        let mut inner = self.lock();
        inner.watchers.retain(|w| !w.tx.is_closed());
        inner.watchers.len()
    }

    /// Oldest revision after which the history can replay.
    pub(crate) fn history_floor(&self) -> Revision {
        self.lock().floor
    }

    /// Ends every watch and refuses new ones.
    pub(crate) fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.watchers.clear();
        inner.history.clear();
        inner.history_bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::{EventType, KeyValue};

    fn event(key: &str, rev: Revision) -> Arc<Event> {
        Arc::new(Event {
            event_type: EventType::Created,
            kv: KeyValue { key: key.into(), value: Bytes::from_static(b"v"), create_revision: rev, mod_revision: rev },
            prev_value: None,
        })
    }

    #[tokio::test]
    async fn slow_watcher_gets_error_then_end() {
        let hub = Hub::new(0, HubOptions { watcher_buffer: 2, ..Default::default() });
        let Ok(Subscription::Ready(mut w)) = hub.subscribe("/a", 0) else { panic!("not ready") };
        for rev in 1..=5 {
            hub.publish(&[event("/a/x", rev)]);
        }
        assert_eq!(w.next().await.unwrap().unwrap().kv.mod_revision, 1);
        assert_eq!(w.next().await.unwrap().unwrap().kv.mod_revision, 2);
        assert!(matches!(w.next().await, Some(Err(StoreError::WatcherTooSlow))));
        assert!(w.next().await.is_none());
        assert_eq!(hub.watcher_count(), 0);
    }

    #[tokio::test]
    async fn eviction_moves_floor_and_requires_log() {
        let opts = HubOptions { history_min_age: Duration::ZERO, history_min_events: 3, ..Default::default() };
        let hub = Hub::new(0, opts);
        for rev in 1..=10 {
            hub.publish(&[event("/a", rev)]);
        }
        assert_eq!(hub.history_floor(), 7);
        assert!(matches!(hub.subscribe("", 7), Ok(Subscription::Ready(_))));
        match hub.subscribe("", 6) {
            Ok(Subscription::NeedsLog { floor, history, .. }) => {
                assert_eq!(floor, 7);
                assert_eq!(history.len(), 3);
            }
            _ => panic!("expected NeedsLog"),
        }
    }
}
