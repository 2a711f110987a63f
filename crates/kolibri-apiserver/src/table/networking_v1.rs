//! Printers of Ingresses, IngressClasses and NetworkPolicies.

use super::*;

/// Upstream's formatHosts: up to 3 non-empty hosts, "*" when none.
pub(super) fn ingress_hosts(obj: &Value) -> String {
    const MAX: usize = 3;
    let rules = arr(obj, "/spec/rules");
    let mut list: Vec<&str> = Vec::new();
    let mut more = false;
    for r in rules {
        if list.len() == MAX {
            more = true;
        }
        let host = st(r, "/host");
        if !more && !host.is_empty() {
            list.push(host);
        }
    }
    if list.is_empty() {
        return "*".into();
    }
    let text = list.join(",");
    if more {
        format!("{text} + {} more...", rules.len().saturating_sub(MAX))
    } else {
        text
    }
}

pub(super) fn print_ingress(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let class = obj.pointer("/spec/ingressClassName").and_then(Value::as_str).unwrap_or(NONE);
    let mut addrs: Vec<&str> = arr(obj, "/status/loadBalancer/ingress")
        .iter()
        .map(|i| if st(i, "/ip").is_empty() { st(i, "/hostname") } else { st(i, "/ip") })
        .filter(|a| !a.is_empty())
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    let ports = if arr(obj, "/spec/tls").is_empty() { "80" } else { "80, 443" };
    vec![name(obj), class.into(), ingress_hosts(obj).into(), addrs.join(",").into(), ports.into(), age(obj, now)]
}

pub(super) fn print_ingress_class(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let parameters = match obj.pointer("/spec/parameters").filter(|p| p.is_object()) {
        // Upstream: `Kind.apiGroup/name`, or `Kind/name` without a group.
        Some(p) => {
            let kind = match p.get("apiGroup").and_then(Value::as_str) {
                Some(g) => format!("{}.{g}", st(p, "/kind")),
                None => st(p, "/kind").to_string(),
            };
            format!("{kind}/{}", st(p, "/name"))
        }
        None => NONE.into(),
    };
    vec![name(obj), st(obj, "/spec/controller").into(), parameters.into(), age(obj, now)]
}

pub(super) fn print_network_policy(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), or_none(&format_selector(obj.pointer("/spec/podSelector"))).into(), age(obj, now)]
}
