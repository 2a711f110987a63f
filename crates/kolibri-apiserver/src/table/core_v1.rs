//! Printers of core/v1 kinds.

use super::*;

pub(super) fn print_default(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), age(obj, now)]
}

/// Upstream's default table convertor, for built-in kinds without a printer: Name and the
/// creation time in RFC 3339.
pub(super) fn print_created_at(obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    let created = parse_time(obj.pointer("/metadata/creationTimestamp"))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    vec![name(obj), created.into()]
}

pub(super) fn print_config_map(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let n = count(obj, "/data") + count(obj, "/binaryData");
    vec![name(obj), n.into(), age(obj, now)]
}

pub(super) fn print_secret(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), st(obj, "/type").into(), count(obj, "/data").into(), age(obj, now)]
}

pub(super) fn print_namespace(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), st(obj, "/status/phase").into(), age(obj, now)]
}

pub(super) fn is_restartable_init(spec_inits: &[Value], name: &str) -> bool {
    spec_inits.iter().any(|c| st(c, "/name") == name && st(c, "/restartPolicy") == "Always")
}

pub(super) fn has_condition(obj: &Value, ptr: &str, ty: &str) -> bool {
    arr(obj, ptr).iter().any(|c| st(c, "/type") == ty && st(c, "/status") == "True")
}

pub(super) fn terminated_reason(term: &Value, prefix: &str) -> String {
    let reason = st(term, "/reason");
    if !reason.is_empty() {
        return format!("{prefix}{reason}");
    }
    let signal = int(term, "/signal");
    if signal != 0 {
        format!("{prefix}Signal:{signal}")
    } else {
        format!("{prefix}ExitCode:{}", int(term, "/exitCode"))
    }
}

pub(super) fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

pub(super) fn print_pod(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let inits = arr(pod, "/spec/initContainers");
    let mut total = arr(pod, "/spec/containers").len();
    total += inits.iter().filter(|c| st(c, "/restartPolicy") == "Always").count();
    let mut ready = 0usize;
    let mut restarts = 0i64;
    let mut sidecar_restarts = 0i64;
    let mut last_restart: Option<DateTime<Utc>> = None;
    let mut sidecar_last_restart: Option<DateTime<Utc>> = None;

    let phase = st(pod, "/status/phase");
    let mut reason = phase.to_string();
    if !st(pod, "/status/reason").is_empty() {
        reason = st(pod, "/status/reason").to_string();
    }
    for c in arr(pod, "/status/conditions") {
        if st(c, "/type") == "PodScheduled" && st(c, "/reason") == "SchedulingGated" {
            reason = "SchedulingGated".into();
        }
    }

    let mut initializing = false;
    for (i, c) in arr(pod, "/status/initContainerStatuses").iter().enumerate() {
        restarts += int(c, "/restartCount");
        let finished = parse_time(c.pointer("/lastState/terminated/finishedAt"));
        last_restart = later(last_restart, finished);
        let sidecar = is_restartable_init(inits, st(c, "/name"));
        if sidecar {
            sidecar_restarts += int(c, "/restartCount");
            sidecar_last_restart = later(sidecar_last_restart, finished);
        }
        let term = c.pointer("/state/terminated").filter(|t| t.is_object());
        let waiting_reason = st(c, "/state/waiting/reason");
        if term.is_some_and(|t| int(t, "/exitCode") == 0) {
            continue;
        }
        if sidecar && c.get("started").and_then(Value::as_bool).unwrap_or(false) {
            if c.get("ready").and_then(Value::as_bool).unwrap_or(false) {
                ready += 1;
            }
            continue;
        }
        if let Some(t) = term {
            reason = terminated_reason(t, "Init:");
        } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
            reason = format!("Init:{waiting_reason}");
        } else {
            reason = format!("Init:{i}/{}", inits.len());
        }
        initializing = true;
        break;
    }

    if !initializing || has_condition(pod, "/status/conditions", "Initialized") {
        restarts = sidecar_restarts;
        last_restart = sidecar_last_restart;
        let mut has_running = false;
        for c in arr(pod, "/status/containerStatuses").iter().rev() {
            restarts += int(c, "/restartCount");
            last_restart = later(last_restart, parse_time(c.pointer("/lastState/terminated/finishedAt")));
            let waiting = st(c, "/state/waiting/reason");
            let term = c.pointer("/state/terminated").filter(|t| t.is_object());
            if !waiting.is_empty() {
                reason = waiting.to_string();
            } else if let Some(t) = term {
                reason = terminated_reason(t, "");
            } else if c.get("ready").and_then(Value::as_bool).unwrap_or(false)
                && c.pointer("/state/running").is_some_and(Value::is_object)
            {
                has_running = true;
                ready += 1;
            }
        }
        if reason == "Completed" && has_running {
            reason =
                if has_condition(pod, "/status/conditions", "Ready") { "Running".into() } else { "NotReady".into() };
        }
    }

    let deleting = pod.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null());
    if deleting && st(pod, "/status/reason") == "NodeLost" {
        reason = "Unknown".into();
    } else if deleting && phase != "Succeeded" && phase != "Failed" {
        reason = "Terminating".into();
    }

    let restarts_cell = match last_restart {
        Some(t) if restarts != 0 => format!("{restarts} ({} ago)", human_duration(now.signed_duration_since(t))),
        _ => restarts.to_string(),
    };

    let mut ip = arr(pod, "/status/podIPs").first().map(|p| st(p, "/ip")).unwrap_or_default();
    if ip.is_empty() {
        ip = st(pod, "/status/podIP");
    }
    let gates = arr(pod, "/spec/readinessGates");
    let gates_cell = if gates.is_empty() {
        NONE.to_string()
    } else {
        let ok = gates.iter().filter(|g| has_condition(pod, "/status/conditions", st(g, "/conditionType"))).count();
        format!("{ok}/{}", gates.len())
    };
    vec![
        name(pod),
        format!("{ready}/{total}").into(),
        reason.into(),
        restarts_cell.into(),
        age(pod, now),
        or_none(ip).into(),
        or_none(st(pod, "/spec/nodeName")).into(),
        or_none(st(pod, "/status/nominatedNodeName")).into(),
        gates_cell.into(),
    ]
}

