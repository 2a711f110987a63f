//! `PodSpec` and `PodTemplateSpec` validation: the common rules of
//! `pkg/apis/core/validation` (`ValidatePodSpec`, `validateContainers`, `ValidateVolumes`,
//! ...) with upstream's paths and messages.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec, Probe, ResourceRequirements, Volume};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::meta::{validate_annotations, validate_labels};
use super::{names, non_negative, push_msgs, quantity};
use crate::field_error::{FieldError, FieldPath};

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TERMINATION_MESSAGE_POLICIES: &[&str] = &["FallbackToLogsOnError", "File"];

/// `ValidatePodSpec` for the spec at `path`.
pub fn validate_spec(spec: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let volumes = validate_volumes(spec.volumes.as_deref().unwrap_or_default(), &path.child("volumes"), &mut errs);
    let mut container_names = BTreeSet::new();
    if spec.containers.is_empty() {
        errs.push(FieldError::required(&path.child("containers"), ""));
    }
    for (i, c) in spec.init_containers.iter().flatten().enumerate() {
        validate_container(c, &path.child("initContainers").index(i), &volumes, &mut container_names, &mut errs);
    }
    for (i, c) in spec.containers.iter().enumerate() {
        validate_container(c, &path.child("containers").index(i), &volumes, &mut container_names, &mut errs);
    }
    if let Some(policy) = spec.restart_policy.as_deref() {
        if !RESTART_POLICIES.contains(&policy) {
            errs.push(FieldError::not_supported(&path.child("restartPolicy"), policy, RESTART_POLICIES));
        }
    } else {
        errs.push(FieldError::required(&path.child("restartPolicy"), ""));
    }
    if let Some(policy) = spec.dns_policy.as_deref() {
        if !DNS_POLICIES.contains(&policy) {
            errs.push(FieldError::not_supported(&path.child("dnsPolicy"), policy, DNS_POLICIES));
        }
        if policy == "None" && spec.dns_config.as_ref().is_none_or(|c| c.nameservers.as_ref().is_none_or(Vec::is_empty))
        {
            errs.push(FieldError::required(
                &path.child("dnsConfig"),
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
        }
    }
    if let Some(selector) = &spec.node_selector {
        validate_labels(selector, &path.child("nodeSelector"), &mut errs);
    }
    for (field, value) in [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            push_msgs(&mut errs, &path.child(field), v, names::dns1123_subdomain(v));
        }
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            push_msgs(&mut errs, &path.child(field), v, names::dns1123_label(v));
        }
    }
    if let Some(seconds) = spec.active_deadline_seconds {
        if !(1..=i64::from(i32::MAX)).contains(&seconds) {
            errs.push(FieldError::invalid(
                &path.child("activeDeadlineSeconds"),
                seconds,
                &names::inclusive_range_error(1, i64::from(i32::MAX)),
            ));
        }
    }
    if let Some(seconds) = spec.termination_grace_period_seconds {
        non_negative(seconds, &path.child("terminationGracePeriodSeconds"), &mut errs);
    }
    for (i, t) in spec.tolerations.iter().flatten().enumerate() {
        validate_toleration(t, &path.child("tolerations").index(i), &mut errs);
    }
    if let Some(resources) = &spec.overhead {
        validate_quantities(resources, &path.child("overhead"), &mut errs);
    }
    errs
}

/// `ValidatePodTemplateSpec`: template labels and annotations and the pod spec.
pub fn validate_template(template: &PodTemplateSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut errs = Vec::new();
    if let Some(meta) = &template.metadata {
        let meta_path = path.child("metadata");
        if let Some(labels) = &meta.labels {
            validate_labels(labels, &meta_path.child("labels"), &mut errs);
        }
        if let Some(annotations) = &meta.annotations {
            validate_annotations(annotations, &meta_path.child("annotations"), &mut errs);
        }
    }
    match &template.spec {
        Some(spec) => errs.extend(validate_spec(spec, &path.child("spec"))),
        None => errs.push(FieldError::required(&path.child("spec").child("containers"), "")),
    }
    errs
}

