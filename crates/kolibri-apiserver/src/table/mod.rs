//! `meta.k8s.io/v1` Tables for `kubectl get`, and PartialObjectMetadata.
//!
//! Column sets and cells follow upstream's `pkg/printers/internalversion/printers.go`;
//! built-in kinds without a printer get upstream's default convertor (Name, Created At),
//! custom resources Name and Age.

use chrono::{DateTime, Utc};
use kolibri_resources::ResourceDef;
use serde_json::{json, Map, Value};

use crate::handlers::Query;

mod admissionregistration_v1;
mod apps_v1;
mod autoscaling;
mod batch_v1;
mod cells;
mod certificates_v1;
mod coordination_v1;
mod core_v1;
mod custom;
mod discovery_v1;
mod events_v1;
mod networking_v1;
mod node_v1;
mod policy_v1;
mod rbac_v1;
mod scheduling_v1;
mod storage_v1;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_kinds;

use apps_v1::*;
use batch_v1::*;
use cells::*;
use coordination_v1::*;
use core_v1::*;
use networking_v1::*;
use rbac_v1::*;

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
    format: &'static str,
}

/// A column; a "Name" column has format "name", as upstream's.
const fn col(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    let format = if matches!(name.as_bytes(), b"Name") { "name" } else { "" };
    Col { name, ty, desc, priority: 0, format }
}

const fn wide(name: &'static str, ty: &'static str, desc: &'static str) -> Col {
    Col { priority: 1, ..col(name, ty, desc) }
}

impl Col {
    /// The same column with format "name" (upstream gives it to a few other columns too).
    const fn name_format(self) -> Col {
        Col { format: "name", ..self }
    }
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
    let (columns, cells) = match &def.custom {
        Some(info) => custom::render(info, objects, now),
        None => {
            let (group, kind) = printed_kind(def, objects);
            let (cols, print) = printer(group, kind);
            (column_definitions(&cols), objects.iter().map(|obj| print(obj, now)).collect())
        }
    };
    let rows: Vec<Value> = objects
        .iter()
        .zip(cells)
        .map(|(obj, cells)| {
            let mut row = json!({ "cells": cells });
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
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// The group and kind whose columns print `objects`: the resource's, or the object's own when
/// a subresource answers with another kind (a Deployment's `scale` is a Scale).
fn printed_kind<'a>(def: &'a ResourceDef, objects: &'a [Value]) -> (&'a str, &'a str) {
    if let [obj] = objects {
        let kind = st(obj, "/kind");
        if !kind.is_empty() && kind != def.kind {
            return (st(obj, "/apiVersion").rsplit_once('/').map_or("", |(group, _)| group), kind);
        }
    }
    (&def.group, &def.kind)
}

fn column_definitions(cols: &[Col]) -> Vec<Value> {
    cols.iter()
        .map(|c| {
            json!({ "name": c.name, "type": c.ty, "format": c.format, "description": c.desc, "priority": c.priority })
        })
        .collect()
}

/// The columns and row printer of a kind; unknown kinds get Name and Age.
fn printer(group: &str, kind: &str) -> (Vec<Col>, Printer) {
    // Groups whose columns live next to their printers.
    let in_group_file = match group {
        "admissionregistration.k8s.io" => admissionregistration_v1::printer(kind),
        "autoscaling" => autoscaling::printer(kind),
        "certificates.k8s.io" => certificates_v1::printer(kind),
        "discovery.k8s.io" => discovery_v1::printer(kind),
        "events.k8s.io" => events_v1::printer(kind),
        "node.k8s.io" => node_v1::printer(kind),
        "policy" => policy_v1::printer(kind),
        "scheduling.k8s.io" => scheduling_v1::printer(kind),
        "storage.k8s.io" => storage_v1::printer(kind),
        _ => None,
    };
    if let Some(found) = in_group_file {
        return found;
    }
    match (group, kind) {
        ("", "ResourceQuota") => (
            vec![
                NAME,
                col("Request", "string", "Request represents a minimum amount of cpu/memory that a container may consume."),
                col("Limit", "string", "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node."),
                AGE,
            ],
            print_resource_quota,
        ),
        ("", "PodTemplate") => (
            vec![
                NAME,
                col("Containers", "string", CONTAINERS_DESCRIPTION),
                col("Images", "string", IMAGES_DESCRIPTION),
                col("Pod Labels", "string", "The labels for the pod template."),
            ],
            print_pod_template,
        ),
        ("apps", "ControllerRevision") => (
            vec![
                NAME,
                col("Controller", "string", "Controller of the object"),
                col("Revision", "string", "Revision indicates the revision of the state represented by Data."),
                AGE,
            ],
            print_controller_revision,
        ),
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
        // Built-in kinds without a printer upstream get its default convertor's columns.
        ("rbac.authorization.k8s.io", "Role" | "ClusterRole")
        | ("", "LimitRange")
        | ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            (vec![NAME, col("Created At", "date", AGE_DESCRIPTION)], print_created_at)
        }
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