pub(super) fn service_external_ip(svc: &Value) -> String {
    let external: Vec<&str> = arr(svc, "/spec/externalIPs").iter().filter_map(Value::as_str).collect();
    match st(svc, "/spec/type") {
        "ClusterIP" | "NodePort" | "" => {
            if external.is_empty() {
                NONE.into()
            } else {
                external.join(",")
            }
        }
        "LoadBalancer" => {
            let mut ips: Vec<&str> = arr(svc, "/status/loadBalancer/ingress")
                .iter()
                .map(|i| if st(i, "/ip").is_empty() { st(i, "/hostname") } else { st(i, "/ip") })
                .filter(|s| !s.is_empty())
                .collect();
            ips.extend(external);
            if ips.is_empty() {
                "<pending>".into()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => st(svc, "/spec/externalName").into(),
        _ => UNKNOWN.into(),
    }
}

pub(super) fn print_service(svc: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let ports: Vec<String> = arr(svc, "/spec/ports")
        .iter()
        .map(|p| {
            let proto = st(p, "/protocol");
            let node_port = int(p, "/nodePort");
            if node_port != 0 {
                format!("{}:{node_port}/{proto}", int(p, "/port"))
            } else {
                format!("{}/{proto}", int(p, "/port"))
            }
        })
        .collect();
    vec![
        name(svc),
        st(svc, "/spec/type").into(),
        or_none(st(svc, "/spec/clusterIP")).into(),
        service_external_ip(svc).into(),
        or_none(&ports.join(",")).into(),
        age(svc, now),
        format_labels(svc.pointer("/spec/selector")).into(),
    ]
}

pub(super) fn node_address(node: &Value, ty: &str) -> String {
    let addr = arr(node, "/status/addresses").iter().find(|a| st(a, "/type") == ty);
    or_none(addr.map(|a| st(a, "/address")).unwrap_or_default())
}

pub(super) fn print_node(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut status: Vec<&str> = Vec::new();
    if let Some(c) = arr(node, "/status/conditions").iter().rev().find(|c| st(c, "/type") == "Ready") {
        status.push(if st(c, "/status") == "True" { "Ready" } else { "NotReady" });
    }
    if status.is_empty() {
        status.push("Unknown");
    }
    if node.pointer("/spec/unschedulable").and_then(Value::as_bool).unwrap_or(false) {
        status.push("SchedulingDisabled");
    }
    let mut roles: Vec<&str> = Vec::new();
    if let Some(labels) = node.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                if !role.is_empty() {
                    roles.push(role);
                }
            } else if k == "kubernetes.io/role" {
                if let Some(role) = v.as_str().filter(|r| !r.is_empty()) {
                    roles.push(role);
                }
            }
        }
    }
    roles.sort_unstable();
    roles.dedup();
    let unknown = |s: &str| if s.is_empty() { UNKNOWN.to_string() } else { s.to_string() };
    vec![
        name(node),
        status.join(",").into(),
        or_none(&roles.join(",")).into(),
        age(node, now),
        st(node, "/status/nodeInfo/kubeletVersion").into(),
        node_address(node, "InternalIP").into(),
        node_address(node, "ExternalIP").into(),
        unknown(st(node, "/status/nodeInfo/osImage")).into(),
        unknown(st(node, "/status/nodeInfo/kernelVersion")).into(),
        unknown(st(node, "/status/nodeInfo/containerRuntimeVersion")).into(),
    ]
}

