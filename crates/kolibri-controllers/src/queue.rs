//! A work queue of keys, as client-go's rate-limited work queue: a key is queued at most
//! once, is never handed to two workers at the same time (a key added while it is being
//! processed is queued again when it is done), and failures are retried after a per-key
//! exponential backoff. Nothing here wakes up unless a key is added or a retry falls due.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// Delays of retries: `base * 2^failures`, at most `max`.
#[derive(Clone, Copy, Debug)]
pub struct Backoff {
    pub base: Duration,
    pub max: Duration,
}

impl Backoff {
    /// client-go's default for controllers: 5 ms doubling up to 1000 s; kolibri caps it at
    /// 5 minutes so that a repaired object is picked up within minutes.
    pub const DEFAULT: Backoff = Backoff { base: Duration::from_millis(5), max: Duration::from_secs(300) };

    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }
}

struct State<T> {
    ready: VecDeque<T>,
    queued: HashSet<T>,
    processing: HashSet<T>,
    /// Added while processing: queued again by `done`.
    dirty: HashSet<T>,
    /// Due times of delayed keys; the heap may hold stale entries, the map is the truth.
    waiting: HashMap<T, Instant>,
    timers: BinaryHeap<Reverse<(Instant, u64, T)>>,
    seq: u64,
    failures: HashMap<T, u32>,
    shut_down: bool,
}

/// The queue; share it with `Arc`.
pub struct Queue<T> {
    state: Mutex<State<T>>,
    notify: Notify,
    backoff: Backoff,
}

