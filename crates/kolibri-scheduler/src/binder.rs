//! Binding: the volume decisions first (reserve a volume, or tell the claim's provisioner
//! the node), then `POST pods/<name>/binding`. The pod is already assumed on the node in
//! the cache, so the next pods are scheduled around it while this runs.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use serde_json::json;

use crate::cache::PodInfo;
use crate::plugins::volume_binding::{VolumeAction, SELECTED_NODE};

pub async fn bind(client: &Client, pod: &PodInfo, node: &str, volumes: &[VolumeAction]) -> Result<(), kube::Error> {
    let params = PatchParams::default();
    for action in volumes {
        match action {
            VolumeAction::Reserve { volume, namespace, claim, claim_uid } => {
                let patch = json!({"spec": {"claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "namespace": namespace, "name": claim, "uid": claim_uid}}});
                Api::<PersistentVolume>::all(client.clone()).patch(volume, &params, &Patch::Merge(&patch)).await?;
            }
            VolumeAction::SelectNode { namespace, claim, node } => {
                let patch = json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
                Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
                    .patch(claim, &params, &Patch::Merge(&patch))
                    .await?;
            }
        }
    }
    let binding = json!({
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": { "name": &*pod.name, "namespace": &*pod.namespace, "uid": &*pod.uid },
        "target": { "apiVersion": "v1", "kind": "Node", "name": node },
    });
    Api::<Pod>::namespaced(client.clone(), &pod.namespace)
        .create_subresource::<_, serde_json::Value>("binding", &pod.name, &PostParams::default(), &binding)
        .await?;
    Ok(())
}

/// Records why the pod is not scheduled (and where preemption nominated it) in its
/// `PodScheduled` condition, as upstream does.
pub async fn report_unschedulable(
    client: &Client,
    pod: &PodInfo,
    message: &str,
    nominated: Option<&str>,
) -> Result<(), kube::Error> {
    let mut status = json!({
        "conditions": [{ "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message, "lastProbeTime": null,
            "lastTransitionTime": crate::now_rfc3339() }],
    });
    if let Some(node) = nominated {
        status["nominatedNodeName"] = json!(node);
    }
    let patch = json!({ "status": status });
    Api::<Pod>::namespaced(client.clone(), &pod.namespace)
        .patch_status(&pod.name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await?;
    Ok(())
}
