//! NodeResourcesFit: the pod's requests (CPU, memory, ephemeral storage, extended resources
//! and one pod slot) must fit in what the node has left (filter); the least allocated node
//! scores highest (score, CPU and memory weighted 1:1).

use crate::cache::{NodeInfo, PodInfo};
use crate::framework::{Cycle, Failure, MAX_NODE_SCORE};
use crate::queue::Events;
use crate::resources::Resources;

pub fn filter(cycle: &Cycle, node: &NodeInfo) -> Result<(), Failure> {
    let pod = cycle.pod;
    let extra = cycle.nominated.get(&*node.name);
    let mut requested = node.requested.clone();
    if let Some(extra) = extra {
        requested.add(extra);
    }
    fits(pod, &node.allocatable, &requested)
}

/// Upstream's `fitsRequest`: every insufficient resource is a reason.
pub fn fits(pod: &PodInfo, allocatable: &Resources, requested: &Resources) -> Result<(), Failure> {
    let mut reasons = Vec::new();
    if requested.pods + 1 > allocatable.pods {
        reasons.push("Too many pods".to_string());
    }
    let want = &pod.requests.requests;
    if !want.is_zero() {
        if want.milli_cpu > 0 && want.milli_cpu > allocatable.milli_cpu - requested.milli_cpu {
            reasons.push("Insufficient cpu".to_string());
        }
        if want.memory > 0 && want.memory > allocatable.memory - requested.memory {
            reasons.push("Insufficient memory".to_string());
        }
        if want.ephemeral_storage > 0
            && want.ephemeral_storage > allocatable.ephemeral_storage - requested.ephemeral_storage
        {
            reasons.push("Insufficient ephemeral-storage".to_string());
        }
        for (name, amount) in &want.scalar {
            if *amount > 0 && *amount > allocatable.scalar(name) - requested.scalar(name) {
                reasons.push(format!("Insufficient {name}"));
            }
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Failure { unresolvable: false, reasons, helped_by: Events::NODE.with(Events::POD_DELETED) })
    }
}

fn least_allocated(requested: i64, capacity: i64) -> i64 {
    if capacity == 0 || requested > capacity {
        return 0;
    }
    (capacity - requested) * MAX_NODE_SCORE / capacity
}

/// LeastAllocated over CPU and memory, with the defaults for containers without requests.
pub fn score(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    nodes
        .iter()
        .map(|n| {
            let cpu = least_allocated(n.non_zero_milli_cpu + pod.requests.non_zero_milli_cpu, n.allocatable.milli_cpu);
            let mem = least_allocated(n.non_zero_memory + pod.requests.non_zero_memory, n.allocatable.memory);
            (cpu + mem) / 2
        })
        .collect()
}
