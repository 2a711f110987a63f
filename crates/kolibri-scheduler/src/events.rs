//! core/v1 Events about pods (`Scheduled`, `FailedScheduling`, `Preempted`), written by a
//! background task so that scheduling never waits for them. When the task falls behind
//! (more than `CAPACITY` events queued) new events are dropped, as upstream's broadcaster
//! does, rather than holding memory or slowing the scheduler.
//!
//! Repeats are aggregated as upstream's events.k8s.io recorder does
//! (`client-go/tools/events`): an event with the type, action, reason and pod of one
//! already written is not written again; the second occurrence patches the first with
//! `series: {count: 2, lastObservedTime}`, later ones only count, and the count is written
//! when the series ends (no occurrence for [`FINISH`]) or every [`REFRESH`] while it lasts.
//! The note (message) stays the first one's. A pod failing to schedule for an hour thus
//! writes a handful of requests, not one Event per attempt.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::{json, Value};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

const CAPACITY: usize = 4096;
const CONCURRENCY: usize = 16;
/// A series with no occurrence for this long is finished (upstream's `finishTime`); a
/// single event is forgotten after it too.
pub const FINISH: Duration = Duration::from_secs(6 * 60);
/// How often the count of a lasting series is written (upstream's `refreshTime`).
pub const REFRESH: Duration = Duration::from_secs(30 * 60);
/// Events remembered for aggregation at most; beyond, new ones are written unaggregated.
const MAX_REMEMBERED: usize = 16384;

/// One event to write.
#[derive(Debug)]
pub struct Record {
    pub namespace: String,
    pub pod: String,
    pub uid: String,
    pub warning: bool,
    pub reason: &'static str,
    pub action: &'static str,
    pub message: String,
}

/// Sends events to the writer task.
#[derive(Clone)]
pub struct Recorder {
    tx: mpsc::Sender<Record>,
}

static DROPPED: AtomicU64 = AtomicU64::new(0);

/// What makes two events the same (upstream's `eventKey`: type, action, reason, reporting
/// controller and instance, regarding object; the note is not part of it).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    warning: bool,
    reason: &'static str,
    action: &'static str,
    namespace: String,
    pod: String,
    uid: String,
}

/// An event written, remembered for aggregation.
#[derive(Debug)]
struct Remembered {
    /// The Event as created (its name, note and timestamps), the base of a re-creation.
    event: Value,
    written_at: Instant,
    series: Option<Series>,
}

#[derive(Debug)]
struct Series {
    count: i32,
    last_observed: Instant,
    /// `lastObservedTime` as written (MicroTime).
    last_observed_time: String,
    /// When the count was last written.
    written_at: Instant,
}

/// A write for the API.
#[derive(Debug, PartialEq)]
enum Write {
    Create(Value),
    /// Patch the series of an Event; re-create it (with the series) if it is gone.
    Series(Value),
}

/// The aggregation, apart from the API (tested on its own).
#[derive(Default)]
struct Aggregator {
    remembered: HashMap<Key, Remembered>,
    /// The earliest time a sweep has something to do (kept so that finding it does not
    /// walk every remembered event for each new one).
    due: Option<Instant>,
}

impl Aggregator {
    /// What to write for a new occurrence, if anything.
    fn observe(&mut self, key: Key, event: impl FnOnce() -> Value, now: Instant) -> Option<Write> {
        if let Some(r) = self.remembered.get_mut(&key) {
            let observed = micro_time();
            match &mut r.series {
                Some(s) => {
                    s.count = s.count.saturating_add(1);
                    s.last_observed = now;
                    s.last_observed_time = observed;
                    return None;
                }
                None => {
                    let series = Series { count: 2, last_observed: now, last_observed_time: observed, written_at: now };
                    let write = with_series(&r.event, &series);
                    r.series = Some(series);
                    return Some(Write::Series(write));
                }
            }
        }
        let event = event();
        if self.remembered.len() >= MAX_REMEMBERED {
            self.sweep(now);
        }
        if self.remembered.len() < MAX_REMEMBERED {
            self.remembered.insert(key, Remembered { event: event.clone(), written_at: now, series: None });
            self.due = Some(self.due.map_or(now + FINISH, |d| d.min(now + FINISH)));
        }
        Some(Write::Create(event))
    }

