//! Defaults of `PodSpec` and everything in it, as a Pod and a workload's pod template get
//! them. Pod-only defaults (requests from limits, `enableServiceLinks`, host ports) are in
//! [`pod_only`].

use k8s_openapi::api::core::v1::{
    Container, EnvVar, HTTPGetAction, Lifecycle, PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec, Probe, Volume,
};

use super::str_default;

/// `SetDefaults_PodSpec` and the nested defaults of a pod template.
pub fn template(template: &mut PodTemplateSpec) {
    if let Some(spec) = template.spec.as_mut() {
        spec_defaults(spec);
    }
}

/// `SetDefaults_PodSpec` plus nested types (containers, probes, volumes, ...).
pub fn spec_defaults(spec: &mut PodSpec) {
    str_default(&mut spec.dns_policy, "ClusterFirst");
    str_default(&mut spec.restart_policy, "Always");
    spec.security_context.get_or_insert_with(Default::default);
    spec.termination_grace_period_seconds.get_or_insert(30);
    str_default(&mut spec.scheduler_name, "default-scheduler");
    // The v1 conversion keeps the deprecated `serviceAccount` and `serviceAccountName` equal.
    match (spec.service_account_name.as_deref(), spec.service_account.as_deref()) {
        (Some(n), _) if !n.is_empty() => spec.service_account = Some(n.to_string()),
        (_, Some(d)) if !d.is_empty() => spec.service_account_name = Some(d.to_string()),
        _ => {}
    }
    for c in &mut spec.containers {
        container(c);
    }
    for c in spec.init_containers.iter_mut().flatten() {
        container(c);
    }
    for c in spec.ephemeral_containers.iter_mut().flatten() {
        // Same defaults as containers (`SetDefaults_EphemeralContainer`).
        image_pull_policy(&mut c.image_pull_policy, c.image.as_deref());
        str_default(&mut c.termination_message_path, "/dev/termination-log");
        str_default(&mut c.termination_message_policy, "File");
        for p in c.ports.iter_mut().flatten() {
            str_default(&mut p.protocol, "TCP");
        }
        env(c.env.as_mut());
        for probe in [&mut c.liveness_probe, &mut c.readiness_probe, &mut c.startup_probe].into_iter().flatten() {
            probe_defaults(probe);
        }
        if let Some(l) = c.lifecycle.as_mut() {
            lifecycle(l);
        }
    }
    for v in spec.volumes.iter_mut().flatten() {
        volume(v);
    }
}

/// The defaults only a Pod gets (`SetDefaults_Pod`), not a template.
pub fn pod_only(spec: &mut PodSpec) {
    for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
        if let Some(resources) = c.resources.as_mut() {
            if let Some(limits) = resources.limits.clone() {
                let requests = resources.requests.get_or_insert_with(Default::default);
                for (k, v) in limits {
                    requests.entry(k).or_insert(v);
                }
            }
        }
    }
    spec.enable_service_links.get_or_insert(true);
    if spec.host_network == Some(true) {
        for c in spec.containers.iter_mut().chain(spec.init_containers.iter_mut().flatten()) {
            for p in c.ports.iter_mut().flatten() {
                if p.host_port.unwrap_or(0) == 0 {
                    p.host_port = Some(p.container_port);
                }
            }
        }
    }
}

fn container(c: &mut Container) {
    // Upstream's `resources` is a struct, never absent from its output.
    c.resources.get_or_insert_with(Default::default);
    image_pull_policy(&mut c.image_pull_policy, c.image.as_deref());
    str_default(&mut c.termination_message_path, "/dev/termination-log");
    str_default(&mut c.termination_message_policy, "File");
    for p in c.ports.iter_mut().flatten() {
        str_default(&mut p.protocol, "TCP");
    }
    env(c.env.as_mut());
    for probe in [&mut c.liveness_probe, &mut c.readiness_probe, &mut c.startup_probe].into_iter().flatten() {
        probe_defaults(probe);
    }
    if let Some(l) = c.lifecycle.as_mut() {
        lifecycle(l);
    }
}

/// `Always` for `:latest` or no tag (and no digest), else `IfNotPresent`.
fn image_pull_policy(policy: &mut Option<String>, image: Option<&str>) {
    if policy.as_deref().is_some_and(|p| !p.is_empty()) {
        return;
    }
    let value = if image_tag(image.unwrap_or_default()) == "latest" { "Always" } else { "IfNotPresent" };
    *policy = Some(value.to_string());
}

