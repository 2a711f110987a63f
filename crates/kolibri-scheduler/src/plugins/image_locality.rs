//! ImageLocality: nodes that already have the pod's images score higher, by image size
//! scaled by how many nodes have the image (so one node holding it does not attract every
//! pod), between 23 MB and 1000 MB per container.

use crate::cache::{Cache, NodeInfo, PodInfo};
use crate::framework::MAX_NODE_SCORE;

const MB: i64 = 1024 * 1024;
const MIN_THRESHOLD: i64 = 23 * MB;
const MAX_CONTAINER_THRESHOLD: i64 = 1000 * MB;

pub fn score(cache: &Cache, pod: &PodInfo, nodes: &[&NodeInfo]) -> Vec<i64> {
    let total = cache.node_count().max(1) as f64;
    let max_threshold = MAX_CONTAINER_THRESHOLD * pod.images.len().max(1) as i64;
    nodes
        .iter()
        .map(|n| {
            let sum: i64 = pod
                .images
                .iter()
                .filter_map(|image| {
                    let size = n.image_size(image)?;
                    let spread = f64::from(cache.image_node_count(image)) / total;
                    Some((size as f64 * spread) as i64)
                })
                .sum();
            let clamped = sum.clamp(MIN_THRESHOLD, max_threshold);
            MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) / (max_threshold - MIN_THRESHOLD)
        })
        .collect()
}