    /// Ends the series and forgets the single events older than [`FINISH`] (their final
    /// count written), and writes the count of series unwritten for [`REFRESH`].
    fn sweep(&mut self, now: Instant) -> Vec<Write> {
        let mut writes = Vec::new();
        self.remembered.retain(|_, r| match &mut r.series {
            Some(s) if now.duration_since(s.last_observed) >= FINISH => {
                writes.push(Write::Series(with_series(&r.event, s)));
                false
            }
            Some(s) => {
                if now.duration_since(s.written_at) >= REFRESH {
                    s.written_at = now;
                    writes.push(Write::Series(with_series(&r.event, s)));
                }
                true
            }
            None => now.duration_since(r.written_at) < FINISH,
        });
        self.due = self.compute_due();
        writes
    }

    /// When the next sweep has something to do, if anything is remembered. A series'
    /// occurrences only push its due time later, so the kept value is never too late.
    fn next_sweep(&self) -> Option<Instant> {
        self.due
    }

    fn compute_due(&self) -> Option<Instant> {
        self.remembered
            .values()
            .map(|r| match &r.series {
                Some(s) => (s.last_observed + FINISH).min(s.written_at + REFRESH),
                None => r.written_at + FINISH,
            })
            .min()
    }
}

/// The event with its series.
fn with_series(event: &Value, s: &Series) -> Value {
    let mut e = event.clone();
    e["series"] = json!({"count": s.count, "lastObservedTime": s.last_observed_time});
    e
}

/// Now as a MicroTime (RFC 3339 with microseconds).
fn micro_time() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.%6fZ").to_string()
}

impl Recorder {
    /// The recorder and the writer task, which ends when every recorder is dropped.
    pub fn new(client: Client, component: String) -> (Recorder, impl std::future::Future<Output = ()>) {
        let (tx, mut rx) = mpsc::channel::<Record>(CAPACITY);
        let instance = format!(
            "{component}-{}",
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
        );
        let writer = async move {
            let mut aggregator = Aggregator::default();
            let permits = Arc::new(Semaphore::new(CONCURRENCY));
            loop {
                // Nothing remembered, nothing to wake up for.
                let next = aggregator.next_sweep();
                let writes = tokio::select! {
                    record = rx.recv() => {
                        let Some(r) = record else { break };
                        let key = Key {
                            warning: r.warning,
                            reason: r.reason,
                            action: r.action,
                            namespace: r.namespace.clone(),
                            pod: r.pod.clone(),
                            uid: r.uid.clone(),
                        };
                        if r.warning {
                            aggregator.observe(key, || event(&component, &instance, &r), Instant::now()).into_iter().collect()
                        } else {
                            // A pod is bound or preempted once: nothing to aggregate or remember.
                            vec![Write::Create(event(&component, &instance, &r))]
                        }
                    }
                    _ = sleep_until(next), if next.is_some() => aggregator.sweep(Instant::now()),
                };
                for write in writes {
                    let Ok(permit) = permits.clone().acquire_owned().await else { break };
                    let client = client.clone();
                    tokio::spawn(async move {
                        apply(client, write).await;
                        drop(permit);
                    });
                }
            }
        };
        (Recorder { tx }, writer)
    }

