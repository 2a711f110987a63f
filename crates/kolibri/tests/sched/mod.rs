//! Helpers of the scheduler's end-to-end tests: a real `kolibri server` (its scheduler
//! started), Node objects registered by the test (no agent runs: pods are only bound, never
//! run), pods from JSON, and bounded waits on the pods and their events.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, Node, Pod};
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::wait::await_condition;
use serde_json::{json, Value};

use crate::common::Server;

pub const WAIT: Duration = Duration::from_secs(30);

pub struct Cluster {
    pub server: Server,
    pub client: kube::Client,
}

impl Cluster {
    /// A server with its scheduler started (and its caches filled).
    pub async fn start() -> Cluster {
        Self::start_with(&[]).await
    }

    pub async fn start_with(extra: &[&str]) -> Cluster {
        let server = Server::start_with(extra);
        if !extra.contains(&"--disable-scheduler") {
            let t = Instant::now();
            while !server.server_log().contains("scheduler started") {
                assert!(t.elapsed() < WAIT, "the scheduler did not start; log:\n{}", server.server_log());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        let client = server.client().await;
        Cluster { server, client }
    }

    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), "default")
    }

    /// Registers a node: `cpu`, `memory` and 110 pods allocatable, plus `extra` merged into
    /// the Node object (labels, taints, more allocatable...).
    pub async fn node(&self, name: &str, cpu: &str, memory: &str, extra: Value) {
        let mut node = json!({
            "apiVersion": "v1", "kind": "Node",
            "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name } },
            "spec": {},
            "status": {
                "capacity": { "cpu": cpu, "memory": memory, "pods": "110" },
                "allocatable": { "cpu": cpu, "memory": memory, "pods": "110" },
                "conditions": [{ "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test node" }],
            },
        });
        merge(&mut node, &extra);
        let node: Node = serde_json::from_value(node).expect("node");
        Api::<Node>::all(self.client.clone()).create(&PostParams::default(), &node).await.expect("create node");
    }

    /// Creates a pod in `default`: one container `c` of image `busybox` with the given
    /// requests, plus `extra` merged in.
    pub async fn pod(&self, name: &str, requests: Value, extra: Value) -> Pod {
        let mut pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": { "name": name },
            "spec": { "containers": [{ "name": "c", "image": "busybox", "resources": { "requests": requests } }] },
        });
        merge(&mut pod, &extra);
        self.create_pod(pod).await.expect("create pod")
    }

    pub async fn create_pod(&self, pod: Value) -> Result<Pod, kube::Error> {
        let pod: Pod = serde_json::from_value(pod).expect("pod");
        self.pods().create(&PostParams::default(), &pod).await
    }

    /// Waits (watching the pod) until it is bound; returns its node.
    pub async fn bound(&self, name: &str) -> String {
        let cond = |p: Option<&Pod>| p.and_then(|p| p.spec.as_ref()).and_then(|s| s.node_name.as_ref()).is_some();
        let waited = tokio::time::timeout(WAIT, await_condition(self.pods(), name, cond)).await;
        match waited {
            Ok(Ok(Some(pod))) => pod.spec.and_then(|s| s.node_name).unwrap_or_default(),
            other => panic!(
                "pod {name} was not bound within {WAIT:?} ({other:?}); events: {:?}\nlog:\n{}",
                self.event_messages(name, "FailedScheduling").await,
                self.server.server_log()
            ),
        }
    }

    /// Messages of the pod's events with this reason, oldest first.
    pub async fn event_messages(&self, pod: &str, reason: &str) -> Vec<String> {
        let events: Api<Event> = Api::namespaced(self.client.clone(), "default");
        let mut list = events.list(&ListParams::default()).await.expect("list events").items;
        list.retain(|e| e.involved_object.name.as_deref() == Some(pod) && e.reason.as_deref() == Some(reason));
        list.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        list.into_iter().filter_map(|e| e.message).collect()
    }

    /// Waits (bounded polling by the test) for the pod's first event with this reason.
    pub async fn event(&self, pod: &str, reason: &str) -> String {
        let t = Instant::now();
        loop {
            if let Some(m) = self.event_messages(pod, reason).await.into_iter().next() {
                return m;
            }
            assert!(t.elapsed() < WAIT, "no {reason} event for {pod}; log:\n{}", self.server.server_log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits for the pod's `FailedScheduling` event and checks it is still unbound.
    pub async fn unschedulable(&self, pod: &str) -> String {
        let message = self.event(pod, "FailedScheduling").await;
        assert_eq!(self.node_of(pod).await, None, "{pod} is bound despite: {message}");
        message
    }

    /// Deletes a pod at once (grace period 0: no agent would ever confirm a graceful one).
    pub async fn delete_now(&self, pod: &str) {
        let params = kube::api::DeleteParams { grace_period_seconds: Some(0), ..Default::default() };
        self.pods().delete(pod, &params).await.expect("delete pod");
    }

    pub async fn node_of(&self, pod: &str) -> Option<String> {
        self.pods().get(pod).await.expect("get pod").spec.and_then(|s| s.node_name)
    }

    pub async fn apply<K>(&self, obj: Value) -> K
    where
        K: kube::Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
        K: kube::Resource<Scope = k8s_openapi::ClusterResourceScope>,
    {
        let obj: K = serde_json::from_value(obj).expect("object");
        Api::<K>::all(self.client.clone()).create(&PostParams::default(), &obj).await.expect("create")
    }
}

/// Merges `patch` into `doc` (objects key by key, everything else replaced).
pub fn merge(doc: &mut Value, patch: &Value) {
    match (doc, patch) {
        (Value::Object(d), Value::Object(p)) => {
            for (k, v) in p {
                merge(d.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (d, p) => *d = p.clone(),
    }
}