/// The tag of an image reference as upstream's `parsers.ParseImageName` reports it:
/// `latest` when neither tag nor digest is given, `""` when only a digest is.
pub fn image_tag(image: &str) -> &str {
    if image.is_empty() {
        return "";
    }
    let (name, has_digest) = match image.split_once('@') {
        Some((name, _)) => (name, true),
        None => (image, false),
    };
    let last_segment = name.rsplit('/').next().unwrap_or(name);
    match last_segment.rsplit_once(':') {
        Some((_, tag)) => tag,
        None if has_digest => "",
        None => "latest",
    }
}

fn env(env: Option<&mut Vec<EnvVar>>) {
    for e in env.into_iter().flatten() {
        if let Some(field_ref) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            str_default(&mut field_ref.api_version, "v1");
        }
    }
}

fn probe_defaults(p: &mut Probe) {
    for (field, value) in [
        (&mut p.timeout_seconds, 1),
        (&mut p.period_seconds, 10),
        (&mut p.success_threshold, 1),
        (&mut p.failure_threshold, 3),
    ] {
        if field.unwrap_or(0) == 0 {
            *field = Some(value);
        }
    }
    if let Some(h) = p.http_get.as_mut() {
        http_get(h);
    }
}

fn http_get(h: &mut HTTPGetAction) {
    str_default(&mut h.path, "/");
    str_default(&mut h.scheme, "HTTP");
}

fn lifecycle(l: &mut Lifecycle) {
    for handler in [&mut l.post_start, &mut l.pre_stop].into_iter().flatten() {
        if let Some(h) = handler.http_get.as_mut() {
            http_get(h);
        }
    }
}

/// `SetDefaults_Volume` and the defaults of each volume source.
pub fn volume(v: &mut Volume) {
    // A volume with no source is an emptyDir.
    let has_source = serde_json::to_value(&*v)
        .ok()
        .and_then(|j| j.as_object().map(|o| o.keys().any(|k| k != "name")))
        .unwrap_or(true);
    if !has_source {
        v.empty_dir = Some(Default::default());
    }
    if let Some(s) = v.secret.as_mut() {
        s.default_mode.get_or_insert(420);
    }
    if let Some(s) = v.config_map.as_mut() {
        s.default_mode.get_or_insert(420);
    }
    if let Some(s) = v.downward_api.as_mut() {
        s.default_mode.get_or_insert(420);
        for item in s.items.iter_mut().flatten() {
            if let Some(f) = item.field_ref.as_mut() {
                str_default(&mut f.api_version, "v1");
            }
        }
    }
    if let Some(p) = v.projected.as_mut() {
        p.default_mode.get_or_insert(420);
        for source in p.sources.iter_mut().flatten() {
            if let Some(t) = source.service_account_token.as_mut() {
                t.expiration_seconds.get_or_insert(3600);
            }
            if let Some(d) = source.downward_api.as_mut() {
                for item in d.items.iter_mut().flatten() {
                    if let Some(f) = item.field_ref.as_mut() {
                        str_default(&mut f.api_version, "v1");
                    }
                }
            }
        }
    }
    if let Some(h) = v.host_path.as_mut() {
        h.type_.get_or_insert_with(String::new);
    }
    if let Some(i) = v.iscsi.as_mut() {
        str_default(&mut i.iscsi_interface, "default");
    }
    if let Some(r) = v.rbd.as_mut() {
        str_default(&mut r.pool, "rbd");
        str_default(&mut r.user, "admin");
        str_default(&mut r.keyring, "/etc/ceph/keyring");
    }
    if let Some(a) = v.azure_disk.as_mut() {
        str_default(&mut a.caching_mode, "ReadWrite");
        str_default(&mut a.fs_type, "ext4");
        a.read_only.get_or_insert(false);
        str_default(&mut a.kind, "Shared");
    }
    if let Some(spec) = v.ephemeral.as_mut().and_then(|e| e.volume_claim_template.as_mut()).map(|t| &mut t.spec) {
        pvc_spec(spec);
    }
}

/// `SetDefaults_PersistentVolumeClaimSpec`.
pub fn pvc_spec(spec: &mut PersistentVolumeClaimSpec) {
    str_default(&mut spec.volume_mode, "Filesystem");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_tags() {
        assert_eq!(image_tag("nginx"), "latest");
        assert_eq!(image_tag("nginx:1.25"), "1.25");
        assert_eq!(image_tag("localhost:5000/nginx"), "latest");
        assert_eq!(image_tag("localhost:5000/nginx:latest"), "latest");
        assert_eq!(image_tag("nginx@sha256:abc"), "");
        assert_eq!(image_tag("nginx:1@sha256:abc"), "1");
    }
}