    pub fn record(&self, record: Record) {
        if self.tx.try_send(record).is_err() {
            let n = DROPPED.fetch_add(1, Ordering::Relaxed);
            if n == 0 || (n + 1).is_power_of_two() {
                tracing::warn!(dropped = n + 1, "events are written slower than they happen; dropping some");
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    if let Some(at) = at {
        tokio::time::sleep_until(at).await;
    }
}

/// The Event of a record (as upstream's recorder names it: the pod's name and a
/// hexadecimal timestamp).
fn event(component: &str, instance: &str, r: &Record) -> Value {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let stamp = crate::now_rfc3339();
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": format!("{}.{:x}", r.pod, now.as_nanos()), "namespace": r.namespace },
        "involvedObject": { "apiVersion": "v1", "kind": "Pod", "namespace": r.namespace, "name": r.pod, "uid": r.uid },
        "reason": r.reason,
        "message": r.message,
        "type": if r.warning { "Warning" } else { "Normal" },
        "source": { "component": component },
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
        "action": r.action,
        "reportingComponent": component,
        "reportingInstance": instance,
    })
}

async fn apply(client: Client, write: Write) {
    let (event, series) = match write {
        Write::Create(e) => (e, false),
        Write::Series(e) => (e, true),
    };
    let namespace = event.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default().to_string();
    let name = event.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let api: Api<Event> = Api::namespaced(client, &namespace);
    if series {
        let patch = json!({"series": event.get("series")});
        // A second occurrence right after the first may find its create still under way.
        for attempt in 0..2 {
            match api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await {
                Ok(_) => return,
                Err(kube::Error::Api(e)) if e.code == 404 && attempt == 0 => {
                    tokio::time::sleep(Duration::from_millis(200)).await
                }
                Err(kube::Error::Api(e)) if e.code == 404 => break,
                Err(e) => return tracing::debug!(error = %e, event = %name, "could not update an event series"),
            }
        }
    }
    // New, or a series whose Event is gone: (re-)created whole.
    let event: Event = match serde_json::from_value(event) {
        Ok(e) => e,
        Err(e) => return tracing::warn!(error = %e, "could not build an event"),
    };
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        tracing::debug!(error = %e, event = %name, "could not write an event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(pod: &str, reason: &'static str) -> Key {
        Key {
            warning: true,
            reason,
            action: "Scheduling",
            namespace: "default".into(),
            pod: pod.into(),
            uid: format!("uid-{pod}"),
        }
    }

    fn ev(note: &str) -> Value {
        json!({"metadata": {"name": "p.1", "namespace": "default"}, "message": note})
    }

    fn series_count(w: &Write) -> Option<i64> {
        match w {
            Write::Series(e) => e.pointer("/series/count").and_then(Value::as_i64),
            Write::Create(_) => None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn repeats_become_a_series_written_twice_then_at_its_end() {
        let mut a = Aggregator::default();
        let t0 = Instant::now();
        assert_eq!(a.next_sweep(), None);
        assert_eq!(a.observe(key("p", "FailedScheduling"), || ev("first"), t0), Some(Write::Create(ev("first"))));
        // The second occurrence patches the first event (its note kept); later ones count.
        let second = a.observe(key("p", "FailedScheduling"), || ev("second"), t0).expect("a write");
        assert_eq!(series_count(&second), Some(2));
        assert!(matches!(&second, Write::Series(e) if e["message"] == "first"));
        for _ in 0..5 {
            assert_eq!(a.observe(key("p", "FailedScheduling"), || ev("again"), t0 + Duration::from_secs(60)), None);
        }
        // Another reason or pod is another event.
        assert!(matches!(a.observe(key("p", "Scheduled"), || ev("ok"), t0), Some(Write::Create(_))));
        assert!(matches!(a.observe(key("q", "FailedScheduling"), || ev("q"), t0), Some(Write::Create(_))));
        assert!(a.sweep(t0 + Duration::from_secs(120)).is_empty());
        // Six minutes after the last occurrence: the final count, and everything forgotten.
        let end = a.sweep(t0 + Duration::from_secs(60) + FINISH);
        assert_eq!(end.iter().map(series_count).collect::<Vec<_>>(), [Some(7)]);
        assert!(a.remembered.is_empty());
        assert_eq!(a.next_sweep(), None);
    }

    #[test]
    fn micro_times_have_microseconds() {
        let t = micro_time();
        assert_eq!(t.len(), "2024-01-01T00:00:00.000000Z".len(), "{t}");
        assert!(t.parse::<k8s_openapi::jiff::Timestamp>().is_ok(), "{t}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_lasting_series_is_refreshed() {
        let mut a = Aggregator::default();
        let t0 = Instant::now();
        a.observe(key("p", "FailedScheduling"), || ev("n"), t0);
        a.observe(key("p", "FailedScheduling"), || ev("n"), t0);
        let mut t = t0;
        let mut refreshed = 0;
        while t < t0 + REFRESH + Duration::from_secs(60) {
            t += Duration::from_secs(60);
            a.observe(key("p", "FailedScheduling"), || ev("n"), t);
            refreshed += a.sweep(t).len();
        }
        assert_eq!(refreshed, 1);
        assert_eq!(a.remembered.len(), 1);
    }
}
