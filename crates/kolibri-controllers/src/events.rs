//! Events (core/v1, as upstream's event recorder writes them, so `kubectl describe` and
//! `kubectl events` show them). Recording never blocks a controller: each event is written
//! by a task of its own, and failures are only logged.
//!
//! Like upstream's spam filter, each object may record a burst of 25 events, refilled at one
//! per five minutes: a ReplicaSet of 1,000 replicas does not write 1,000 events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, Resource, ResourceExt};
use tokio::time::Instant;

const BURST: f64 = 25.0;
const REFILL: Duration = Duration::from_secs(300);
/// Buckets are forgotten once full again, so the map holds only recently noisy objects.
const MAX_BUCKETS: usize = 4096;

pub(crate) const NORMAL: &str = "Normal";
pub(crate) const WARNING: &str = "Warning";

/// Records events as one component (`source.component`, `reportingComponent`).
#[derive(Clone)]
pub(crate) struct Recorder {
    client: Client,
    component: &'static str,
    buckets: Arc<Mutex<HashMap<String, (f64, Instant)>>>,
}

impl Recorder {
    pub(crate) fn new(client: Client, component: &'static str) -> Self {
        Self { client, component, buckets: Arc::default() }
    }

    /// Records an event about `obj` (of type [`NORMAL`] or [`WARNING`]).
    pub(crate) fn record<K>(&self, obj: &K, type_: &str, reason: &str, message: String)
    where
        K: Resource<DynamicType = ()>,
    {
        let uid = obj.uid().unwrap_or_default();
        if !self.allow(&uid) {
            tracing::debug!(component = self.component, reason, %message, "event dropped by the spam filter");
            return;
        }
        let now = Timestamp::now();
        let namespace = obj.namespace().unwrap_or_else(|| "default".into());
        let name = obj.name_any();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace.clone()),
                ..Default::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(name),
                namespace: obj.namespace(),
                uid: obj.uid(),
                resource_version: obj.resource_version(),
                ..Default::default()
            },
            reason: Some(reason.into()),
            message: Some(message),
            type_: Some(type_.into()),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            event_time: None::<MicroTime>,
            source: Some(EventSource { component: Some(self.component.into()), host: None }),
            reporting_component: Some(self.component.into()),
            reporting_instance: Some(self.component.into()),
            ..Default::default()
        };
        let api: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        let component = self.component;
        tokio::spawn(async move {
            if let Err(e) = api.create(&PostParams::default(), &event).await {
                // A terminating namespace refuses new events; nothing to do about it.
                if !crate::namespace_terminating(&e) {
                    tracing::debug!(component, error = %e, "could not record an event");
                }
            }
        });
    }

    /// Takes a token of the object's bucket.
    fn allow(&self, uid: &str) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let refill = |(tokens, at): (f64, Instant)| {
            (tokens + now.duration_since(at).as_secs_f64() / REFILL.as_secs_f64()).min(BURST)
        };
        if buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| refill(*b) < BURST);
        }
        let bucket = buckets.entry(uid.to_string()).or_insert((BURST, now));
        let tokens = refill(*bucket);
        if tokens < 1.0 {
            *bucket = (tokens, now);
            return false;
        }
        *bucket = (tokens - 1.0, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_spam_filter_allows_a_burst_then_one_per_five_minutes() {
        let client = Client::try_from(kube::Config::new("http://127.0.0.1:1".parse().unwrap())).unwrap();
        let r = Recorder::new(client, "test");
        let allowed = (0..40).filter(|_| r.allow("u")).count();
        assert_eq!(allowed, 25);
        assert!(r.allow("other"));
        tokio::time::advance(Duration::from_secs(301)).await;
        assert!(r.allow("u"));
        assert!(!r.allow("u"));
    }
}