impl<T: Clone + Eq + Hash + Ord> Queue<T> {
    pub fn new(backoff: Backoff) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State {
                ready: VecDeque::new(),
                queued: HashSet::new(),
                processing: HashSet::new(),
                dirty: HashSet::new(),
                waiting: HashMap::new(),
                timers: BinaryHeap::new(),
                seq: 0,
                failures: HashMap::new(),
                shut_down: false,
            }),
            notify: Notify::new(),
            backoff,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock cannot leave the state half-updated in a way
        // that matters more than stopping the controller would.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `key` now (a pending delayed retry of it is dropped).
    pub fn add(&self, key: T) {
        let mut s = self.lock();
        if s.shut_down {
            return;
        }
        s.waiting.remove(&key);
        Self::enqueue(&mut s, key);
        drop(s);
        self.notify.notify_one();
    }

    fn enqueue(s: &mut State<T>, key: T) {
        if s.processing.contains(&key) {
            s.dirty.insert(key);
        } else if s.queued.insert(key.clone()) {
            s.ready.push_back(key);
        }
    }

    /// Queues `key` after `delay`, unless it is due earlier already.
    pub fn add_after(&self, key: T, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let mut s = self.lock();
        if s.shut_down || s.queued.contains(&key) {
            return;
        }
        let at = Instant::now() + delay;
        if s.waiting.get(&key).is_some_and(|due| *due <= at) {
            return;
        }
        s.waiting.insert(key.clone(), at);
        s.seq += 1;
        let seq = s.seq;
        s.timers.push(Reverse((at, seq, key)));
        drop(s);
        // A worker may be sleeping until a later timer.
        self.notify.notify_one();
    }

    /// Queues `key` again after its next backoff delay; returns the delay.
    pub fn retry(&self, key: T) -> Duration {
        let failures = {
            let mut s = self.lock();
            let n = s.failures.entry(key.clone()).or_insert(0);
            *n = n.saturating_add(1);
            *n - 1
        };
        let delay = self.backoff.delay(failures);
        self.add_after(key, delay);
        delay
    }

    /// Forgets the failures of `key` (it succeeded).
    pub fn forget(&self, key: &T) {
        self.lock().failures.remove(key);
    }

    /// The next key to process, or `None` once the queue is shut down.
    pub async fn next(&self) -> Option<T> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_timer = {
                let mut s = self.lock();
                if s.shut_down {
                    return None;
                }
                let now = Instant::now();
                while let Some(Reverse((at, _, _))) = s.timers.peek() {
                    if *at > now {
                        break;
                    }
                    let Some(Reverse((at, _, key))) = s.timers.pop() else { break };
                    if s.waiting.get(&key) == Some(&at) {
                        s.waiting.remove(&key);
                        Self::enqueue(&mut s, key);
                    }
                }
                if let Some(key) = s.ready.pop_front() {
                    s.queued.remove(&key);
                    s.processing.insert(key.clone());
                    let more = !s.ready.is_empty();
                    drop(s);
                    if more {
                        self.notify.notify_one();
                    }
                    return Some(key);
                }
                s.timers.peek().map(|Reverse((at, _, _))| *at)
            };
            match next_timer {
                Some(at) => {
                    tokio::select! {
                        _ = &mut notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` as processed; queues it again if it was added meanwhile.
    pub fn done(&self, key: &T) {
        let mut s = self.lock();
        s.processing.remove(key);
        if s.dirty.remove(key) && !s.shut_down {
            Self::enqueue(&mut s, key.clone());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Stops handing out keys; `next` returns `None` from now on.
    pub fn shut_down(&self) {
        self.lock().shut_down = true;
        self.notify.notify_waiters();
    }

    /// How many keys are queued or waiting (for tests and logs).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        let s = self.lock();
        s.ready.len() + s.waiting.len()
    }
}

/// What a sync of one key asks for when it succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Nothing: the key is done until something changes.
    Done,
    /// Look again after this long (waiting for something no event will announce).
    After(Duration),
}

/// Runs `workers` workers on `queue` until it is shut down: each sync that fails is logged
/// and retried after its backoff.
pub async fn run_workers<T, F, Fut, E>(controller: &'static str, queue: Arc<Queue<T>>, workers: usize, sync: F)
where
    T: Clone + Eq + Hash + Ord + std::fmt::Display + Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Next, E>> + Send,
    E: std::fmt::Display,
{
    let mut tasks = Vec::new();
    for _ in 0..workers.max(1) {
        let queue = queue.clone();
        let sync = sync.clone();
        tasks.push(async move {
            while let Some(key) = queue.next().await {
                match sync(key.clone()).await {
                    Ok(Next::Done) => queue.forget(&key),
                    Ok(Next::After(delay)) => {
                        queue.forget(&key);
                        queue.add_after(key.clone(), delay);
                    }
                    Err(e) => {
                        let delay = queue.retry(key.clone());
                        tracing::warn!(controller, key = %key, error = %e, retry_in_ms = delay.as_millis() as u64, "sync failed");
                    }
                }
                queue.done(&key);
            }
        });
    }
    futures::future::join_all(tasks).await;
}

/// Runs a controller's workers once `ready` (its caches are filled) until `shutdown`: then
/// the queue stops handing out keys and the workers finish the key they hold.
pub async fn serve<T, F, Fut, E>(
    controller: &'static str,
    queue: Arc<Queue<T>>,
    workers: usize,
    ready: impl Future<Output = ()>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    sync: F,
) where
    T: Clone + Eq + Hash + Ord + std::fmt::Display + Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Next, E>> + Send,
    E: std::fmt::Display,
{
    tokio::select! {
        _ = ready => {}
        _ = crate::stopped(&mut shutdown) => return,
    }
    tracing::info!(controller, "caches filled; controller started");
    let stop = {
        let queue = queue.clone();
        async move {
            crate::stopped(&mut shutdown).await;
            queue.shut_down();
        }
    };
    tokio::join!(run_workers(controller, queue, workers, sync), stop);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn keys_are_deduplicated_and_not_processed_twice_at_once() {
        let q = Queue::new(Backoff::DEFAULT);
        q.add("a".to_string());
        q.add("a".to_string());
        q.add("b".to_string());
        assert_eq!(q.next().await.as_deref(), Some("a"));
        // Added while processing: handed out again only after done.
        q.add("a".to_string());
        assert_eq!(q.next().await.as_deref(), Some("b"));
        q.done(&"b".to_string());
        assert_eq!(q.len(), 0);
        q.done(&"a".to_string());
        assert_eq!(q.next().await.as_deref(), Some("a"));
    }

    #[tokio::test(start_paused = true)]
    async fn retries_back_off_exponentially() {
        let q = Queue::new(Backoff { base: Duration::from_millis(100), max: Duration::from_secs(1) });
        let key = "k".to_string();
        let mut delays = Vec::new();
        for _ in 0..6 {
            delays.push(q.retry(key.clone()));
            let started = Instant::now();
            assert_eq!(q.next().await.as_deref(), Some("k"));
            assert!(started.elapsed() >= *delays.last().unwrap());
            q.done(&key);
        }
        let ms: Vec<u128> = delays.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, [100, 200, 400, 800, 1000, 1000]);
        q.forget(&key);
        assert_eq!(q.retry(key), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn add_replaces_a_pending_retry_and_shutdown_ends_next() {
        let q = Queue::new(Backoff { base: Duration::from_secs(60), max: Duration::from_secs(60) });
        q.retry("k".to_string());
        q.add("k".to_string());
        let started = Instant::now();
        assert_eq!(q.next().await.as_deref(), Some("k"));
        assert!(started.elapsed() < Duration::from_secs(1));
        q.done(&"k".to_string());
        assert_eq!(q.len(), 0);
        let waiter = {
            let q = q.clone();
            tokio::spawn(async move { q.next().await })
        };
        tokio::task::yield_now().await;
        q.shut_down();
        assert_eq!(waiter.await.unwrap(), None);
    }
}
