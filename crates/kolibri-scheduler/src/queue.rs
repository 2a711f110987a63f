//! The scheduling queue, as upstream's: an active queue ordered by priority (then arrival),
//! a backoff queue (1 s doubling up to 10 s per failed attempt) and the unschedulable pods,
//! which wait for a cluster event that may help them (a node added or changed, a pod
//! deleted, ...) or, at the latest, 5 minutes. Nothing here wakes up unless a pod is added,
//! an event arrives or a backoff falls due.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::cache::PodKey;

pub const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
pub const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long a pod waits for an event before it is tried again anyway (upstream's
/// `podMaxInUnschedulablePodsDuration`).
pub const MAX_UNSCHEDULABLE: Duration = Duration::from_secs(300);

/// Kinds of cluster events; a failed pod records those that may make it fit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Events(pub u8);

impl Events {
    pub const NONE: Events = Events(0);
    pub const NODE: Events = Events(1);
    pub const POD_DELETED: Events = Events(2);
    pub const POD_ADDED: Events = Events(4);
    pub const VOLUME: Events = Events(8);
    pub const PRIORITY_CLASS: Events = Events(16);

    pub fn with(self, other: Events) -> Events {
        Events(self.0 | other.0)
    }

    fn intersects(self, other: Events) -> bool {
        self.0 & other.0 != 0
    }
}

/// The delay before attempt `attempts + 1`.
pub fn backoff(attempts: u32) -> Duration {
    let factor = 1u32.checked_shl(attempts.saturating_sub(1).min(31)).unwrap_or(u32::MAX);
    INITIAL_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Active,
    Backoff,
    Unschedulable,
    InFlight { dirty: bool },
}

struct Entry {
    priority: i32,
    seq: u64,
    attempts: u32,
    place: Place,
    /// Until when the pod backs off (after a failure).
    backoff_until: Option<Instant>,
    /// `move_cycle` when it was handed out.
    popped_at: u64,
    helped_by: Events,
}

#[derive(PartialEq, Eq)]
struct Ready {
    priority: i32,
    seq: u64,
    key: PodKey,
}

impl Ord for Ready {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority.cmp(&other.priority).then_with(|| other.seq.cmp(&self.seq))
    }
}

impl PartialOrd for Ready {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[derive(Default)]
struct State {
    /// May hold stale entries; `entries` is the truth.
    active: BinaryHeap<Ready>,
    entries: HashMap<PodKey, Entry>,
    timers: BinaryHeap<Reverse<(Instant, u64, PodKey)>>,
    seq: u64,
    /// Bumped by every event that moves pods; a pod that fails after an event arrived while
    /// it was in flight backs off instead of waiting for another event.
    move_cycle: u64,
    closed: bool,
}

impl State {
    fn activate(&mut self, key: &PodKey) {
        self.seq += 1;
        let seq = self.seq;
        if let Some(e) = self.entries.get_mut(key) {
            e.place = Place::Active;
            e.seq = seq;
            self.active.push(Ready { priority: e.priority, seq, key: key.clone() });
        }
    }

    fn timer(&mut self, key: &PodKey, at: Instant) {
        self.seq += 1;
        self.timers.push(Reverse((at, self.seq, key.clone())));
    }

    /// To the active queue, or to the backoff queue while its backoff lasts.
    fn requeue(&mut self, key: &PodKey, now: Instant) {
        let until = self.entries.get(key).and_then(|e| e.backoff_until).filter(|u| *u > now);
        match until {
            Some(at) => {
                if let Some(e) = self.entries.get_mut(key) {
                    e.place = Place::Backoff;
                }
                self.timer(key, at);
            }
            None => self.activate(key),
        }
    }
}

/// The queue of pending pods.
#[derive(Default)]
pub struct Queue {
    state: Mutex<State>,
    notify: Notify,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A new pending pod, or one whose spec changed: it is tried now (or after its backoff).
    pub fn add(&self, key: PodKey, priority: i32) {
        let mut s = self.lock();
        if s.closed {
            return;
        }
        let now = Instant::now();
        match s.entries.get_mut(&key) {
            None => {
                s.entries.insert(
                    key.clone(),
                    Entry {
                        priority,
                        seq: 0,
                        attempts: 0,
                        place: Place::Active,
                        backoff_until: None,
                        popped_at: 0,
                        helped_by: Events::NONE,
                    },
                );
                s.activate(&key);
            }
            Some(e) => {
                e.priority = priority;
                match e.place {
                    Place::InFlight { .. } => e.place = Place::InFlight { dirty: true },
                    Place::Active => s.activate(&key),
                    Place::Backoff => {}
                    Place::Unschedulable => s.requeue(&key, now),
                }
            }
        }
        drop(s);
        self.notify.notify_one();
    }

    /// A pod whose binding failed: tried again after the first backoff.
    pub fn add_backoff(&self, key: PodKey, priority: i32) {
        let mut s = self.lock();
        if s.closed {
            return;
        }
        let until = Instant::now() + backoff(1);
        s.entries.insert(
            key.clone(),
            Entry {
                priority,
                seq: 0,
                attempts: 1,
                place: Place::Backoff,
                backoff_until: Some(until),
                popped_at: 0,
                helped_by: Events::NONE,
            },
        );
        s.timer(&key, until);
        drop(s);
        self.notify.notify_one();
    }

    /// The pod is gone, or bound.
    pub fn remove(&self, key: &str) {
        self.lock().entries.remove(key);
    }

    pub fn contains(&self, key: &str) -> bool {
        self.lock().entries.contains_key(key)
    }