pub(super) fn print_service_account(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), arr(obj, "/secrets").len().into(), age(obj, now)]
}

/// Upstream's formatEndpoints: at most 3 `ip:port` entries, then " + N more...".
pub(super) fn print_endpoints(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    const MAX: usize = 3;
    let subsets = arr(obj, "/subsets");
    let mut list: Vec<String> = Vec::new();
    let mut more = false;
    let mut total = 0usize;
    for ss in subsets {
        let addrs = arr(ss, "/addresses");
        let ports = arr(ss, "/ports");
        if ports.is_empty() {
            total += addrs.len();
            for a in addrs {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                list.push(st(a, "/ip").to_string());
            }
            continue;
        }
        for p in ports {
            total += addrs.len();
            for a in addrs {
                if list.len() == MAX {
                    more = true;
                    break;
                }
                let ip = st(a, "/ip");
                let port = int(p, "/port");
                list.push(if ip.contains(':') { format!("[{ip}]:{port}") } else { format!("{ip}:{port}") });
            }
        }
    }
    let mut text = list.join(",");
    if more {
        text = format!("{text} + {} more...", total.saturating_sub(MAX));
    } else if text.is_empty() {
        text = NONE.into();
    }
    vec![name(obj), text.into(), age(obj, now)]
}

/// Upstream's translateTimestampSince, with an absent time treated as zero.
pub(super) fn event_since(obj: &Value, ptr: &str, now: DateTime<Utc>) -> Option<String> {
    parse_time(obj.pointer(ptr)).map(|t| human_duration(now.signed_duration_since(t)))
}

pub(super) fn print_event(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let first = event_since(obj, "/firstTimestamp", now).unwrap_or_else(|| since(obj.pointer("/eventTime"), now));
    let mut last = event_since(obj, "/lastTimestamp", now).unwrap_or_else(|| first.clone());
    let mut n = int(obj, "/count");
    if let Some(series) = obj.get("series").filter(|s| s.is_object()) {
        last = since(series.get("lastObservedTime"), now);
        n = int(series, "/count");
    } else if n == 0 {
        n = 1;
    }
    let kind = st(obj, "/involvedObject/kind").to_lowercase();
    let target = match st(obj, "/involvedObject/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let first_non_empty = |a: &'static str, b: &'static str| {
        let v = st(obj, a);
        if v.is_empty() {
            st(obj, b)
        } else {
            v
        }
    };
    let component = first_non_empty("/source/component", "/reportingComponent");
    let instance = first_non_empty("/source/host", "/reportingInstance");
    let source = if instance.is_empty() { component.to_string() } else { format!("{component}, {instance}") };
    vec![
        last.into(),
        st(obj, "/type").into(),
        st(obj, "/reason").into(),
        target.into(),
        st(obj, "/involvedObject/fieldPath").into(),
        source.into(),
        st(obj, "/message").trim().into(),
        first.into(),
        n.into(),
        name(obj),
    ]
}

