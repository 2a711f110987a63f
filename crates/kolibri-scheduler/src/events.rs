//! core/v1 Events about pods (`Scheduled`, `FailedScheduling`, `Preempted`), written by a
//! background task so that scheduling never waits for them. When the task falls behind
//! (more than `CAPACITY` events queued) new events are dropped, as upstream's broadcaster
//! does, rather than holding memory or slowing the scheduler.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, PostParams};
use kube::Client;
use serde_json::json;
use tokio::sync::mpsc;

const CAPACITY: usize = 4096;
const CONCURRENCY: usize = 16;

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

impl Recorder {
    /// The recorder and the writer task, which ends when every recorder is dropped.
    pub fn new(client: Client, component: String) -> (Recorder, impl std::future::Future<Output = ()>) {
        let (tx, rx) = mpsc::channel::<Record>(CAPACITY);
        let instance = format!(
            "{component}-{}",
            std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
        );
        let writer = async move {
            let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|r| (r, rx)) });
            stream
                .for_each_concurrent(CONCURRENCY, |record| {
                    let client = client.clone();
                    let (component, instance) = (component.clone(), instance.clone());
                    async move { write(client, &component, &instance, record).await }
                })
                .await;
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

async fn write(client: Client, component: &str, instance: &str, r: Record) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let stamp = crate::now_rfc3339();
    let event = json!({
        "apiVersion": "v1",
        "kind": "Event",
        // Upstream's naming: the object's name and a hexadecimal timestamp.
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
    });
    let event: Event = match serde_json::from_value(event) {
        Ok(e) => e,
        Err(e) => return tracing::warn!(error = %e, "could not build an event"),
    };
    let api: Api<Event> = Api::namespaced(client, &r.namespace);
    if let Err(e) = api.create(&PostParams::default(), &event).await {
        tracing::debug!(error = %e, reason = r.reason, pod = %r.pod, "could not write an event");
    }
}