    /// Moves the unschedulable pods that `event` may help to the active (or backoff) queue.
    pub fn on_event(&self, event: Events) {
        let mut s = self.lock();
        s.move_cycle += 1;
        let now = Instant::now();
        let keys: Vec<PodKey> = s
            .entries
            .iter()
            .filter(|(_, e)| e.place == Place::Unschedulable && e.helped_by.intersects(event))
            .map(|(k, _)| k.clone())
            .collect();
        if keys.is_empty() {
            return;
        }
        for key in &keys {
            s.requeue(key, now);
        }
        drop(s);
        self.notify.notify_one();
    }

    /// The next pod to schedule (and how many attempts it had), or `None` once closed.
    pub async fn pop(&self) -> Option<(PodKey, u32)> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let next_timer = {
                let mut s = self.lock();
                if s.closed {
                    return None;
                }
                let now = Instant::now();
                while let Some(Reverse((at, _, _))) = s.timers.peek() {
                    if *at > now {
                        break;
                    }
                    let Some(Reverse((_, _, key))) = s.timers.pop() else { break };
                    let place = s.entries.get(&key).map(|e| (e.place, e.backoff_until));
                    match place {
                        Some((Place::Backoff, until)) if until.is_none_or(|u| u <= now) => s.activate(&key),
                        Some((Place::Unschedulable, _)) => s.requeue(&key, now),
                        _ => {}
                    }
                }
                while let Some(ready) = s.active.pop() {
                    let cycle = s.move_cycle;
                    let Some(e) = s.entries.get_mut(&ready.key) else { continue };
                    if e.place != Place::Active || e.seq != ready.seq {
                        continue;
                    }
                    e.place = Place::InFlight { dirty: false };
                    e.popped_at = cycle;
                    let attempts = e.attempts;
                    let more = !s.active.is_empty();
                    drop(s);
                    if more {
                        self.notify.notify_one();
                    }
                    return Some((ready.key, attempts));
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

    /// The pod was scheduled (its binding may still be under way).
    pub fn done(&self, key: &str) {
        self.lock().entries.remove(key);
    }

    /// The pod did not fit: it waits for one of `helped_by` (or backs off, if such an event
    /// came while it was being scheduled or it changed meanwhile).
    pub fn unschedulable(&self, key: &PodKey, helped_by: Events) {
        self.fail(key, Some(helped_by));
    }

    /// An error unrelated to the cluster's state (an API call failed): try again after
    /// the backoff.
    pub fn backoff(&self, key: &PodKey) {
        self.fail(key, None);
    }

    fn fail(&self, key: &PodKey, helped_by: Option<Events>) {
        let mut s = self.lock();
        let now = Instant::now();
        let cycle = s.move_cycle;
        let Some(e) = s.entries.get_mut(key) else { return };
        e.attempts = e.attempts.saturating_add(1);
        let until = now + backoff(e.attempts);
        e.backoff_until = Some(until);
        let dirty = matches!(e.place, Place::InFlight { dirty: true });
        let moved = e.popped_at != cycle;
        match helped_by {
            Some(events) if !dirty && !moved => {
                e.place = Place::Unschedulable;
                e.helped_by = events;
                s.timer(key, now + MAX_UNSCHEDULABLE);
            }
            _ => {
                e.place = Place::Backoff;
                s.timer(key, until);
            }
        }
        drop(s);
        // The worker may sleep until a later timer.
        self.notify.notify_one();
    }

    /// Stops handing out pods.
    pub fn close(&self) {
        self.lock().closed = true;
        self.notify.notify_waiters();
    }

    /// Pods queued in any state (for logs and tests).
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> PodKey {
        s.into()
    }

    #[test]
    fn backoff_doubles_from_one_to_ten_seconds() {
        let secs: Vec<u64> = (1..=6).map(|a| backoff(a).as_secs()).collect();
        assert_eq!(secs, [1, 2, 4, 8, 10, 10]);
    }

    #[tokio::test(start_paused = true)]
    async fn higher_priority_first_then_fifo() {
        let q = Queue::default();
        q.add(key("a"), 0);
        q.add(key("b"), 10);
        q.add(key("c"), 0);
        assert_eq!(&*q.pop().await.unwrap().0, "b");
        assert_eq!(&*q.pop().await.unwrap().0, "a");
        assert_eq!(&*q.pop().await.unwrap().0, "c");
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_waits_for_a_helping_event_then_backs_off() {
        let q = Queue::default();
        q.add(key("a"), 0);
        let (k, _) = q.pop().await.unwrap();
        q.unschedulable(&k, Events::NODE);
        // An unrelated event does not move it.
        q.on_event(Events::VOLUME);
        let started = Instant::now();
        q.on_event(Events::NODE);
        let (k, attempts) = q.pop().await.unwrap();
        assert_eq!(attempts, 1);
        // The event came immediately, so the pod still waited out its 1 s backoff.
        assert!(started.elapsed() >= Duration::from_secs(1));
        q.done(&k);
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_event_while_in_flight_means_backoff_not_waiting() {
        let q = Queue::default();
        q.add(key("a"), 0);
        let (k, _) = q.pop().await.unwrap();
        q.on_event(Events::NODE);
        q.unschedulable(&k, Events::NODE);
        let started = Instant::now();
        let (_, attempts) = q.pop().await.unwrap();
        assert_eq!(attempts, 1);
        assert!(started.elapsed() >= Duration::from_secs(1) && started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn unschedulable_pods_are_retried_after_five_minutes_at_the_latest() {
        let q = Queue::default();
        q.add(key("a"), 0);
        let (k, _) = q.pop().await.unwrap();
        q.unschedulable(&k, Events::NODE);
        let started = Instant::now();
        q.pop().await.unwrap();
        assert!(started.elapsed() >= MAX_UNSCHEDULABLE);
    }
}