/// Checks that each volume has a valid, unique name and exactly one source; returns the names.
fn validate_volumes(volumes: &[Volume], path: &FieldPath, errs: &mut Vec<FieldError>) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let p = path.index(i);
        if v.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else {
            push_msgs(errs, &p.child("name"), &v.name, names::dns1123_label(&v.name));
            if !seen.insert(v.name.clone()) {
                errs.push(FieldError::duplicate(&p.child("name"), &v.name));
            }
        }
        let sources = serde_json::to_value(v)
            .ok()
            .and_then(|j| j.as_object().map(|o| o.keys().filter(|k| *k != "name").count()))
            .unwrap_or(1);
        if sources == 0 {
            errs.push(FieldError::required(&p, "must specify a volume type"));
        } else if sources > 1 {
            errs.push(FieldError::forbidden(&p, "may not specify more than 1 volume type"));
        }
        if let Some(s) = &v.secret {
            if s.secret_name.as_deref().is_none_or(str::is_empty) {
                errs.push(FieldError::required(&p.child("secret").child("secretName"), ""));
            }
            validate_mode(s.default_mode, &p.child("secret").child("defaultMode"), errs);
        }
        if let Some(c) = &v.config_map {
            if c.name.is_empty() {
                errs.push(FieldError::required(&p.child("configMap").child("name"), ""));
            }
            validate_mode(c.default_mode, &p.child("configMap").child("defaultMode"), errs);
        }
        if let Some(h) = &v.host_path {
            if h.path.is_empty() {
                errs.push(FieldError::required(&p.child("hostPath").child("path"), ""));
            }
        }
        if let Some(c) = &v.persistent_volume_claim {
            if c.claim_name.is_empty() {
                errs.push(FieldError::required(&p.child("persistentVolumeClaim").child("claimName"), ""));
            }
        }
        if let Some(limit) = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref()) {
            validate_quantity_value(limit, &p.child("emptyDir").child("sizeLimit"), errs);
        }
    }
    seen
}

fn validate_mode(mode: Option<i32>, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if let Some(mode) = mode {
        if !(0..=0o777).contains(&mode) {
            errs.push(FieldError::invalid(path, mode, "must be a number between 0 and 0777 (octal), both inclusive"));
        }
    }
}

fn validate_container(
    c: &Container,
    path: &FieldPath,
    volumes: &BTreeSet<String>,
    names_seen: &mut BTreeSet<String>,
    errs: &mut Vec<FieldError>,
) {
    if c.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    } else {
        push_msgs(errs, &path.child("name"), &c.name, names::dns1123_label(&c.name));
        if !names_seen.insert(c.name.clone()) {
            errs.push(FieldError::duplicate(&path.child("name"), &c.name));
        }
    }
    match c.image.as_deref() {
        None | Some("") => errs.push(FieldError::required(&path.child("image"), "")),
        Some(image) if image.trim() != image => {
            errs.push(FieldError::invalid(&path.child("image"), image, "must not have leading or trailing whitespace"))
        }
        Some(_) => {}
    }
    if let Some(policy) = c.image_pull_policy.as_deref() {
        if !PULL_POLICIES.contains(&policy) {
            errs.push(FieldError::not_supported(&path.child("imagePullPolicy"), policy, PULL_POLICIES));
        }
    }
    if let Some(policy) = c.termination_message_policy.as_deref() {
        if !TERMINATION_MESSAGE_POLICIES.contains(&policy) {
            errs.push(FieldError::not_supported(
                &path.child("terminationMessagePolicy"),
                policy,
                TERMINATION_MESSAGE_POLICIES,
            ));
        }
    }
    let mut port_names = BTreeSet::new();
    for (i, port) in c.ports.iter().flatten().enumerate() {
        let p = path.child("ports").index(i);
        if let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) {
            push_msgs(errs, &p.child("name"), name, names::port_name(name));
            if !port_names.insert(name.to_string()) {
                errs.push(FieldError::duplicate(&p.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(&p.child("containerPort"), ""));
        } else {
            let msgs = names::port_num(i64::from(port.container_port));
            errs.extend(msgs.iter().map(|m| FieldError::invalid(&p.child("containerPort"), port.container_port, m)));
        }
        if let Some(host_port) = port.host_port.filter(|h| *h != 0) {
            let msgs = names::port_num(i64::from(host_port));
            errs.extend(msgs.iter().map(|m| FieldError::invalid(&p.child("hostPort"), host_port, m)));
        }
        match port.protocol.as_deref() {
            None | Some("") => errs.push(FieldError::required(&p.child("protocol"), "")),
            Some(proto) if !PROTOCOLS.contains(&proto) => {
                errs.push(FieldError::not_supported(&p.child("protocol"), proto, PROTOCOLS));
            }
            Some(_) => {}
        }
    }
    for (i, e) in c.env.iter().flatten().enumerate() {
        let p = path.child("env").index(i);
        if e.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else if !e.name.bytes().all(|b| (0x20..=0x7e).contains(&b) && b != b'=') {
            // RelaxedEnvironmentVariableValidation is on by default in 1.33.
            errs.push(FieldError::invalid(
                &p.child("name"),
                &e.name,
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
    }
    let mut mount_paths = BTreeSet::new();
    for (i, m) in c.volume_mounts.iter().flatten().enumerate() {
        let p = path.child("volumeMounts").index(i);
        if m.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        } else if !volumes.contains(&m.name) {
            errs.push(FieldError::not_found(&p.child("name"), &m.name));
        }
        if m.mount_path.is_empty() {
            errs.push(FieldError::required(&p.child("mountPath"), ""));
        } else if !mount_paths.insert(m.mount_path.clone()) {
            errs.push(FieldError::invalid(&p.child("mountPath"), &m.mount_path, "must be unique"));
        }
    }
    if let Some(r) = &c.resources {
        validate_resources(r, &path.child("resources"), errs);
    }
    if let Some(probe) = &c.liveness_probe {
        validate_probe(probe, &path.child("livenessProbe"), true, errs);
    }
    if let Some(probe) = &c.startup_probe {
        validate_probe(probe, &path.child("startupProbe"), true, errs);
    }
    if let Some(probe) = &c.readiness_probe {
        validate_probe(probe, &path.child("readinessProbe"), false, errs);
    }
}

fn validate_probe(probe: &Probe, path: &FieldPath, success_must_be_one: bool, errs: &mut Vec<FieldError>) {
    let handlers = [probe.exec.is_some(), probe.http_get.is_some(), probe.tcp_socket.is_some(), probe.grpc.is_some()]
        .iter()
        .filter(|h| **h)
        .count();
    if handlers == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    } else if handlers > 1 {
        errs.push(FieldError::forbidden(path, "may not specify more than 1 handler type"));
    }
    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        non_negative(i64::from(value.unwrap_or(0)), &path.child(field), errs);
    }
    if success_must_be_one {
        if let Some(s) = probe.success_threshold.filter(|s| *s != 1) {
            errs.push(FieldError::invalid(&path.child("successThreshold"), s, "must be 1"));
        }
    }
}

