//! Service (`SetDefaults_Service`, `ValidateService`, `pkg/registry/core/service`).

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{Service, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use crate::defaults::str_default;
use crate::field_error::{FieldError, FieldPath};
use crate::typed::{str_at, Kind};
use crate::validation::{names, push_msgs, NameRule};

const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

impl Kind for Service {
    const NAME_RULE: NameRule = NameRule::Dns1035;
    const FIELDS: &'static [&'static str] = &["spec.clusterIP", "spec.type"];

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        str_default(&mut spec.session_affinity, "None");
        if spec.session_affinity.as_deref() == Some("None") {
            spec.session_affinity_config = None;
        }
        if spec.session_affinity.as_deref() == Some("ClientIP") {
            let config = spec.session_affinity_config.get_or_insert_with(Default::default);
            config.client_ip.get_or_insert_with(Default::default).timeout_seconds.get_or_insert(10800);
        }
        str_default(&mut spec.type_, "ClusterIP");
        for port in spec.ports.iter_mut().flatten() {
            str_default(&mut port.protocol, "TCP");
            let unset = match &port.target_port {
                None => true,
                Some(IntOrString::Int(0)) => true,
                Some(IntOrString::String(s)) => s.is_empty(),
                Some(IntOrString::Int(_)) => false,
            };
            if unset {
                port.target_port = Some(IntOrString::Int(port.port));
            }
        }
        let service_type = spec.type_.clone().unwrap_or_default();
        let externally_accessible = service_type == "LoadBalancer"
            || service_type == "NodePort"
            || (service_type == "ClusterIP" && spec.external_ips.as_ref().is_some_and(|e| !e.is_empty()));
        if externally_accessible {
            str_default(&mut spec.external_traffic_policy, "Cluster");
        }
        if matches!(service_type.as_str(), "ClusterIP" | "NodePort" | "LoadBalancer") {
            str_default(&mut spec.internal_traffic_policy, "Cluster");
            // What the IP allocator decides for a single-stack IPv4 cluster; headless
            // services without a selector are dual-stack by upstream's rule.
            let headless_without_selector =
                spec.cluster_ip.as_deref() == Some("None") && spec.selector.as_ref().is_none_or(|s| s.is_empty());
            if headless_without_selector {
                str_default(&mut spec.ip_family_policy, "RequireDualStack");
                if spec.ip_families.as_ref().is_none_or(Vec::is_empty) {
                    spec.ip_families = Some(vec!["IPv4".into(), "IPv6".into()]);
                }
            } else {
                str_default(&mut spec.ip_family_policy, "SingleStack");
                if spec.ip_families.as_ref().is_none_or(Vec::is_empty) {
                    spec.ip_families = Some(vec!["IPv4".into()]);
                }
            }
        }
        if service_type == "LoadBalancer" {
            spec.allocate_load_balancer_node_ports.get_or_insert(true);
        }
    }

    fn prepare_for_update(&mut self, old: &Self) {
        // Allocated values the client left out are kept (upstream `patchAllocatedValues`).
        let (Some(new), Some(old)) = (self.spec.as_mut(), old.spec.as_ref()) else { return };
        if new.type_ == old.type_ || new.type_.as_deref() != Some("ExternalName") {
            if new.cluster_ip.as_deref().is_none_or(str::is_empty) {
                new.cluster_ip.clone_from(&old.cluster_ip);
                if new.cluster_ips.as_ref().is_none_or(Vec::is_empty) {
                    new.cluster_ips.clone_from(&old.cluster_ips);
                }
            }
            if needs_node_ports(new) {
                for port in new.ports.iter_mut().flatten() {
                    if port.node_port.unwrap_or(0) == 0 {
                        let same =
                            old.ports.iter().flatten().find(|o| o.port == port.port && o.protocol == port.protocol);
                        port.node_port = same.and_then(|o| o.node_port);
                    }
                }
            }
            if new.health_check_node_port.unwrap_or(0) == 0 && new.type_.as_deref() == Some("LoadBalancer") {
                new.health_check_node_port = old.health_check_node_port;
            }
        }
        if new.type_.as_deref() != Some("LoadBalancer") && new.health_check_node_port == old.health_check_node_port {
            new.health_check_node_port = None;
        }
        // A Service that no longer needs node ports drops the ones it held, unless the
        // client changed them (upstream `dropTypeDependentFields`).
        let held: Vec<i32> = old.ports.iter().flatten().filter_map(|p| p.node_port).collect();
        let unchanged = new.ports.iter().flatten().filter_map(|p| p.node_port).all(|p| held.contains(&p));
        if needs_node_ports(old) && !needs_node_ports(new) && unchanged {
            for port in new.ports.iter_mut().flatten() {
                port.node_port = None;
            }
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        validate_spec(self)
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = validate_spec(self);
        let new_spec = self.spec.clone().unwrap_or_default();
        let old_spec = old.spec.clone().unwrap_or_default();
        let external = |t: &Option<String>| t.as_deref() == Some("ExternalName");
        if !external(&new_spec.type_) && !external(&old_spec.type_) {
            let old_ip = old_spec.cluster_ip.unwrap_or_default();
            let new_ip = new_spec.cluster_ip.unwrap_or_default();
            if !old_ip.is_empty() && new_ip != old_ip {
                errs.push(FieldError::invalid(
                    &FieldPath::new("spec").child("clusterIPs").index(0),
                    new_ip,
                    "may not change once set",
                ));
            }
        }
        errs
    }

    fn field_value(obj: &Value, field: &str) -> Option<String> {
        Some(str_at(obj, field))
    }
}

