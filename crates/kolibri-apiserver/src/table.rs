//! `meta.k8s.io/v1` Tables for `kubectl get`, and PartialObjectMetadata.
//!
//! Column sets and cells follow upstream's `pkg/printers/internalversion/printers.go`;
//! kinds without a printer get upstream's default columns (Name, Age).

use chrono::{DateTime, Utc};
use kolibri_resources::ResourceDef;
use serde_json::{json, Map, Value};

use crate::handlers::Query;

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const CONTAINERS_DESCRIPTION: &str = "Names of each container in the template.";
const IMAGES_DESCRIPTION: &str = "Images referenced by each container in the template.";
const NONE: &str = "<none>";
const UNKNOWN: &str = "<unknown>";

/// One column definition of a Table.
#[derive(Clone, Copy)]
struct Col {
    name: &'static str,
    ty: &'static str,
    desc: &'static str,
    priority: u8,
}

const fn col(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    Col { name, ty, desc, priority: 0 }
}

const fn wide(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    Col { name, ty, desc, priority: 1 }
}

const NAME: Col = col("Name", "string", NAME_DESCRIPTION);
const AGE: Col = col("Age", "string", AGE_DESCRIPTION);
const CONTAINERS: Col = wide("Containers", "string", CONTAINERS_DESCRIPTION);
const IMAGES: Col = wide("Images", "string", IMAGES_DESCRIPTION);

/// Cells of one object's row, in the order of its kind's columns.
type Printer = fn(&Value, DateTime<Utc>) -> Vec<Value>;

/// A Table of `objects`. `list_meta` is the list's metadata (None for one object).
pub fn table(def: &ResourceDef, objects: &[Value], list_meta: Option<Value>, query: &Query, _single: bool) -> Value {
    let include = query.get("includeObject").unwrap_or("Metadata");
    let now = Utc::now();
    let (cols, print) = printer(&def.group, &def.kind);
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let mut row = json!({ "cells": print(obj, now) });
            match include {
                "None" => {}
                "Object" => row["object"] = obj.clone(),
                _ => row["object"] = partial_metadata(obj),
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta.unwrap_or_else(|| json!({})),
        "columnDefinitions": column_definitions(&cols),
        "rows": rows,
    })
}

fn column_definitions(cols: &[Col]) -> Vec<Value> {
    cols.iter()
        .map(|c| {
            let format = if c.name == "Name" { "name" } else { "" };
            json!({ "name": c.name, "type": c.ty, "format": format, "description": c.desc, "priority": c.priority })
        })
        .collect()
}

