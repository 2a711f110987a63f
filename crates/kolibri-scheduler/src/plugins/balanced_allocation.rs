//! NodeResourcesBalancedAllocation: nodes whose CPU and memory would be used in similar
//! fractions after placing the pod score higher (1 − standard deviation of the fractions).

use crate::cache::{NodeInfo, PodInfo};
use crate::framework::MAX_NODE_SCORE;

fn fraction(requested: i64, capacity: i64) -> f64 {
    if capacity <= 0 {
        return 1.0;
    }
    (requested as f64 / capacity as f64).min(1.0)
}

pub fn score(pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    let want = &pod.requests.requests;
    nodes
        .iter()
        .map(|n| {
            let cpu = fraction(n.requested.milli_cpu + want.milli_cpu, n.allocatable.milli_cpu);
            let mem = fraction(n.requested.memory + want.memory, n.allocatable.memory);
            // The standard deviation of two values is half their distance.
            let std = (cpu - mem).abs() / 2.0;
            ((1.0 - std) * MAX_NODE_SCORE as f64) as i64
        })
        .collect()
}
