//! NodePorts: the host ports a pod asks for must be free on the node.

use crate::cache::{NodeInfo, PodInfo};
use crate::framework::Failure;
use crate::queue::Events;

pub const REASON: &str = "node(s) didn't have free ports for the requested pod ports";

pub fn filter(pod: &PodInfo, node: &NodeInfo) -> Result<(), Failure> {
    if pod.host_ports.is_empty() {
        return Ok(());
    }
    let conflict = node
        .pods
        .iter()
        .flat_map(|p| p.host_ports.iter())
        .any(|used| pod.host_ports.iter().any(|want| want.conflicts(used)));
    if conflict {
        Err(Failure::unschedulable(REASON, Events::NODE.with(Events::POD_DELETED)))
    } else {
        Ok(())
    }
}