/// Requests and limits: valid non-negative quantities, requests not above limits.
pub fn validate_resources(r: &ResourceRequirements, path: &FieldPath, errs: &mut Vec<FieldError>) {
    let limits = r.limits.clone().unwrap_or_default();
    if let Some(l) = &r.limits {
        validate_quantities(l, &path.child("limits"), errs);
    }
    if let Some(requests) = &r.requests {
        validate_quantities(requests, &path.child("requests"), errs);
        for (name, request) in requests {
            let (Some(limit), Ok(req)) = (limits.get(name), quantity::parse(&request.0)) else { continue };
            if let Ok(lim) = quantity::parse(&limit.0) {
                if req > lim {
                    errs.push(FieldError::invalid(
                        &path.child("requests").key(name),
                        &request.0,
                        &format!("must be less than or equal to {name} limit of {}", limit.0),
                    ));
                }
            }
        }
    }
}

/// Each quantity of a resource list parses and is not negative.
pub fn validate_quantities(list: &BTreeMap<String, Quantity>, path: &FieldPath, errs: &mut Vec<FieldError>) {
    for (name, q) in list {
        validate_quantity_value(q, &path.key(name), errs);
    }
}

fn validate_quantity_value(q: &Quantity, path: &FieldPath, errs: &mut Vec<FieldError>) {
    match quantity::parse(&q.0) {
        Err(msg) => errs.push(FieldError::invalid(path, &q.0, msg)),
        Ok(v) if v < 0.0 => errs.push(FieldError::invalid(path, &q.0, "must be greater than or equal to 0")),
        Ok(_) => {}
    }
}

fn validate_toleration(t: &k8s_openapi::api::core::v1::Toleration, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if let Some(key) = t.key.as_deref().filter(|k| !k.is_empty()) {
        push_msgs(errs, &path.child("key"), key, names::qualified_name(key));
    }
    let operator = t.operator.as_deref().unwrap_or("Equal");
    match operator {
        "Equal" | "" => {
            if let Some(value) = t.value.as_deref() {
                push_msgs(errs, &path.child("value"), value, names::label_value(value));
            }
        }
        "Exists" => {
            if t.value.as_deref().is_some_and(|v| !v.is_empty()) {
                errs.push(FieldError::invalid(
                    &path.child("operator"),
                    t.value.as_deref().unwrap_or_default(),
                    "value must be empty when `operator` is 'Exists'",
                ));
            }
        }
        other => errs.push(FieldError::not_supported(&path.child("operator"), other, &["Equal", "Exists"])),
    }
    if t.key.as_deref().is_none_or(str::is_empty) && operator != "Exists" {
        errs.push(FieldError::invalid(
            &path.child("operator"),
            operator,
            "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
        ));
    }
    if let Some(effect) = t.effect.as_deref().filter(|e| !e.is_empty()) {
        const EFFECTS: &[&str] = &["NoSchedule", "PreferNoSchedule", "NoExecute"];
        if !EFFECTS.contains(&effect) {
            errs.push(FieldError::not_supported(&path.child("effect"), effect, EFFECTS));
        }
    }
    if t.toleration_seconds.is_some() && t.effect.as_deref() != Some("NoExecute") {
        errs.push(FieldError::invalid(
            &path.child("effect"),
            t.effect.as_deref().unwrap_or_default(),
            "effect must be 'NoExecute' when `tolerationSeconds` is set",
        ));
    }
}

