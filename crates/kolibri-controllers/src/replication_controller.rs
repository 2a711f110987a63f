//! ReplicationControllers (upstream's replicationcontroller controller): the ReplicaSet
//! controller's code ([`crate::replicaset`]) with an equality-based selector.

use k8s_openapi::api::core::v1::{PodTemplateSpec, ReplicationController};
use kube::core::Selector;
use serde_json::Value;

use crate::replicaset::Replicated;
use crate::workloads;

pub const NAME: &str = "replicationcontroller";

impl Replicated for ReplicationController {
    const NAME: &'static str = NAME;
    const COMPONENT: &'static str = "replication-controller";

    fn desired(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1)
    }
    fn min_ready_seconds(&self) -> i32 {
        self.spec.as_ref().and_then(|s| s.min_ready_seconds).unwrap_or(0)
    }
    fn pod_selector(&self) -> Option<Selector> {
        workloads::map_selector(self.spec.as_ref()?.selector.as_ref()?)
    }
    fn pod_template(&self) -> Option<&PodTemplateSpec> {
        self.spec.as_ref()?.template.as_ref()
    }
    fn status_value(&self) -> Value {
        serde_json::to_value(&self.status).unwrap_or(Value::Null)
    }
}
