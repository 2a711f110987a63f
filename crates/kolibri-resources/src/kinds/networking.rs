//! `networking.k8s.io`: Ingress and NetworkPolicy (`pkg/apis/networking/validation`).

use k8s_openapi::api::networking::v1::{Ingress, IngressBackend, NetworkPolicy, NetworkPolicyPort};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::defaults::str_default;
use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::{json_value, names, push_msgs, selector};

const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];

impl Kind for Ingress {
    const GENERATION: bool = true;

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        let rules = spec.rules.clone().unwrap_or_default();
        if spec.default_backend.is_none() && rules.is_empty() {
            errs.push(FieldError::invalid(
                &path.child("rules"),
                crate::field_error::BadValue::Raw("[]networking.IngressRule(nil)".into()),
                "either `defaultBackend` or `rules` must be specified",
            ));
        }
        if let Some(backend) = &spec.default_backend {
            validate_backend(backend, &path.child("defaultBackend"), &mut errs);
        }
        for (i, rule) in rules.iter().enumerate() {
            let p = path.child("rules").index(i);
            if let Some(host) = rule.host.as_deref().filter(|h| !h.is_empty()) {
                let checked = host.strip_prefix("*.").unwrap_or(host);
                push_msgs(&mut errs, &p.child("host"), host, names::dns1123_subdomain(checked));
            }
            let Some(http) = &rule.http else { continue };
            for (j, hp) in http.paths.iter().enumerate() {
                let pp = p.child("http").child("paths").index(j);
                if hp.path_type.is_empty() {
                    errs.push(FieldError::required(&pp.child("pathType"), "pathType must be specified"));
                } else if !PATH_TYPES.contains(&hp.path_type.as_str()) {
                    errs.push(FieldError::not_supported(&pp.child("pathType"), hp.path_type.as_str(), PATH_TYPES));
                }
                let value = hp.path.clone().unwrap_or_default();
                if (hp.path_type == "Exact" || hp.path_type == "Prefix") && !value.starts_with('/') {
                    errs.push(FieldError::invalid(&pp.child("path"), value.as_str(), "must be an absolute path"));
                }
                validate_backend(&hp.backend, &pp.child("backend"), &mut errs);
            }
        }
        if let Some(class) = spec.ingress_class_name.as_deref() {
            push_msgs(&mut errs, &path.child("ingressClassName"), class, names::dns1123_subdomain(class));
        }
        errs
    }
}

fn validate_backend(backend: &IngressBackend, path: &FieldPath, errs: &mut Vec<FieldError>) {
    match (&backend.service, &backend.resource) {
        (Some(_), Some(_)) => {
            errs.push(FieldError::invalid(path, json_value(backend), "cannot set both resource and service backends"))
        }
        (None, None) => {
            errs.push(FieldError::invalid(path, json_value(backend), "resource or service backend is required"))
        }
        (None, Some(_)) => {}
        (Some(service), None) => {
            let sp = path.child("service");
            if service.name.is_empty() {
                errs.push(FieldError::required(&sp.child("name"), ""));
            } else {
                push_msgs(errs, &sp.child("name"), &service.name, names::dns1035_label(&service.name));
            }
            let port = service.port.clone().unwrap_or_default();
            let pp = sp.child("port");
            match (port.name.as_deref().filter(|n| !n.is_empty()), port.number.filter(|n| *n != 0)) {
                (Some(_), Some(_)) => {
                    errs.push(FieldError::invalid(&pp, json_value(&port), "cannot set both port name & port number"))
                }
                (None, None) => {
                    errs.push(FieldError::invalid(&pp, json_value(&port), "port name or number is required"))
                }
                (Some(name), None) => push_msgs(errs, &pp.child("name"), name, names::port_name(name)),
                (None, Some(number)) => {
                    for msg in names::port_num(i64::from(number)) {
                        errs.push(FieldError::invalid(&pp.child("number"), number, &msg));
                    }
                }
            }
        }
    }
}