/// Checks the syntax of every quantity of a pod spec (upstream rejects these when decoding).
pub fn check_quantities(spec: &PodSpec) -> Result<(), String> {
    let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
    for c in containers {
        if let Some(r) = &c.resources {
            check_list(r.limits.as_ref())?;
            check_list(r.requests.as_ref())?;
        }
    }
    check_list(spec.overhead.as_ref())?;
    if let Some(r) = &spec.resources {
        check_list(r.limits.as_ref())?;
        check_list(r.requests.as_ref())?;
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(limit) = v.empty_dir.as_ref().and_then(|e| e.size_limit.as_ref()) {
            quantity::parse(&limit.0).map_err(str::to_string)?;
        }
    }
    Ok(())
}

/// Checks the syntax of each quantity of a resource list.
pub fn check_list(list: Option<&BTreeMap<String, Quantity>>) -> Result<(), String> {
    for q in list.into_iter().flat_map(BTreeMap::values) {
        quantity::parse(&q.0).map_err(str::to_string)?;
    }
    Ok(())
}

/// The fields of a pod spec that may change on update: container images,
/// `activeDeadlineSeconds`, added tolerations, `terminationGracePeriodSeconds` from negative.
pub fn validate_spec_update(new: &PodSpec, old: &PodSpec, path: &FieldPath) -> Vec<FieldError> {
    let mut munged = new.clone();
    // Images may change when the container lists line up.
    if munged.containers.len() == old.containers.len() {
        for (n, o) in munged.containers.iter_mut().zip(&old.containers) {
            n.image.clone_from(&o.image);
        }
    }
    if let (Some(new_init), Some(old_init)) = (munged.init_containers.as_mut(), old.init_containers.as_ref()) {
        if new_init.len() == old_init.len() {
            for (n, o) in new_init.iter_mut().zip(old_init) {
                n.image.clone_from(&o.image);
            }
        }
    }
    let mut errs = Vec::new();
    // activeDeadlineSeconds may be set when unset, or lowered; never cleared.
    match (new.active_deadline_seconds, old.active_deadline_seconds) {
        (None, Some(o)) => errs.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            crate::field_error::BadValue::Null,
            &format!("must not update from a positive integer to nil value (was {o})"),
        )),
        (Some(n), Some(o)) if n > o => errs.push(FieldError::invalid(
            &path.child("activeDeadlineSeconds"),
            n,
            "must be less than or equal to previous value",
        )),
        _ => {}
    }
    munged.active_deadline_seconds = old.active_deadline_seconds;
    // Existing tolerations must stay; new ones may be added.
    let old_tolerations = old.tolerations.clone().unwrap_or_default();
    let new_tolerations = munged.tolerations.clone().unwrap_or_default();
    if old_tolerations.iter().all(|t| new_tolerations.contains(t)) {
        munged.tolerations.clone_from(&old.tolerations);
    }
    if old.termination_grace_period_seconds.is_some_and(|s| s < 0) && new.termination_grace_period_seconds == Some(1) {
        munged.termination_grace_period_seconds = old.termination_grace_period_seconds;
    }
    if &munged != old {
        errs.push(FieldError::forbidden(
            path,
            &format!(
                "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)\n{}",
                spec_diff(old, &munged)
            ),
        ));
    }
    errs
}

/// A short list of the top-level spec fields that differ (upstream prints a `cmp.Diff`).
fn spec_diff(old: &PodSpec, new: &PodSpec) -> String {
    let (Ok(serde_json::Value::Object(o)), Ok(serde_json::Value::Object(n))) =
        (serde_json::to_value(old), serde_json::to_value(new))
    else {
        return String::new();
    };
    let keys: BTreeSet<&String> = o.keys().chain(n.keys()).collect();
    keys.into_iter()
        .filter(|k| o.get(*k) != n.get(*k))
        .map(|k| {
            let show = |v: Option<&serde_json::Value>| v.map_or_else(|| "null".to_string(), ToString::to_string);
            format!("  {k}: {} -> {}", show(o.get(k)), show(n.get(k)))
        })
        .collect::<Vec<_>>()
        .join("\n")
}
