//! Columns and printers of storage.k8s.io/v1 kinds.

use super::*;

pub(super) fn printer(kind: &str) -> Option<(Vec<Col>, Printer)> {
    let found: (Vec<Col>, Printer) = match kind {
        "StorageClass" => (
            vec![
                NAME,
                col("Provisioner", "string", "provisioner indicates the type of the provisioner."),
                col("ReclaimPolicy", "string", "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete."),
                col("VolumeBindingMode", "string", "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature."),
                col("AllowVolumeExpansion", "string", "allowVolumeExpansion shows whether the storage class allow volume expand."),
                AGE,
            ],
            print_storage_class,
        ),
        "CSIDriver" => (
            vec![
                NAME,
                col("AttachRequired", "boolean", "attachRequired indicates this CSI volume driver requires an attach operation (because it implements the CSI ControllerPublishVolume() method), and that the Kubernetes attach detach controller should call the attach volume interface which checks the volumeattachment status and waits until the volume is attached before proceeding to mounting."),
                col("PodInfoOnMount", "boolean", "podInfoOnMount indicates this CSI volume driver requires additional pod information (like podName, podUID, etc.) during mount operations, if set to true."),
                col("StorageCapacity", "boolean", "storageCapacity indicates that the CSI volume driver wants pod scheduling to consider the storage capacity that the driver deployment will report by creating CSIStorageCapacity objects with capacity information, if set to true."),
                col("TokenRequests", "string", "tokenRequests indicates the CSI driver needs pods' service account tokens it is mounting volume for to do necessary authentication."),
                col("RequiresRepublish", "boolean", "requiresRepublish indicates the CSI driver wants `NodePublishVolume` being periodically called to reflect any possible change in the mounted volume. This field defaults to false."),
                col("Modes", "string", "volumeLifecycleModes defines what kind of volumes this CSI volume driver supports."),
                AGE,
            ],
            print_csi_driver,
        ),
        "CSINode" => (
            vec![
                NAME,
                col("Drivers", "integer", "Drivers indicates the number of CSI drivers registered on the node"),
                AGE,
            ],
            print_csi_node,
        ),
        "CSIStorageCapacity" => (
            vec![
                NAME,
                col("StorageClassName", "string", "storageClassName represents the name of the StorageClass that the reported capacity applies to."),
                col("Capacity", "string", "capacity is the value reported by the CSI driver in its GetCapacityResponse for a GetCapacityRequest with topology and parameters that match the previous fields."),
            ],
            print_csi_storage_capacity,
        ),
        "VolumeAttachment" => (
            vec![
                NAME,
                col("Attacher", "string", "attacher indicates the name of the volume driver that MUST handle this request. This is the name returned by GetPluginName().").name_format(),
                col("PV", "string", "persistentVolumeName represents the name of the persistent volume to attach."),
                col("Node", "string", "nodeName represents the node that the volume should be attached to."),
                col("Attached", "boolean", "attached indicates the volume is successfully attached. This field must only be set by the entity completing the attach operation, i.e. the external-attacher."),
                AGE,
            ],
            print_volume_attachment,
        ),
        _ => return None,
    };
    Some(found)
}

pub(super) fn flag(obj: &Value, ptr: &str, default: bool) -> bool {
    obj.pointer(ptr).and_then(Value::as_bool).unwrap_or(default)
}

/// Upstream's IsDefaultAnnotation: the GA or the beta annotation set to "true".
fn is_default_class(obj: &Value) -> bool {
    ["storageclass.kubernetes.io~1is-default-class", "storageclass.beta.kubernetes.io~1is-default-class"]
        .iter()
        .any(|k| st(obj, &format!("/metadata/annotations/{k}")) == "true")
}

pub(super) fn print_storage_class(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let mut class = st(obj, "/metadata/name").to_string();
    if is_default_class(obj) {
        class.push_str(" (default)");
    }
    let text_or = |ptr: &str, default: &'static str| obj.pointer(ptr).and_then(Value::as_str).unwrap_or(default);
    vec![
        class.into(),
        st(obj, "/provisioner").into(),
        text_or("/reclaimPolicy", "Delete").into(),
        text_or("/volumeBindingMode", "Immediate").into(),
        flag(obj, "/allowVolumeExpansion", false).into(),
        age(obj, now),
    ]
}

pub(super) fn print_csi_driver(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let modes: Vec<&str> = arr(obj, "/spec/volumeLifecycleModes").iter().filter_map(Value::as_str).collect();
    // An absent list is "<unset>"; an empty one joins to "".
    let tokens = match obj.pointer("/spec/tokenRequests").and_then(Value::as_array) {
        Some(list) => list.iter().map(|t| st(t, "/audience")).collect::<Vec<_>>().join(","),
        None => "<unset>".into(),
    };
    vec![
        name(obj),
        flag(obj, "/spec/attachRequired", true).into(),
        flag(obj, "/spec/podInfoOnMount", false).into(),
        flag(obj, "/spec/storageCapacity", false).into(),
        tokens.into(),
        flag(obj, "/spec/requiresRepublish", false).into(),
        or_none(&modes.join(",")).into(),
        age(obj, now),
    ]
}

pub(super) fn print_csi_node(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), arr(obj, "/spec/drivers").len().into(), age(obj, now)]
}

pub(super) fn print_csi_storage_capacity(obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    let capacity = quantity(obj.get("capacity")).unwrap_or_else(|| "<unset>".into());
    vec![name(obj), st(obj, "/storageClassName").into(), capacity.into()]
}

pub(super) fn print_volume_attachment(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name(obj),
        st(obj, "/spec/attacher").into(),
        st(obj, "/spec/source/persistentVolumeName").into(),
        st(obj, "/spec/nodeName").into(),
        flag(obj, "/status/attached", false).into(),
        age(obj, now),
    ]
}