impl Kind for NetworkPolicy {
    const GENERATION: bool = true;

    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        let ports = spec
            .ingress
            .iter_mut()
            .flatten()
            .flat_map(|r| r.ports.iter_mut().flatten())
            .chain(spec.egress.iter_mut().flatten().flat_map(|r| r.ports.iter_mut().flatten()));
        for port in ports {
            str_default(&mut port.protocol, "TCP");
        }
        if spec.policy_types.as_ref().is_none_or(Vec::is_empty) {
            let mut types = vec!["Ingress".to_string()];
            if spec.egress.as_ref().is_some_and(|e| !e.is_empty()) {
                types.push("Egress".into());
            }
            spec.policy_types = Some(types);
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        if let Some(sel) = &spec.pod_selector {
            selector::validate(sel, &path.child("podSelector"), &mut errs);
        }
        for (i, rule) in spec.ingress.iter().flatten().enumerate() {
            for (j, port) in rule.ports.iter().flatten().enumerate() {
                validate_policy_port(port, &path.child("ingress").index(i).child("ports").index(j), &mut errs);
            }
        }
        for (i, rule) in spec.egress.iter().flatten().enumerate() {
            for (j, port) in rule.ports.iter().flatten().enumerate() {
                validate_policy_port(port, &path.child("egress").index(i).child("ports").index(j), &mut errs);
            }
        }
        let types = spec.policy_types.clone().unwrap_or_default();
        for (i, t) in types.iter().enumerate() {
            if t != "Ingress" && t != "Egress" {
                errs.push(FieldError::not_supported(
                    &path.child("policyTypes").index(i),
                    t.as_str(),
                    &["Ingress", "Egress"],
                ));
            }
        }
        if types.len() > 2 {
            errs.push(FieldError::invalid(
                &path.child("policyTypes"),
                json_value(&types),
                "may not specify more than two policyTypes",
            ));
        }
        errs
    }
}

fn validate_policy_port(port: &NetworkPolicyPort, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if let Some(proto) = port.protocol.as_deref() {
        const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
        if !PROTOCOLS.contains(&proto) {
            errs.push(FieldError::not_supported(&path.child("protocol"), proto, PROTOCOLS));
        }
    }
    match &port.port {
        Some(IntOrString::Int(p)) => {
            for msg in names::port_num(i64::from(*p)) {
                errs.push(FieldError::invalid(&path.child("port"), *p, &msg));
            }
            if let Some(end) = port.end_port {
                if end < *p {
                    errs.push(FieldError::invalid(
                        &path.child("endPort"),
                        end,
                        "must be greater than or equal to `port`",
                    ));
                }
            }
        }
        Some(IntOrString::String(name)) => {
            push_msgs(errs, &path.child("port"), name, names::port_name(name));
            if port.end_port.is_some() {
                errs.push(FieldError::invalid(
                    &path.child("endPort"),
                    port.end_port.unwrap_or(0),
                    "may not be specified when `port` is non-numeric",
                ));
            }
        }
        None => {
            if port.end_port.is_some() {
                errs.push(FieldError::invalid(
                    &path.child("endPort"),
                    port.end_port.unwrap_or(0),
                    "may not be specified when `port` is not specified",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Registry;

    #[test]
    fn ingress_requires_path_type() {
        let def = Registry::builtin().get("networking.k8s.io", "v1", "ingresses").cloned().unwrap();
        let obj = json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "i", "namespace": "d"},
            "spec": {"rules": [{"host": "example.com", "http": {"paths": [{"path": "/", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]}});
        let (obj, _) = def.strategy.normalize(obj).unwrap();
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(msgs, ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"]);
    }

    #[test]
    fn network_policy_defaults() {
        let def = Registry::builtin().get("networking.k8s.io", "v1", "networkpolicies").cloned().unwrap();
        let mut obj = json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "n", "namespace": "d"},
            "spec": {"podSelector": {}, "egress": [{"ports": [{"port": 53}]}]}});
        def.strategy.default(&mut obj);
        assert_eq!(obj["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(obj["spec"]["egress"][0]["ports"][0]["protocol"], "TCP");
        assert!(def.strategy.validate_create(&obj).is_empty());
    }
}