fn validate_spec(svc: &Service) -> Vec<FieldError> {
    let path = FieldPath::new("spec");
    let mut errs = Vec::new();
    let spec = svc.spec.clone().unwrap_or_default();
    let service_type = spec.type_.clone().unwrap_or_default();
    if !TYPES.contains(&service_type.as_str()) {
        errs.push(FieldError::not_supported(&path.child("type"), service_type.as_str(), TYPES));
    }
    let ports = spec.ports.clone().unwrap_or_default();
    if service_type == "ExternalName" {
        match spec.external_name.as_deref() {
            None | Some("") => errs.push(FieldError::required(&path.child("externalName"), "")),
            Some(name) => {
                let name = name.strip_suffix('.').unwrap_or(name);
                push_msgs(&mut errs, &path.child("externalName"), name, names::dns1123_subdomain(name));
            }
        }
    } else if ports.is_empty() && spec.cluster_ip.as_deref() != Some("None") {
        errs.push(FieldError::required(&path.child("ports"), ""));
    }
    let mut port_names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let p = path.child("ports").index(i);
        match port.name.as_deref().filter(|n| !n.is_empty()) {
            None if ports.len() > 1 => errs.push(FieldError::required(&p.child("name"), "")),
            None => {}
            Some(name) => {
                push_msgs(&mut errs, &p.child("name"), name, names::dns1123_label(name));
                if !port_names.insert(name.to_string()) {
                    errs.push(FieldError::duplicate(&p.child("name"), name));
                }
            }
        }
        for msg in names::port_num(i64::from(port.port)) {
            errs.push(FieldError::invalid(&p.child("port"), port.port, &msg));
        }
        match port.protocol.as_deref() {
            None | Some("") => errs.push(FieldError::required(&p.child("protocol"), "")),
            Some(proto) if !PROTOCOLS.contains(&proto) => {
                errs.push(FieldError::not_supported(&p.child("protocol"), proto, PROTOCOLS));
            }
            Some(_) => {}
        }
        match &port.target_port {
            Some(IntOrString::Int(t)) => {
                for msg in names::port_num(i64::from(*t)) {
                    errs.push(FieldError::invalid(&p.child("targetPort"), *t, &msg));
                }
            }
            Some(IntOrString::String(s)) => push_msgs(&mut errs, &p.child("targetPort"), s, names::port_name(s)),
            None => {}
        }
        if let Some(node_port) = port.node_port.filter(|n| *n != 0) {
            if service_type != "NodePort" && service_type != "LoadBalancer" {
                errs.push(FieldError::forbidden(&p.child("nodePort"), "may not be used when `type` is 'ClusterIP'"));
            } else {
                for msg in names::port_num(i64::from(node_port)) {
                    errs.push(FieldError::invalid(&p.child("nodePort"), node_port, &msg));
                }
            }
        }
    }
    if let Some(affinity) = spec.session_affinity.as_deref() {
        if !["ClientIP", "None"].contains(&affinity) {
            errs.push(FieldError::not_supported(&path.child("sessionAffinity"), affinity, &["ClientIP", "None"]));
        }
    }
    if let Some(selector) = &spec.selector {
        crate::validation::meta::validate_labels(selector, &path.child("selector"), &mut errs);
    }
    errs
}

/// Whether a Service of this spec is given node ports.
fn needs_node_ports(spec: &ServiceSpec) -> bool {
    match spec.type_.as_deref() {
        Some("NodePort") => true,
        Some("LoadBalancer") => spec.allocate_load_balancer_node_ports != Some(false),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Registry;

    #[test]
    fn defaults_and_validation() {
        let def = Registry::builtin().get("", "v1", "services").cloned().unwrap();
        let (mut obj, _) = def
            .strategy
            .normalize(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "d"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}}))
            .unwrap();
        def.strategy.default(&mut obj);
        assert_eq!(
            obj["spec"],
            json!({
                "selector": {"app": "web"},
                "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
                "type": "ClusterIP",
                "sessionAffinity": "None",
                "internalTrafficPolicy": "Cluster",
                "ipFamilyPolicy": "SingleStack",
                "ipFamilies": ["IPv4"]
            })
        );
        assert!(def.strategy.validate_create(&obj).is_empty());
        obj["spec"]["ports"][0]["port"] = json!(0);
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(msgs, ["spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"]);
        obj["metadata"]["name"] = json!("1web");
        assert!(def.strategy.validate_create(&obj)[0].message.contains("a DNS-1035 label must consist"));
    }

    #[test]
    fn node_port_services_get_external_traffic_policy_and_keep_cluster_ip() {
        let def = Registry::builtin().get("", "v1", "services").cloned().unwrap();
        let mut obj = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "w", "namespace": "d"},
            "spec": {"type": "NodePort", "ports": [{"port": 80}]}});
        def.strategy.default(&mut obj);
        assert_eq!(obj["spec"]["externalTrafficPolicy"], "Cluster");
        let mut old = obj.clone();
        old["spec"]["clusterIP"] = json!("10.43.0.7");
        old["spec"]["ports"][0]["nodePort"] = json!(30080);
        def.strategy.prepare_for_update(&mut obj, &old);
        assert_eq!(obj["spec"]["clusterIP"], "10.43.0.7");
        assert_eq!(obj["spec"]["ports"][0]["nodePort"], 30080);
        obj["spec"]["clusterIP"] = json!("10.43.0.8");
        assert_eq!(
            def.strategy.validate_update(&obj, &old)[0].message,
            "spec.clusterIPs[0]: Invalid value: \"10.43.0.8\": may not change once set"
        );
    }
}
