//! Resource amounts of nodes and pods, and a pod's requests computed as upstream's
//! `PodRequests`: the larger of the init containers (each with the sidecars started before
//! it) and the sum of the containers and sidecars, plus the pod overhead.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::quantity::{parse_milli, parse_value, QuantityError};

/// CPU assumed for a container without a CPU request when scoring (upstream's 0.1 core).
pub const DEFAULT_MILLI_CPU: i64 = 100;
/// Memory assumed for a container without a memory request when scoring (200 MB).
pub const DEFAULT_MEMORY: i64 = 200 * 1024 * 1024;

pub const CPU: &str = "cpu";
pub const MEMORY: &str = "memory";
pub const EPHEMERAL_STORAGE: &str = "ephemeral-storage";
pub const PODS: &str = "pods";

/// Amounts of resources: CPU in milli-cores, the rest in units. Extended resources
/// (`example.com/gpu`, `hugepages-2Mi`) are kept in a short sorted list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub milli_cpu: i64,
    pub memory: i64,
    pub ephemeral_storage: i64,
    pub pods: i64,
    pub scalar: Vec<(Box<str>, i64)>,
}

impl Resources {
    /// Reads a `requests`/`allocatable` map. `pods` only counts on nodes.
    pub fn from_map(map: &BTreeMap<String, Quantity>) -> Result<Resources, QuantityError> {
        let mut r = Resources::default();
        for (name, q) in map {
            match name.as_str() {
                CPU => r.milli_cpu = parse_milli(&q.0)?,
                MEMORY => r.memory = parse_value(&q.0)?,
                EPHEMERAL_STORAGE => r.ephemeral_storage = parse_value(&q.0)?,
                PODS => r.pods = parse_value(&q.0)?,
                other => r.set_scalar(other, parse_value(&q.0)?),
            }
        }
        Ok(r)
    }

    pub fn scalar(&self, name: &str) -> i64 {
        self.scalar.iter().find(|(n, _)| &**n == name).map_or(0, |(_, v)| *v)
    }

    fn set_scalar(&mut self, name: &str, value: i64) {
        match self.scalar.binary_search_by(|(n, _)| (**n).cmp(name)) {
            Ok(i) => self.scalar[i].1 = value,
            Err(i) => self.scalar.insert(i, (name.into(), value)),
        }
    }

    fn combine(&mut self, other: &Resources, f: impl Fn(i64, i64) -> i64) {
        self.milli_cpu = f(self.milli_cpu, other.milli_cpu);
        self.memory = f(self.memory, other.memory);
        self.ephemeral_storage = f(self.ephemeral_storage, other.ephemeral_storage);
        self.pods = f(self.pods, other.pods);
        for (name, v) in &other.scalar {
            let mine = self.scalar(name);
            self.set_scalar(name, f(mine, *v));
        }
    }

    pub fn add(&mut self, other: &Resources) {
        self.combine(other, i64::saturating_add);
    }

    pub fn sub(&mut self, other: &Resources) {
        self.combine(other, i64::saturating_sub);
    }

    pub fn max(&mut self, other: &Resources) {
        self.combine(other, i64::max);
    }

    /// Whether nothing is requested (upstream skips the fit check of such a pod except for
    /// the pod count).
    pub fn is_zero(&self) -> bool {
        self.milli_cpu == 0
            && self.memory == 0
            && self.ephemeral_storage == 0
            && self.scalar.iter().all(|(_, v)| *v == 0)
    }
}

/// What a pod asks for: its requests, and the CPU/memory used for scoring (with the
/// defaults for containers that request nothing).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PodRequests {
    pub requests: Resources,
    pub non_zero_milli_cpu: i64,
    pub non_zero_memory: i64,
}

fn container_requests(c: &Container) -> Result<(Resources, Resources), QuantityError> {
    let empty = BTreeMap::new();
    let map = c.resources.as_ref().and_then(|r| r.requests.as_ref()).unwrap_or(&empty);
    let r = Resources::from_map(map)?;
    let non_zero = Resources {
        milli_cpu: if map.contains_key(CPU) { r.milli_cpu } else { DEFAULT_MILLI_CPU },
        memory: if map.contains_key(MEMORY) { r.memory } else { DEFAULT_MEMORY },
        ..Default::default()
    };
    Ok((r, non_zero))
}

/// The requests of a pod, as upstream computes them for scheduling.
pub fn pod_requests(spec: &PodSpec) -> Result<PodRequests, QuantityError> {
    let mut sum = Resources::default();
    let mut sum_nz = Resources::default();
    for c in &spec.containers {
        let (r, nz) = container_requests(c)?;
        sum.add(&r);
        sum_nz.add(&nz);
    }
    let mut sidecars = Resources::default();
    let mut sidecars_nz = Resources::default();
    let mut init_max = Resources::default();
    let mut init_max_nz = Resources::default();
    for c in spec.init_containers.iter().flatten() {
        let (r, nz) = container_requests(c)?;
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars.add(&r);
            sidecars_nz.add(&nz);
            init_max.max(&sidecars);
            init_max_nz.max(&sidecars_nz);
        } else {
            let mut with = r;
            with.add(&sidecars);
            let mut with_nz = nz;
            with_nz.add(&sidecars_nz);
            init_max.max(&with);
            init_max_nz.max(&with_nz);
        }
    }
    sum.add(&sidecars);
    sum_nz.add(&sidecars_nz);
    sum.max(&init_max);
    sum_nz.max(&init_max_nz);
    if let Some(overhead) = &spec.overhead {
        let o = Resources::from_map(overhead)?;
        sum.add(&o);
        sum_nz.milli_cpu += o.milli_cpu;
        sum_nz.memory += o.memory;
    }
    Ok(PodRequests { non_zero_milli_cpu: sum_nz.milli_cpu, non_zero_memory: sum_nz.memory, requests: sum })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> PodSpec {
        serde_json::from_value(json).expect("pod spec")
    }

    #[test]
    fn init_containers_take_the_max_and_sidecars_add() {
        let s = spec(serde_json::json!({
            "initContainers": [
                {"name": "i1", "resources": {"requests": {"cpu": "2"}}},
                {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
            ],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "300m", "example.com/gpu": "1"}}},
                {"name": "b"},
            ],
            "overhead": {"cpu": "10m"},
        }));
        let r = pod_requests(&s).expect("requests");
        assert_eq!(r.requests.milli_cpu, 2010);
        assert_eq!(r.requests.memory, 1 << 30);
        assert_eq!(r.requests.scalar("example.com/gpu"), 1);
        // b requests nothing: 100m and 200 MB for scoring, plus the sidecar.
        assert_eq!(r.non_zero_milli_cpu, 2010);
        assert_eq!(r.non_zero_memory, (1 << 30) + DEFAULT_MEMORY + DEFAULT_MEMORY);
    }

    #[test]
    fn malformed_quantity_is_an_error() {
        let s = spec(serde_json::json!({"containers": [{"name": "a", "resources": {"requests": {"cpu": "lots"}}}]}));
        assert!(pod_requests(&s).is_err());
    }
}