/// The columns and row printer of a kind; unknown kinds get Name and Age.
fn printer(group: &str, kind: &str) -> (Vec<Col>, Printer) {
    match (group, kind) {
        ("", "ConfigMap") => (
            vec![NAME, col("Data", "string", "Data contains the configuration data."), AGE],
            print_config_map,
        ),
        ("", "Secret") => (
            vec![
                NAME,
                col("Type", "string", "The type of the secret."),
                col("Data", "string", "Data contains the secret data."),
                AGE,
            ],
            print_secret,
        ),
        ("", "Namespace") => (
            vec![NAME, col("Status", "string", "The status of the namespace."), AGE],
            print_namespace,
        ),
        ("", "Pod") => (
            vec![
                NAME,
                col("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
                col("Status", "string", "The aggregate status of the containers in this pod."),
                col(
                    "Restarts",
                    "string",
                    "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
                ),
                AGE,
                wide("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated."),
                wide("Node", "string", "NodeName indicates in which node this pod is scheduled."),
                wide("Nominated Node", "string", "nominatedNodeName is set when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods."),
                wide("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness."),
            ],
            print_pod,
        ),
        ("apps", "Deployment") => (
            vec![
                NAME,
                col("Ready", "string", "Number of the pod with ready state"),
                col("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
                col("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
                AGE,
                CONTAINERS,
                IMAGES,
                wide("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment."),
            ],
            print_deployment,
        ),
        ("apps", "ReplicaSet") => (
            vec![
                NAME,
                col("Desired", "integer", "Replicas is the number of desired pods."),
                col("Current", "integer", "Replicas is the most recently observed number of non-terminating pods."),
                col("Ready", "integer", "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition."),
                AGE,
                CONTAINERS,
                IMAGES,
                wide("Selector", "string", "Selector is a label query over pods that should match the replica count."),
            ],
            print_replica_set,
        ),
        ("", "ReplicationController") => (
            vec![
                NAME,
                col("Desired", "integer", "Replicas is the number of desired replicas."),
                col("Current", "integer", "Replicas is the most recently observed number of replicas."),
                col("Ready", "integer", "The number of ready replicas for this replication controller."),
                AGE,
                CONTAINERS,
                IMAGES,
                wide("Selector", "string", "Selector is a label query over pods that should match the Replicas count."),
            ],
            print_replication_controller,
        ),
        ("apps", "StatefulSet") => (
            vec![NAME, col("Ready", "string", "Number of the pod with ready state"), AGE, CONTAINERS, IMAGES],
            print_stateful_set,
        ),
        ("apps", "DaemonSet") => (
            vec![
                NAME,
                col("Desired", "integer", "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod)."),
                col("Current", "integer", "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod."),
                col("Ready", "integer", "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition."),
                col("Up-to-date", "integer", "The total number of nodes that are running updated daemon pod"),
                col("Available", "integer", "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)"),
                col("Node Selector", "string", "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node."),
                AGE,
                CONTAINERS,
                IMAGES,
                wide("Selector", "string", "A label query over pods that are managed by the daemon set. Must match in order to be controlled."),
            ],
            print_daemon_set,
        ),
        ("batch", "Job") => (
            vec![
                NAME,
                col("Status", "string", "Status of the job."),
                col("Completions", "string", "The completion status of the job."),
                col("Duration", "string", "Time required to complete the job."),
                AGE,
                CONTAINERS,
                IMAGES,
                wide("Selector", "string", "A label query over pods that should match the pod count."),
            ],
            print_job,
        ),
        ("batch", "CronJob") => (
            vec![
                NAME,
                col("Schedule", "string", "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron."),
                col("Timezone", "string", "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
                col("Suspend", "boolean", "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions."),
                col("Active", "integer", "A list of pointers to currently running jobs."),
                col("Last Schedule", "string", "Information when was the last time the job was successfully scheduled."),
                AGE,
                CONTAINERS,
                IMAGES,
                wide("Selector", "string", "A label query over pods that should match the pod count."),
            ],
            print_cron_job,
        ),
        ("", "Service") => (
            vec![
                NAME,
                col("Type", "string", "type determines how the Service is exposed."),
                col("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
                col("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
                col("Port(s)", "string", "The list of ports that are exposed by this service."),
                AGE,
                wide("Selector", "string", "Route service traffic to pods with label keys and values matching this selector."),
            ],
            print_service,
        ),
        ("", "Node") => (
            vec![
                NAME,
                col("Status", "string", "The status of the node"),
                col("Roles", "string", "The roles of the node"),
                AGE,
                col("Version", "string", "Kubelet Version reported by the node."),
                wide("Internal-IP", "string", "List of addresses reachable to the node."),
                wide("External-IP", "string", "List of addresses reachable to the node."),
                wide("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
                wide("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
                wide("Container-Runtime", "string", "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2)."),
            ],
            print_node,
        ),
        ("", "ServiceAccount") => (
            vec![NAME, col("Secrets", "string", "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use."), AGE],
            print_service_account,
        ),
        ("", "Endpoints") => (
            vec![NAME, col("Endpoints", "string", "The set of all endpoints is the union of all subsets."), AGE],
            print_endpoints,
        ),
        ("coordination.k8s.io", "Lease") => (
            vec![NAME, col("Holder", "string", "holderIdentity contains the identity of the holder of a current lease."), AGE],
            print_lease,
        ),
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole") => (
            vec![NAME, col("Created At", "date", AGE_DESCRIPTION)],
            print_role,
        ),
        ("rbac.authorization.k8s.io", "RoleBinding") => (
            vec![
                NAME,
                col("Role", "string", "RoleRef can reference a Role in the current namespace or a ClusterRole in the global namespace."),
                AGE,
                wide("Users", "string", "Users in the roleBinding"),
                wide("Groups", "string", "Groups in the roleBinding"),
                wide("ServiceAccounts", "string", "ServiceAccounts in the roleBinding"),
            ],
            print_binding,
        ),
        ("rbac.authorization.k8s.io", "ClusterRoleBinding") => (
            vec![
                NAME,
                col("Role", "string", "RoleRef can only reference a ClusterRole in the global namespace."),
                AGE,
                wide("Users", "string", "Users in the clusterRoleBinding"),
                wide("Groups", "string", "Groups in the clusterRoleBinding"),
                wide("ServiceAccounts", "string", "ServiceAccounts in the clusterRoleBinding"),
            ],
            print_binding,
        ),
        ("", "Event") => (
            vec![
                col("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
                col("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
                col("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
                col("Object", "string", "The object that this event is about."),
                wide("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2]. For example, if the object reference is to a container within a pod, this would take on a value like: \"spec.containers{name}\" (where \"name\" refers to the name of the container that triggered the event) or if no container name is specified \"spec.containers[2]\" (container with index 2 in this pod). This syntax is chosen only to have some well-defined way of referencing a part of an object."),
                wide("Source", "string", "The component reporting this event. Should be a short machine understandable string."),
                col("Message", "string", "A human-readable description of the status of this operation."),
                wide("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)"),
                wide("Count", "string", "The number of times this event has occurred."),
                wide("Name", "string", NAME_DESCRIPTION),
            ],
            print_event,
        ),
        ("", "PersistentVolumeClaim") => (
            vec![
                NAME,
                col("Status", "string", "phase represents the current phase of PersistentVolumeClaim."),
                col("Volume", "string", "volumeName is the binding reference to the PersistentVolume backing this claim."),
                col("Capacity", "string", "capacity represents the actual resources of the underlying volume."),
                col("Access Modes", "string", "accessModes contains the actual access modes the volume backing the PVC has. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1"),
                col("StorageClass", "string", "StorageClass of the pvc"),
                col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc"),
                AGE,
                wide("VolumeMode", "string", "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec."),
            ],
            print_pvc,
        ),
        ("", "PersistentVolume") => (
            vec![
                NAME,
                col("Capacity", "string", "capacity is the description of the persistent volume's resources and capacity. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#capacity"),
                col("Access Modes", "string", "accessModes contains all ways the volume can be mounted. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes"),
                col("Reclaim Policy", "string", "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated). Recycle must be supported by the volume plugin underlying this PersistentVolume. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#reclaiming"),
                col("Status", "string", "phase indicates if a volume is available, bound to a claim, or released by a claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#phase"),
                col("Claim", "string", "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound. claim.VolumeName is the authoritative bind between PV and PVC. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#binding"),
                col("StorageClass", "string", "StorageClass of the pv"),
                col("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv"),
                col("Reason", "string", "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI."),
                AGE,
                wide("VolumeMode", "string", "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec."),
            ],
            print_pv,
        ),
        ("networking.k8s.io", "Ingress") => (
            vec![
                NAME,
                col("Class", "string", "The name of the IngressClass resource that should be used for additional configuration"),
                col("Hosts", "string", "Hosts that incoming requests are matched against before the ingress rule"),
                col("Address", "string", "Address is a list containing ingress points for the load-balancer"),
                col("Ports", "string", "Ports of TLS configurations that open"),
                AGE,
            ],
            print_ingress,
        ),
        ("networking.k8s.io", "IngressClass") => (
            vec![
                NAME,
                col("Controller", "string", "Controller that is responsible for handling this class"),
                col("Parameters", "string", "A reference to a resource with additional parameters"),
                AGE,
            ],
            print_ingress_class,
        ),
        ("networking.k8s.io", "NetworkPolicy") => (
            vec![
                NAME,
                col("Pod-Selector", "string", "podSelector selects the pods to which this NetworkPolicy object applies. The array of rules is applied to any pods selected by this field. An empty selector matches all pods in the policy's namespace. Multiple network policies can select the same set of pods. In this case, the ingress rules for each are combined additively. This field is optional. If it is not specified, it defaults to an empty selector."),
                AGE,
            ],
            print_network_policy,
        ),
        _ => (vec![NAME, AGE], print_default),
    }
}

// ---- field access (every field may be absent) ----

fn st<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

fn int(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn count(obj: &Value, ptr: &str) -> usize {
    obj.pointer(ptr).and_then(Value::as_object).map_or(0, Map::len)
}

fn parse_time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

/// Upstream's translateTimestampSince: "<unknown>" for a missing time.
fn since(v: Option<&Value>, now: DateTime<Utc>) -> String {
    parse_time(v).map_or_else(|| UNKNOWN.into(), |t| human_duration(now.signed_duration_since(t)))
}

fn name(obj: &Value) -> Value {
    Value::from(st(obj, "/metadata/name"))
}

fn age(obj: &Value, now: DateTime<Utc>) -> Value {
    Value::from(since(obj.pointer("/metadata/creationTimestamp"), now))
}

fn or_none(s: &str) -> String {
    if s.is_empty() {
        NONE.into()
    } else {
        s.into()
    }
}

/// Upstream's labels.FormatLabels: sorted `k=v` joined by ",", "<none>" when empty.
fn format_labels(v: Option<&Value>) -> String {
    let Some(map) = v.and_then(Value::as_object) else { return NONE.into() };
    let mut pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    if pairs.is_empty() {
        return NONE.into();
    }
    pairs.sort();
    pairs.join(",")
}

/// A metav1.LabelSelector as upstream's `labels.Selector.String()` (requirements sorted by key).
fn format_selector(v: Option<&Value>) -> String {
    let Some(sel) = v.filter(|v| v.is_object()) else { return String::new() };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for e in arr(sel, "/matchExpressions") {
        let key = st(e, "/key");
        let mut values: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let text = match st(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        reqs.push((key.to_string(), text));
    }
    reqs.sort();
    reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
}

/// Container names and images of a pod spec, joined by ",".
fn containers_images(spec: Option<&Value>) -> (String, String) {
    let containers = spec.and_then(|s| s.get("containers")).and_then(Value::as_array);
    let list = containers.map(Vec::as_slice).unwrap_or_default();
    let names: Vec<&str> = list.iter().map(|c| st(c, "/name")).collect();
    let images: Vec<&str> = list.iter().map(|c| st(c, "/image")).collect();
    (names.join(","), images.join(","))
}

// ---- printers ----

fn print_default(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), age(obj, now)]
}

fn print_config_map(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let n = count(obj, "/data") + count(obj, "/binaryData");
    vec![name(obj), n.into(), age(obj, now)]
}

fn print_secret(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), st(obj, "/type").into(), count(obj, "/data").into(), age(obj, now)]
}

fn print_namespace(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), st(obj, "/status/phase").into(), age(obj, now)]
}

fn is_restartable_init(spec_inits: &[Value], name: &str) -> bool {
    spec_inits.iter().any(|c| st(c, "/name") == name && st(c, "/restartPolicy") == "Always")
}

fn has_condition(obj: &Value, ptr: &str, ty: &str) -> bool {
    arr(obj, ptr).iter().any(|c| st(c, "/type") == ty && st(c, "/status") == "True")
}

fn terminated_reason(term: &Value, prefix: &str) -> String {
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

fn later(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

fn print_pod(pod: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn replicas(obj: &Value) -> i64 {
    obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1)
}

fn template_cells(obj: &Value, template: &str) -> (String, String) {
    containers_images(obj.pointer(template))
}

fn print_deployment(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    vec![
        name(obj),
        format!("{}/{}", int(obj, "/status/readyReplicas"), replicas(obj)).into(),
        int(obj, "/status/updatedReplicas").into(),
        int(obj, "/status/availableReplicas").into(),
        age(obj, now),
        containers.into(),
        images.into(),
        format_selector(obj.pointer("/spec/selector")).into(),
    ]
}

fn print_replica_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    vec![
        name(obj),
        replicas(obj).into(),
        int(obj, "/status/replicas").into(),
        int(obj, "/status/readyReplicas").into(),
        age(obj, now),
        containers.into(),
        images.into(),
        format_selector(obj.pointer("/spec/selector")).into(),
    ]
}

fn print_replication_controller(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    vec![
        name(obj),
        replicas(obj).into(),
        int(obj, "/status/replicas").into(),
        int(obj, "/status/readyReplicas").into(),
        age(obj, now),
        containers.into(),
        images.into(),
        format_labels(obj.pointer("/spec/selector")).into(),
    ]
}

fn print_stateful_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    vec![
        name(obj),
        format!("{}/{}", int(obj, "/status/readyReplicas"), replicas(obj)).into(),
        age(obj, now),
        containers.into(),
        images.into(),
    ]
}

fn print_daemon_set(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    vec![
        name(obj),
        int(obj, "/status/desiredNumberScheduled").into(),
        int(obj, "/status/currentNumberScheduled").into(),
        int(obj, "/status/numberReady").into(),
        int(obj, "/status/updatedNumberScheduled").into(),
        int(obj, "/status/numberAvailable").into(),
        format_labels(obj.pointer("/spec/template/spec/nodeSelector")).into(),
        age(obj, now),
        containers.into(),
        images.into(),
        format_selector(obj.pointer("/spec/selector")).into(),
    ]
}

fn print_job(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    let succeeded = int(obj, "/status/succeeded");
    let completions = match obj.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = int(obj, "/spec/parallelism");
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let start = parse_time(obj.pointer("/status/startTime"));
    let done = parse_time(obj.pointer("/status/completionTime"));
    let duration = match (start, done) {
        (None, _) => String::new(),
        (Some(s), None) => human_duration(now.signed_duration_since(s)),
        (Some(s), Some(d)) => human_duration(d.signed_duration_since(s)),
    };
    let conds = "/status/conditions";
    let status = if has_condition(obj, conds, "Complete") {
        "Complete"
    } else if has_condition(obj, conds, "Failed") {
        "Failed"
    } else if obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        "Terminating"
    } else if has_condition(obj, conds, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if has_condition(obj, conds, "Suspended") {
        "Suspended"
    } else if has_condition(obj, conds, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    vec![
        name(obj),
        status.into(),
        completions.into(),
        duration.into(),
        age(obj, now),
        containers.into(),
        images.into(),
        format_selector(obj.pointer("/spec/selector")).into(),
    ]
}

fn print_cron_job(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/jobTemplate/spec/template/spec");
    let tz = obj.pointer("/spec/timeZone").and_then(Value::as_str).unwrap_or(NONE);
    let suspend = match obj.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last = match obj.pointer("/status/lastScheduleTime").filter(|v| !v.is_null()) {
        Some(t) => since(Some(t), now),
        None => NONE.into(),
    };
    let selector = match obj.pointer("/spec/jobTemplate/spec/selector").filter(|v| !v.is_null()) {
        Some(s) => format_selector(Some(s)),
        None => NONE.into(),
    };
    vec![
        name(obj),
        st(obj, "/spec/schedule").into(),
        tz.into(),
        suspend.into(),
        arr(obj, "/status/active").len().into(),
        last.into(),
        age(obj, now),
        containers.into(),
        images.into(),
        selector.into(),
    ]
}

fn service_external_ip(svc: &Value) -> String {
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

fn print_service(svc: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn node_address(node: &Value, ty: &str) -> String {
    let addr = arr(node, "/status/addresses").iter().find(|a| st(a, "/type") == ty);
    or_none(addr.map(|a| st(a, "/address")).unwrap_or_default())
}

fn print_node(node: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn print_service_account(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), arr(obj, "/secrets").len().into(), age(obj, now)]
}

fn print_lease(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), st(obj, "/spec/holderIdentity").into(), age(obj, now)]
}

fn print_role(obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    let created = parse_time(obj.pointer("/metadata/creationTimestamp"))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    vec![name(obj), created.into()]
}

fn print_binding(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let role = format!("{}/{}", st(obj, "/roleRef/kind"), st(obj, "/roleRef/name"));
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in arr(obj, "/subjects") {
        match st(s, "/kind") {
            "User" => users.push(st(s, "/name").to_string()),
            "Group" => groups.push(st(s, "/name").to_string()),
            "ServiceAccount" => sas.push(format!("{}:{}", st(s, "/namespace"), st(s, "/name"))),
            _ => {}
        }
    }
    vec![
        name(obj),
        role.into(),
        age(obj, now),
        users.join(", ").into(),
        groups.join(", ").into(),
        sas.join(", ").into(),
    ]
}

/// Upstream's formatEndpoints: at most 3 `ip:port` entries, then " + N more...".
fn print_endpoints(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
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
fn event_since(obj: &Value, ptr: &str, now: DateTime<Utc>) -> Option<String> {
    parse_time(obj.pointer(ptr)).map(|t| human_duration(now.signed_duration_since(t)))
}

fn print_event(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
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
fn access_modes(obj: &Value, ptr: &str) -> String {
    let modes: Vec<&str> = arr(obj, ptr).iter().filter_map(Value::as_str).collect();
    [("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP")]
        .iter()
        .filter(|(m, _)| modes.contains(m))
        .map(|(_, short)| *short)
        .collect::<Vec<_>>()
        .join(",")
}

/// Storage class of a PV or PVC: the beta annotation wins over spec.storageClassName.
fn storage_class(obj: &Value) -> String {
    let ann = obj.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class").and_then(Value::as_str);
    ann.unwrap_or_else(|| st(obj, "/spec/storageClassName")).to_string()
}

fn unset(obj: &Value, ptr: &str) -> String {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or("<unset>").to_string()
}

fn phase_or_terminating(obj: &Value) -> &str {
    if obj.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
        "Terminating"
    } else {
        st(obj, "/status/phase")
    }
}

fn print_pvc(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn print_pv(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

/// Upstream's formatHosts: up to 3 non-empty hosts, "*" when none.
fn ingress_hosts(obj: &Value) -> String {
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

fn print_ingress(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
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

fn print_ingress_class(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let parameters = match obj.pointer("/spec/parameters").filter(|p| p.is_object()) {
        Some(p) => {
            let kind = match p.get("apiGroup").and_then(Value::as_str) {
                Some(g) => format!("{g}/{}", st(p, "/kind")),
                None => st(p, "/kind").to_string(),
            };
            format!("{kind}/{}", st(p, "/name"))
        }
        None => NONE.into(),
    };
    vec![name(obj), st(obj, "/spec/controller").into(), parameters.into(), age(obj, now)]
}

fn print_network_policy(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), or_none(&format_selector(obj.pointer("/spec/podSelector"))).into(), age(obj, now)]
}

/// An object reduced to its metadata.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| Value::Object(Map::new())),
    })
}

pub fn partial_metadata_list(objects: &[Value], list_meta: Value) -> Value {
    let items: Vec<Value> = objects.iter().map(partial_metadata).collect();
    json!({ "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "items": items })
}

/// Upstream's `duration.HumanDuration`: "5s", "3m10s", "5h", "2d3h", "1y20d".
pub fn human_duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = hours / 24;
        let y = days / 365;
        let rem = days % 365;
        return if rem == 0 { format!("{y}y") } else { format!("{y}y{rem}d") };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::human_duration;
    use chrono::Duration;

    #[test]
    fn durations_as_upstream() {
        assert_eq!(human_duration(Duration::seconds(5)), "5s");
        assert_eq!(human_duration(Duration::seconds(119)), "119s");
        assert_eq!(human_duration(Duration::seconds(190)), "3m10s");
        assert_eq!(human_duration(Duration::minutes(45)), "45m");
        assert_eq!(human_duration(Duration::minutes(5 * 60 + 3)), "5h3m");
        assert_eq!(human_duration(Duration::hours(30)), "30h");
        assert_eq!(human_duration(Duration::hours(51)), "2d3h");
        assert_eq!(human_duration(Duration::days(400)), "400d");
        assert_eq!(human_duration(Duration::days(3 * 365 + 20)), "3y20d");
    }
}

#[cfg(test)]
mod printer_tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 5, 1, 12, 0, 0).single().unwrap_or_default()
    }

    fn cells(group: &str, kind: &str, obj: Value) -> Vec<Value> {
        (printer(group, kind).1)(&obj, now())
    }

    /// (name, type, priority) of each column.
    fn cols(group: &str, kind: &str) -> Vec<(&'static str, &'static str, u8)> {
        printer(group, kind).0.iter().map(|c| (c.name, c.ty, c.priority)).collect()
    }

    #[test]
    fn table_has_column_definitions_and_rows() {
        let obj = json!({"metadata": {"name": "c"}, "data": {"a": "b", "c": "d"}});
        let registry = kolibri_resources::Registry::builtin();
        let Some(def) = registry.by_kind("", "v1", "ConfigMap") else { panic!("no ConfigMap") };
        let t = table(def, &[obj], None, &Query::default(), true);
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(names, ["Name", "Data", "Age"]);
        assert_eq!(t["columnDefinitions"][0]["format"], "name");
        assert_eq!(t["columnDefinitions"][1]["type"], "string");
        assert_eq!(t["rows"][0]["cells"], json!(["c", 2, "<unknown>"]));
        assert_eq!(t["rows"][0]["object"]["kind"], "PartialObjectMetadata");
    }

    #[test]
    fn unknown_kind_keeps_name_and_age() {
        assert_eq!(cols("example.com", "Widget"), [("Name", "string", 0), ("Age", "string", 0)]);
        let created = (now() - Duration::minutes(5)).to_rfc3339();
        let c = cells("example.com", "Widget", json!({"metadata": {"name": "w", "creationTimestamp": created}}));
        assert_eq!(c, [json!("w"), json!("5m")]);
    }

    #[test]
    fn every_kind_survives_empty_objects() {
        let kinds = [
            ("", "ConfigMap"),
            ("", "Secret"),
            ("", "Namespace"),
            ("", "Pod"),
            ("", "Service"),
            ("", "Node"),
            ("", "ServiceAccount"),
            ("", "Endpoints"),
            ("", "ReplicationController"),
            ("apps", "Deployment"),
            ("apps", "ReplicaSet"),
            ("apps", "StatefulSet"),
            ("apps", "DaemonSet"),
            ("batch", "Job"),
            ("batch", "CronJob"),
            ("coordination.k8s.io", "Lease"),
            ("rbac.authorization.k8s.io", "Role"),
            ("rbac.authorization.k8s.io", "ClusterRole"),
            ("rbac.authorization.k8s.io", "RoleBinding"),
            ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
            ("", "Event"),
            ("", "PersistentVolumeClaim"),
            ("", "PersistentVolume"),
            ("networking.k8s.io", "Ingress"),
            ("networking.k8s.io", "IngressClass"),
            ("networking.k8s.io", "NetworkPolicy"),
        ];
        let odd = [json!({}), json!(null), json!({"metadata": 5, "spec": "x", "status": []}), json!([1, 2])];
        for (g, k) in kinds {
            let (columns, print) = printer(g, k);
            assert!(columns.iter().any(|c| c.name == "Name"), "{k}");
            for o in &odd {
                assert_eq!(print(o, now()).len(), columns.len(), "{k} {o}");
            }
        }
    }

    #[test]
    fn config_map_and_secret() {
        let c =
            cells("", "ConfigMap", json!({"metadata": {"name": "c"}, "data": {"a": "1"}, "binaryData": {"b": "AA=="}}));
        assert_eq!(c, [json!("c"), json!(2), json!("<unknown>")]);
        assert_eq!(
            cols("", "Secret"),
            [("Name", "string", 0), ("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0)]
        );
        let c = cells("", "Secret", json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "", "b": ""}}));
        assert_eq!(c, [json!("s"), json!("Opaque"), json!(2), json!("<unknown>")]);
    }

    #[test]
    fn namespace_status() {
        let c = cells("", "Namespace", json!({"metadata": {"name": "n"}, "status": {"phase": "Terminating"}}));
        assert_eq!(c, [json!("n"), json!("Terminating"), json!("<unknown>")]);
    }

    #[test]
    fn pod_columns() {
        assert_eq!(
            cols("", "Pod"),
            [
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Status", "string", 0),
                ("Restarts", "string", 0),
                ("Age", "string", 0),
                ("IP", "string", 1),
                ("Node", "string", 1),
                ("Nominated Node", "string", 1),
                ("Readiness Gates", "string", 1),
            ]
        );
    }

    fn pod(status: Value) -> Value {
        json!({"metadata": {"name": "test1"}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}, "status": status})
    }

    #[test]
    fn pod_ready_and_restarts() {
        // Upstream TestPrintPod: one ready running container, restart counts summed.
        let p = pod(json!({"phase": "podPhase", "containerStatuses": [
            {"ready": true, "restartCount": 3, "state": {"running": {}}},
            {"restartCount": 3}
        ]}));
        let c = cells("", "Pod", p);
        assert_eq!(&c[..5], [json!("test1"), json!("1/2"), json!("podPhase"), json!("6"), json!("<unknown>")]);
        assert_eq!(&c[5..], [json!("<none>"), json!("<none>"), json!("<none>"), json!("<none>")]);
    }

    #[test]
    fn pod_container_reasons() {
        let p = pod(json!({"phase": "podPhase", "containerStatuses": [
            {"ready": true, "restartCount": 3, "state": {"running": {}}},
            {"restartCount": 3, "state": {"waiting": {"reason": "ContainerWaitingReason"}}}
        ]}));
        assert_eq!(cells("", "Pod", p)[2], "ContainerWaitingReason");
        let p = pod(json!({"phase": "podPhase", "containerStatuses": [
            {"state": {"terminated": {"reason": "ContainerTerminatedReason"}}},
            {"ready": true, "state": {"running": {}}}
        ]}));
        assert_eq!(cells("", "Pod", p)[2], "ContainerTerminatedReason");
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"state": {"terminated": {"exitCode": 2}}}
        ]}));
        assert_eq!(cells("", "Pod", p)[2], "ExitCode:2");
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"state": {"terminated": {"exitCode": 137, "signal": 9}}}
        ]}));
        assert_eq!(cells("", "Pod", p)[2], "Signal:9");
        // One running, one completed, without a Ready condition: NotReady.
        let p = pod(json!({"phase": "Running", "containerStatuses": [
            {"ready": false, "state": {"terminated": {"reason": "Completed", "exitCode": 0}}},
            {"ready": true, "state": {"running": {}}}
        ]}));
        let c = cells("", "Pod", p.clone());
        assert_eq!((&c[1], &c[2]), (&json!("1/2"), &json!("NotReady")));
        let mut ready = p;
        ready["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
        assert_eq!(cells("", "Pod", ready)[2], "Running");
    }

    #[test]
    fn pod_init_and_terminating() {
        let p = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"waiting": {"reason": "PodInitializing"}}}]}});
        let c = cells("", "Pod", p);
        assert_eq!((&c[1], &c[2]), (&json!("0/1"), &json!("Init:0/1")));
        let p = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]}});
        assert_eq!(cells("", "Pod", p)[2], "Init:CrashLoopBackOff");
        let p = json!({"metadata": {"name": "p"}, "spec": {"initContainers": [{"name": "i"}], "containers": [{"name": "c"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"terminated": {"exitCode": 1}}}]}});
        assert_eq!(cells("", "Pod", p)[2], "Init:ExitCode:1");
        let p = json!({"metadata": {"name": "p", "deletionTimestamp": "2024-05-01T11:00:00Z"}, "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Running"}});
        assert_eq!(cells("", "Pod", p)[2], "Terminating");
        let p = json!({"metadata": {"name": "p", "deletionTimestamp": "2024-05-01T11:00:00Z"}, "spec": {"containers": [{"name": "c"}]},
            "status": {"phase": "Succeeded"}});
        assert_eq!(cells("", "Pod", p)[2], "Succeeded");
    }

    #[test]
    fn pod_restarts_ago_and_wide() {
        let p = json!({"metadata": {"name": "p"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}], "readinessGates": [{"conditionType": "g1"}, {"conditionType": "g2"}]},
            "status": {"phase": "Running", "podIPs": [{"ip": "10.42.0.5"}], "nominatedNodeName": "n2",
                "conditions": [{"type": "g1", "status": "True"}, {"type": "g2", "status": "False"}],
                "containerStatuses": [{"ready": true, "restartCount": 3, "state": {"running": {}},
                    "lastState": {"terminated": {"finishedAt": "2024-05-01T11:50:00Z"}}}]}});
        let c = cells("", "Pod", p);
        assert_eq!(c[3], "3 (10m ago)");
        assert_eq!(&c[5..], [json!("10.42.0.5"), json!("n1"), json!("n2"), json!("1/2")]);
    }

    #[test]
    fn deployment_cells() {
        assert_eq!(
            cols("apps", "Deployment"),
            [
                ("Name", "string", 0),
                ("Ready", "string", 0),
                ("Up-to-date", "string", 0),
                ("Available", "string", 0),
                ("Age", "string", 0),
                ("Containers", "string", 1),
                ("Images", "string", 1),
                ("Selector", "string", 1),
            ]
        );
        let d = json!({"metadata": {"name": "test1"},
            "spec": {"replicas": 5, "selector": {"matchLabels": {"foo": "bar"}},
                "template": {"spec": {"containers": [{"name": "fake-container1", "image": "fake-image1"}, {"name": "fake-container2", "image": "fake-image2"}]}}},
            "status": {"replicas": 10, "updatedReplicas": 2, "availableReplicas": 1, "readyReplicas": 1}});
        assert_eq!(
            cells("apps", "Deployment", d),
            [
                json!("test1"),
                json!("1/5"),
                json!(2),
                json!(1),
                json!("<unknown>"),
                json!("fake-container1,fake-container2"),
                json!("fake-image1,fake-image2"),
                json!("foo=bar"),
            ]
        );
    }

    #[test]
    fn selector_strings() {
        let sel = json!({"matchLabels": {"z": "1", "app": "d"}, "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["b", "a"]},
            {"key": "env", "operator": "NotIn", "values": ["prod"]},
            {"key": "x", "operator": "Exists"},
            {"key": "y", "operator": "DoesNotExist"}
        ]});
        assert_eq!(format_selector(Some(&sel)), "app=d,env notin (prod),tier in (a,b),x,!y,z=1");
        assert_eq!(format_labels(Some(&json!({}))), "<none>");
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
    }

    #[test]
    fn replica_set_stateful_set_daemon_set() {
        let rs = json!({"metadata": {"name": "rs"}, "spec": {"replicas": 5, "selector": {"matchLabels": {"foo": "bar"}},
            "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}, "status": {"replicas": 5, "readyReplicas": 2}});
        assert_eq!(
            cells("apps", "ReplicaSet", rs),
            [json!("rs"), json!(5), json!(5), json!(2), json!("<unknown>"), json!("c"), json!("i"), json!("foo=bar")]
        );
        let ss =
            json!({"metadata": {"name": "ss"}, "spec": {"replicas": 5}, "status": {"replicas": 5, "readyReplicas": 2}});
        assert_eq!(
            cells("apps", "StatefulSet", ss),
            [json!("ss"), json!("2/5"), json!("<unknown>"), json!(""), json!("")]
        );
        let ds = json!({"metadata": {"name": "ds"}, "spec": {"template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"}}}},
            "status": {"desiredNumberScheduled": 3, "currentNumberScheduled": 2, "numberReady": 1, "updatedNumberScheduled": 2, "numberAvailable": 0}});
        let c = cells("apps", "DaemonSet", ds);
        assert_eq!(
            &c[..8],
            [
                json!("ds"),
                json!(3),
                json!(2),
                json!(1),
                json!(2),
                json!(0),
                json!("kubernetes.io/os=linux"),
                json!("<unknown>")
            ]
        );
    }

    #[test]
    fn job_and_cron_job() {
        let j = json!({"metadata": {"name": "job1"}, "spec": {"completions": 2},
            "status": {"succeeded": 1, "startTime": "2024-05-01T11:00:00Z", "completionTime": "2024-05-01T11:03:10Z"}});
        let c = cells("batch", "Job", j);
        assert_eq!(&c[..4], [json!("job1"), json!("Running"), json!("1/2"), json!("3m10s")]);
        let j = json!({"metadata": {"name": "job2"}, "spec": {"parallelism": 2},
            "status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        let c = cells("batch", "Job", j);
        assert_eq!(&c[..4], [json!("job2"), json!("Complete"), json!("0/1 of 2"), json!("")]);
        let j = json!({"metadata": {"name": "job3"}, "status": {"conditions": [{"type": "Failed", "status": "True"}]}});
        assert_eq!(cells("batch", "Job", j)[1..3], [json!("Failed"), json!("0/1")]);

        assert_eq!(
            cols("batch", "CronJob")[..6],
            [
                ("Name", "string", 0),
                ("Schedule", "string", 0),
                ("Timezone", "string", 0),
                ("Suspend", "boolean", 0),
                ("Active", "integer", 0),
                ("Last Schedule", "string", 0),
            ]
        );
        let cj = json!({"metadata": {"name": "cj"}, "spec": {"schedule": "0/5 * * * ?", "suspend": false},
            "status": {"lastScheduleTime": "2024-05-01T11:50:00Z", "active": [{}]}});
        let c = cells("batch", "CronJob", cj);
        assert_eq!(
            &c[..6],
            [json!("cj"), json!("0/5 * * * ?"), json!("<none>"), json!("False"), json!(1), json!("10m")]
        );
        assert_eq!(c[9], "<none>");
    }

    #[test]
    fn services() {
        let s = json!({"metadata": {"name": "s"}, "spec": {"type": "NodePort", "clusterIP": "10.43.0.10",
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}], "selector": {"app": "x"}}});
        assert_eq!(
            cells("", "Service", s),
            [
                json!("s"),
                json!("NodePort"),
                json!("10.43.0.10"),
                json!("<none>"),
                json!("80:30080/TCP,53/UDP"),
                json!("<unknown>"),
                json!("app=x")
            ]
        );
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "clusterIP": "10.43.0.11"}});
        let c = cells("", "Service", lb);
        assert_eq!((&c[3], &c[4], &c[6]), (&json!("<pending>"), &json!("<none>"), &json!("<none>")));
        let lb = json!({"metadata": {"name": "lb"}, "spec": {"type": "LoadBalancer", "externalIPs": ["3.3.3.3"]},
            "status": {"loadBalancer": {"ingress": [{"ip": "2.2.2.2"}]}}});
        assert_eq!(cells("", "Service", lb)[3], "2.2.2.2,3.3.3.3");
        let en = json!({"metadata": {"name": "en"}, "spec": {"type": "ExternalName", "externalName": "example.com"}});
        let c = cells("", "Service", en);
        assert_eq!((&c[2], &c[3]), (&json!("<none>"), &json!("example.com")));
    }

    #[test]
    fn nodes() {
        let n = json!({"metadata": {"name": "n1", "labels": {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true", "kubernetes.io/role": "node"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian"},
                "addresses": [{"type": "InternalIP", "address": "192.168.1.2"}]}});
        assert_eq!(
            cells("", "Node", n),
            [
                json!("n1"),
                json!("Ready,SchedulingDisabled"),
                json!("control-plane,master,node"),
                json!("<unknown>"),
                json!("v1.33.0"),
                json!("192.168.1.2"),
                json!("<none>"),
                json!("Debian"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        let n = json!({"metadata": {"name": "n2"}, "status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        let c = cells("", "Node", n);
        assert_eq!((&c[1], &c[2]), (&json!("NotReady"), &json!("<none>")));
        assert_eq!(cells("", "Node", json!({"metadata": {"name": "n3"}}))[1], "Unknown");
    }

    #[test]
    fn endpoints_sa_lease_rbac() {
        let ep = json!({"metadata": {"name": "e"}, "subsets": [{"addresses": [{"ip": "1.1.1.1"}, {"ip": "2.2.2.2"}], "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(cells("", "Endpoints", ep)[1], "1.1.1.1:80,2.2.2.2:80,1.1.1.1:443 + 1 more...");
        assert_eq!(cells("", "Endpoints", json!({"metadata": {"name": "e"}}))[1], "<none>");
        let sa = json!({"metadata": {"name": "default"}, "secrets": [{"name": "x"}]});
        assert_eq!(cells("", "ServiceAccount", sa), [json!("default"), json!(1), json!("<unknown>")]);
        let l = json!({"metadata": {"name": "l"}, "spec": {"holderIdentity": "node-1"}});
        assert_eq!(cells("coordination.k8s.io", "Lease", l)[1], "node-1");
        let rb = json!({"metadata": {"name": "rb"}, "roleRef": {"kind": "ClusterRole", "name": "admin"},
            "subjects": [{"kind": "User", "name": "u1"}, {"kind": "User", "name": "u2"}, {"kind": "Group", "name": "g"},
                {"kind": "ServiceAccount", "name": "sa", "namespace": "ns"}]});
        assert_eq!(
            cells("rbac.authorization.k8s.io", "RoleBinding", rb),
            [json!("rb"), json!("ClusterRole/admin"), json!("<unknown>"), json!("u1, u2"), json!("g"), json!("ns:sa")]
        );
        let r = json!({"metadata": {"name": "r", "creationTimestamp": "2024-04-01T10:00:00Z"}});
        assert_eq!(cells("rbac.authorization.k8s.io", "Role", r), [json!("r"), json!("2024-04-01T10:00:00Z")]);
    }

    #[test]
    fn events() {
        assert_eq!(
            cols("", "Event"),
            [
                ("Last Seen", "string", 0),
                ("Type", "string", 0),
                ("Reason", "string", 0),
                ("Object", "string", 0),
                ("Subobject", "string", 1),
                ("Source", "string", 1),
                ("Message", "string", 0),
                ("First Seen", "string", 1),
                ("Count", "string", 1),
                ("Name", "string", 1),
            ]
        );
        let e = json!({"metadata": {"name": "p.1"}, "type": "Normal", "reason": "Pulled", "message": " done \n",
            "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{c}"},
            "source": {"component": "kubelet", "host": "n1"}, "count": 3,
            "firstTimestamp": "2024-05-01T11:00:00Z", "lastTimestamp": "2024-05-01T11:55:00Z"});
        assert_eq!(
            cells("", "Event", e),
            [
                json!("5m"),
                json!("Normal"),
                json!("Pulled"),
                json!("pod/p"),
                json!("spec.containers{c}"),
                json!("kubelet, n1"),
                json!("done"),
                json!("60m"),
                json!(3),
                json!("p.1")
            ]
        );
        let e = json!({"metadata": {"name": "x"}, "involvedObject": {"kind": "Node"}, "eventTime": "2024-05-01T11:59:30.000000Z",
            "reportingComponent": "ctrl", "series": {"count": 7, "lastObservedTime": "2024-05-01T11:59:50.000000Z"}});
        let c = cells("", "Event", e);
        assert_eq!(
            (&c[0], &c[3], &c[5], &c[7], &c[8]),
            (&json!("10s"), &json!("node"), &json!("ctrl"), &json!("30s"), &json!(7))
        );
        let c = cells("", "Event", json!({"metadata": {"name": "y"}}));
        assert_eq!((&c[0], &c[7], &c[8]), (&json!("<unknown>"), &json!("<unknown>"), &json!(1)));
    }

    #[test]
    fn persistent_volumes_and_claims() {
        let pvc = json!({"metadata": {"name": "data", "annotations": {"volume.beta.kubernetes.io/storage-class": "old"}},
            "spec": {"volumeName": "pv1", "storageClassName": "local-path", "volumeMode": "Filesystem"},
            "status": {"phase": "Bound", "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce", "ReadWriteOncePod"]}});
        assert_eq!(
            cells("", "PersistentVolumeClaim", pvc),
            [
                json!("data"),
                json!("Bound"),
                json!("pv1"),
                json!("1Gi"),
                json!("RWO,RWX,RWOP"),
                json!("old"),
                json!("<unset>"),
                json!("<unknown>"),
                json!("Filesystem")
            ]
        );
        let pending = json!({"metadata": {"name": "p", "deletionTimestamp": "2024-05-01T11:00:00Z"},
            "spec": {"storageClassName": "fast", "volumeAttributesClassName": "gold"}, "status": {"phase": "Pending", "capacity": {"storage": "1Gi"}}});
        let c = cells("", "PersistentVolumeClaim", pending);
        assert_eq!(&c[1..7], [json!("Terminating"), json!(""), json!(""), json!(""), json!("fast"), json!("gold")]);
        assert_eq!(cols("", "PersistentVolumeClaim")[8], ("VolumeMode", "string", 1));
        let pv = json!({"metadata": {"name": "pv1"}, "spec": {"capacity": {"storage": "5Gi"}, "accessModes": ["ReadOnlyMany"],
            "persistentVolumeReclaimPolicy": "Delete", "claimRef": {"namespace": "ns", "name": "data"}, "storageClassName": "local-path",
            "volumeMode": "Block"}, "status": {"phase": "Bound", "reason": "Why"}});
        assert_eq!(
            cells("", "PersistentVolume", pv),
            [
                json!("pv1"),
                json!("5Gi"),
                json!("ROX"),
                json!("Delete"),
                json!("Bound"),
                json!("ns/data"),
                json!("local-path"),
                json!("<unset>"),
                json!("Why"),
                json!("<unknown>"),
                json!("Block")
            ]
        );
        let c = cells("", "PersistentVolume", json!({"metadata": {"name": "pv2"}}));
        assert_eq!((&c[2], &c[5], &c[10]), (&json!(""), &json!(""), &json!("<unset>")));
    }

    #[test]
    fn ingress_and_network_policy() {
        assert_eq!(
            cols("networking.k8s.io", "Ingress"),
            [
                ("Name", "string", 0),
                ("Class", "string", 0),
                ("Hosts", "string", 0),
                ("Address", "string", 0),
                ("Ports", "string", 0),
                ("Age", "string", 0)
            ]
        );
        let ing = json!({"metadata": {"name": "i"}, "spec": {"ingressClassName": "traefik", "tls": [{"hosts": ["a"]}],
            "rules": [{"host": "a.example"}, {}, {"host": "b.example"}, {"host": "c.example"}, {"host": "d.example"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "10.0.0.2"}, {"hostname": "lb.example"}, {"ip": "10.0.0.2"}]}}});
        assert_eq!(
            cells("networking.k8s.io", "Ingress", ing),
            [
                json!("i"),
                json!("traefik"),
                json!("a.example,b.example,c.example + 2 more..."),
                json!("10.0.0.2,lb.example"),
                json!("80, 443"),
                json!("<unknown>")
            ]
        );
        let c = cells("networking.k8s.io", "Ingress", json!({"metadata": {"name": "j"}, "spec": {"rules": [{}]}}));
        assert_eq!(&c[1..5], [json!("<none>"), json!("*"), json!(""), json!("80")]);
        let ic = json!({"metadata": {"name": "traefik"}, "spec": {"controller": "traefik.io/ingress-controller",
            "parameters": {"apiGroup": "k8s.example.com", "kind": "IngressParameters", "name": "p"}}});
        assert_eq!(
            cells("networking.k8s.io", "IngressClass", ic),
            [
                json!("traefik"),
                json!("traefik.io/ingress-controller"),
                json!("k8s.example.com/IngressParameters/p"),
                json!("<unknown>")
            ]
        );
        let ic = json!({"metadata": {"name": "x"}, "spec": {"controller": "c", "parameters": {"kind": "ConfigMap", "name": "p"}}});
        assert_eq!(cells("networking.k8s.io", "IngressClass", ic)[2], "ConfigMap/p");
        assert_eq!(cells("networking.k8s.io", "IngressClass", json!({"metadata": {"name": "y"}}))[2], "<none>");
        let np = json!({"metadata": {"name": "np"}, "spec": {"podSelector": {"matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "Exists"}]}}});
        assert_eq!(
            cells("networking.k8s.io", "NetworkPolicy", np),
            [json!("np"), json!("app=web,tier"), json!("<unknown>")]
        );
        let np = json!({"metadata": {"name": "all"}, "spec": {"podSelector": {}}});
        assert_eq!(cells("networking.k8s.io", "NetworkPolicy", np)[1], "<none>");
    }
}
