//! Service virtual IPs and NodePorts, as upstream's `ipallocator` and `portallocator`.
//!
//! The set of taken addresses lives in memory, seeded from the stored Services at start,
//! so allocation is O(1) and two concurrent creates never get the same address.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::sync::Mutex;

use kolibri_resources::{FieldError, FieldErrorType, ResourceDef};
use rand::Rng;
use serde_json::{json, Value};

use crate::ApiServer;

#[derive(Default)]
struct Taken {
    ips: HashSet<u32>,
    ports: HashSet<u16>,
}

pub struct Allocator {
    base: u32,
    size: u32,
    ports: (u16, u16),
    taken: Mutex<Taken>,
}

/// What one admitted object took; given back if the object is not stored.
#[derive(Default, Debug)]
pub struct Allocation {
    ips: Vec<u32>,
    ports: Vec<u16>,
}

impl Allocator {
    pub fn new(cidr: (Ipv4Addr, u8), ports: (u16, u16)) -> Self {
        let prefix = cidr.1.min(32);
        let size = if prefix == 0 { u32::MAX } else { 1u32 << (32 - prefix) };
        Self { base: u32::from(cidr.0), size, ports, taken: Mutex::new(Taken::default()) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Taken> {
        self.taken.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn in_range(&self, ip: u32) -> bool {
        // The network address and the broadcast address are never handed out.
        ip > self.base && ip < self.base.wrapping_add(self.size - 1)
    }

    /// Marks the addresses of a stored Service as taken.
    pub fn seed(&self, service: &Value) {
        let mut taken = self.lock();
        for ip in cluster_ips(service) {
            if let Ok(ip) = ip.parse::<Ipv4Addr>() {
                taken.ips.insert(u32::from(ip));
            }
        }
        for port in node_ports(service) {
            taken.ports.insert(port);
        }
    }

    pub fn release(&self, allocation: Allocation) {
        let mut taken = self.lock();
        for ip in allocation.ips {
            taken.ips.remove(&ip);
        }
        for port in allocation.ports {
            taken.ports.remove(&port);
        }
    }

    /// Node ports for an updated Service (upstream's `allocateUpdate`): a Service that
    /// turned NodePort or LoadBalancer, or gained ports, gets ports as on create; ports
    /// the old object held stay its own. Returns what was newly taken, to give back if the
    /// write does not happen; what the old object held and the new one does not is given
    /// back by [`Allocator::release_dropped`] once the write succeeded.
    pub(crate) fn allocate_update(&self, svc: &mut Value, old: &Value) -> Result<Allocation, Vec<FieldError>> {
        let mut allocation = Allocation::default();
        let spec_type = svc.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP");
        let wants_ports = matches!(spec_type, "NodePort" | "LoadBalancer")
            && svc.pointer("/spec/allocateLoadBalancerNodePorts").and_then(Value::as_bool) != Some(false);
        if !wants_ports {
            return Ok(allocation);
        }
        let held = node_ports(old);
        let mut taken = self.lock();
        let mut errors = Vec::new();
        self.take_node_ports(&mut taken, svc, &held, &mut allocation, &mut errors);
        drop(taken);
        if errors.is_empty() {
            Ok(allocation)
        } else {
            self.release(allocation);
            Err(errors)
        }
    }

    /// Gives back the node ports `old` held that `new` no longer has (after the update
    /// that dropped them was stored).
    pub(crate) fn release_dropped(&self, new: &Value, old: &Value) {
        let kept = node_ports(new);
        let ports = node_ports(old).into_iter().filter(|p| !kept.contains(p)).collect();
        self.release(Allocation { ips: Vec::new(), ports });
    }

    /// Gives a new Service its ClusterIP and NodePorts.
    pub(crate) fn allocate(&self, svc: &mut Value) -> Result<Allocation, Vec<FieldError>> {
        let mut taken = self.lock();
        let mut allocation = Allocation::default();
        let mut errors = Vec::new();
        let spec_type = svc.pointer("/spec/type").and_then(Value::as_str).unwrap_or("ClusterIP").to_string();
        let requested = svc.pointer("/spec/clusterIP").and_then(Value::as_str).unwrap_or_default().to_string();
        if spec_type != "ExternalName" && requested != "None" {
            if requested.is_empty() {
                match self.free_ip(&taken) {
                    Some(ip) => {
                        taken.ips.insert(ip);
                        allocation.ips.push(ip);
                        let ip = Ipv4Addr::from(ip).to_string();
                        svc["spec"]["clusterIP"] = json!(ip);
                        svc["spec"]["clusterIPs"] = json!([ip]);
                    }
                    None => errors.push(invalid_ips(&requested, "range is full")),
                }
            } else {
                match requested.parse::<Ipv4Addr>().map(u32::from) {
                    Err(_) => errors.push(invalid_ips(&requested, "must be a valid IP address")),
                    Ok(ip) if !self.in_range(ip) => errors.push(invalid_ips(
                        &requested,
                        &format!(
                            "failed to allocate IP {requested}: the provided IP ({requested}) is not in the valid range. The range of valid IPs is {}/{}",
                            Ipv4Addr::from(self.base),
                            32 - self.size.trailing_zeros()
                        ),
                    )),
                    Ok(ip) if taken.ips.contains(&ip) => errors.push(invalid_ips(
                        &requested,
                        &format!("failed to allocate IP {requested}: provided IP is already allocated"),
                    )),
                    Ok(ip) => {
                        taken.ips.insert(ip);
                        allocation.ips.push(ip);
                        svc["spec"]["clusterIPs"] = json!([requested]);
                    }
                }
            }
            if errors.is_empty() {
                if svc.pointer("/spec/ipFamilies").is_none() {
                    svc["spec"]["ipFamilies"] = json!(["IPv4"]);
                }
                if svc.pointer("/spec/ipFamilyPolicy").is_none() {
                    svc["spec"]["ipFamilyPolicy"] = json!("SingleStack");
                }
            }
        }
        if matches!(spec_type.as_str(), "NodePort" | "LoadBalancer") {
            self.take_node_ports(&mut taken, svc, &[], &mut allocation, &mut errors);
        }
        if errors.is_empty() {
            Ok(allocation)
        } else {
            drop(taken);
            self.release(allocation);
            Err(errors)
        }
    }

    /// Gives each port of `svc` without a node port a free one, and takes the ones asked
    /// for (those in `held` are the Service's already).
    fn take_node_ports(
        &self,
        taken: &mut Taken,
        svc: &mut Value,
        held: &[u16],
        allocation: &mut Allocation,
        errors: &mut Vec<FieldError>,
    ) {
        let count = svc.pointer("/spec/ports").and_then(Value::as_array).map_or(0, Vec::len);
        for i in 0..count {
            let wanted = svc["spec"]["ports"][i].get("nodePort").and_then(Value::as_i64).unwrap_or(0);
            if wanted == 0 {
                match self.free_port(taken) {
                    Some(p) => {
                        taken.ports.insert(p);
                        allocation.ports.push(p);
                        svc["spec"]["ports"][i]["nodePort"] = json!(p);
                    }
                    None => errors.push(invalid_port(i, wanted, "range is full")),
                }
            } else if u16::try_from(wanted).is_ok_and(|p| held.contains(&p) || allocation.ports.contains(&p)) {
                // Already this Service's.
            } else if wanted < self.ports.0 as i64 || wanted > self.ports.1 as i64 {
                errors.push(invalid_port(
                    i,
                    wanted,
                    &format!(
                        "provided port is not in the valid range. The range of valid ports is {}-{}",
                        self.ports.0, self.ports.1
                    ),
                ));
            } else if taken.ports.contains(&(wanted as u16)) {
                errors.push(invalid_port(i, wanted, "provided port is already allocated"));
            } else {
                taken.ports.insert(wanted as u16);
                allocation.ports.push(wanted as u16);
            }
        }
    }

    fn free_ip(&self, taken: &Taken) -> Option<u32> {
        let usable = self.size.saturating_sub(2);
        if usable == 0 {
            return None;
        }
        let start = rand::thread_rng().gen_range(0..usable);
        (0..usable).map(|i| self.base + 1 + (start + i) % usable).find(|ip| !taken.ips.contains(ip))
    }

    fn free_port(&self, taken: &Taken) -> Option<u16> {
        let span = (self.ports.1 - self.ports.0) as u32 + 1;
        let start = rand::thread_rng().gen_range(0..span);
        (0..span).map(|i| self.ports.0 + ((start + i) % span) as u16).find(|p| !taken.ports.contains(p))
    }
}

fn invalid_ips(requested: &str, why: &str) -> FieldError {
    FieldError {
        error_type: FieldErrorType::Invalid,
        field: "spec.clusterIPs".into(),
        message: format!("spec.clusterIPs: Invalid value: []string{{\"{requested}\"}}: {why}"),
    }
}

fn invalid_port(i: usize, port: i64, why: &str) -> FieldError {
    FieldError {
        error_type: FieldErrorType::Invalid,
        field: format!("spec.ports[{i}].nodePort"),
        message: format!("spec.ports[{i}].nodePort: Invalid value: {port}: {why}"),
    }
}

fn cluster_ips(svc: &Value) -> Vec<String> {
    let mut ips: Vec<String> = svc
        .pointer("/spec/clusterIPs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if let Some(ip) = svc.pointer("/spec/clusterIP").and_then(Value::as_str) {
        if !ips.iter().any(|i| i == ip) {
            ips.push(ip.to_string());
        }
    }
    ips
}

fn node_ports(svc: &Value) -> Vec<u16> {
    svc.pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_u64))
        .filter_map(|p| u16::try_from(p).ok())
        .collect()
}

pub(crate) fn is_service(def: &ResourceDef) -> bool {
    def.group.is_empty() && def.plural == "services"
}

impl ApiServer {
    /// Gives back what a deleted object held.
    pub(crate) fn on_deleted(&self, def: &ResourceDef, obj: &Value) {
        if !is_service(def) {
            return;
        }
        let ips = cluster_ips(obj).iter().filter_map(|i| i.parse::<Ipv4Addr>().ok()).map(u32::from).collect();
        self.allocator.release(Allocation { ips, ports: node_ports(obj) });
    }
}
