//! NodeName: a pod that names its node fits only there. (Such pods are normally bound by
//! their creator and never reach the queue; the filter keeps the rule complete.)

use crate::cache::{NodeInfo, PodInfo};
use crate::framework::Failure;
use crate::queue::Events;

pub const REASON: &str = "node(s) didn't match the requested node name";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
    match &pod.node_name {
        Some(name) if **name != *node.name => Err(Failure::unresolvable(REASON, Events::NODE)),
        _ => Ok(()),
    }
}