/// Upstream's GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order, deduplicated.
pub(super) fn access_modes(obj: &Value, ptr: &str) -> String {
    let modes: Vec<&str> = arr(obj, ptr).iter().filter_map(Value::as_str).collect();
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(m, _)| modes.contains(m))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// Storage class of a PV or PVC: the beta annotation wins over spec.storageClassName.
pub(super) fn storage_class(obj: &Value) -> String {
    let ann = obj.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class").and_then(Value::as_str);
    ann.unwrap_or_else(|| st(obj, "/spec/storageClassName")).to_string()
}

pub(super) fn unset(obj: &Value, ptr: &str) -> String {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("<unset>").to_string()
}

pub(super) fn phase_or_terminating(obj: &Value) -> &str {
    if obj.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        "Terminating"
    } else {
        st(obj, "/status/phase")
    }
}

pub(super) fn print_pvc(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let volume = st(obj, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        (st(obj, "/status/capacity/storage").to_string(), access_modes(obj, "/status/accessModes"))
    };
    vec![
        name(obj),
        phase_or_terminating(obj).into(),
        volume.into(),
        capacity.into(),
        modes.into(),
        storage_class(obj).into(),
        unset(obj, "/spec/volumeAttributesClassName").into(),
        age(obj, now),
        unset(obj, "/spec/volumeMode").into(),
    ]
}

pub(super) fn print_pv(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let claim = match obj.pointer("/spec/claimRef").filter(|c| c.is_object()) {
        Some(c) => format!("{}/{}", st(c, "/namespace"), st(c, "/name")),
        None => String::new(),
    };
    vec![
        name(obj),
        st(obj, "/spec/capacity/storage").into(),
        access_modes(obj, "/spec/accessModes").into(),
        st(obj, "/spec/persistentVolumeReclaimPolicy").into(),
        phase_or_terminating(obj).into(),
        claim.into(),
        storage_class(obj).into(),
        unset(obj, "/spec/volumeAttributesClassName").into(),
        st(obj, "/status/reason").into(),
        age(obj, now),
        unset(obj, "/spec/volumeMode").into(),
    ]
}

/// A quantity as stored (a string, or a number from a hand-written object).
pub(super) fn quantity(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Upstream's printResourceQuota: `name: used/hard` per hard limit, sorted by name; `limits.*`
/// go to the Limit column, everything else to Request.
pub(super) fn print_resource_quota(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut resources: Vec<&String> =
        obj.pointer("/status/hard").and_then(Value::as_object).map(|m| m.keys().collect()).unwrap_or_default();
    resources.sort();
    let (mut requests, mut limits) = (Vec::new(), Vec::new());
    for r in resources {
        let used = quantity(obj.pointer("/status/used").and_then(|u| u.get(r.as_str()))).unwrap_or_else(|| "0".into());
        let hard = quantity(obj.pointer("/status/hard").and_then(|h| h.get(r.as_str()))).unwrap_or_else(|| "0".into());
        let text = format!("{r}: {used}/{hard}");
        if r.split_once('.').is_some_and(|(first, _)| first == "limits") {
            limits.push(text);
        } else {
            requests.push(text);
        }
    }
    vec![name(obj), requests.join(", ").into(), limits.join(", ").into(), age(obj, now)]
}

/// PodTemplates have no Age column upstream.
pub(super) fn print_pod_template(obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = containers_images(obj.pointer("/template/spec"));
    vec![name(obj), containers.into(), images.into(), format_labels(obj.pointer("/template/metadata/labels")).into()]
}
