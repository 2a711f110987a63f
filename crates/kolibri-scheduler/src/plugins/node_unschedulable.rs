//! NodeUnschedulable: a cordoned node (`spec.unschedulable`) takes only pods that tolerate
//! the `node.kubernetes.io/unschedulable:NoSchedule` taint.

use k8s_openapi::api::core::v1::Taint;

use crate::cache::{NodeInfo, PodInfo};
use crate::framework::Failure;
use crate::queue::Events;

pub const REASON: &str = "node(s) were unschedulable";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
    if !node.unschedulable {
        return Ok(());
    }
    let taint =
        Taint { key: "node.kubernetes.io/unschedulable".into(), effect: "NoSchedule".into(), ..Default::default() };
    if crate::selectors::tolerated(&pod.tolerations, &taint) {
        return Ok(());
    }
    Err(Failure::unresolvable(REASON, Events::NODE))
}
