//! Binding: the volume decisions first (reserve a volume, or tell the claim's provisioner
//! the node), then, as upstream's VolumeBinding PreBind, a wait until every claim acted on
//! is bound (`pv.kubernetes.io/bind-completed` and a `volumeName`, the reserved volume still
//! naming its claim), at most [`BIND_TIMEOUT`]; then `POST pods/<name>/binding`. The pod is
//! already assumed on the node in the cache, so the next pods are scheduled around it while
//! this runs, in a task of its own.
//!
//! The wait follows watches of the pod, of its claims and of the reserved volumes (each
//! selected by name), so it ends as soon as the PersistentVolume controller (or a
//! provisioner) has bound the claims, and early when binding can no longer succeed: the
//! pod is deleted, a reservation is undone, the provisioner gives the claim back
//! (`volume.kubernetes.io/selected-node` removed), a claim is deleted. A volume provisioned
//! for a claim must admit the node (its node affinity). A failure sends the pod back to the
//! queue with upstream's message (`running PreBind plugin "VolumeBinding": binding volumes:
//! ...`); a deleted pod is dropped.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Node, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Client, Resource};
use serde_json::json;

use crate::cache::PodInfo;
use crate::plugins::volume_binding::{VolumeAction, SELECTED_NODE};
use crate::selectors::node_selector_matches;

/// Upstream's `bindTimeoutSeconds` default: how long binding waits for the pod's claims.
pub const BIND_TIMEOUT: Duration = Duration::from_secs(600);

const BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
const BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";

pub async fn bind(client: &Client, pod: &PodInfo, node: &str, volumes: &[VolumeAction]) -> Result<(), kube::Error> {
    if !volumes.is_empty() {
        bind_volumes(client, pod, node, volumes, BIND_TIMEOUT).await.map_err(VolumeError::into_kube)?;
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

/// Why binding the pod's volumes failed.
#[derive(Debug, PartialEq)]
enum VolumeError {
    /// The pod is gone: nothing to retry.
    PodGone(String),
    /// Anything else: the pod goes back to the queue.
    Failed(String),
}

impl VolumeError {
    /// As the scheduler's error: a deleted pod is a 404 (dropped), the rest an error
    /// upstream's wording (`running PreBind plugin "VolumeBinding": ...`) that is retried.
    fn into_kube(self) -> kube::Error {
        match self {
            VolumeError::PodGone(message) => {
                kube::Error::Api(kube::core::Status::failure(&message, "NotFound").with_code(404).boxed())
            }
            VolumeError::Failed(message) => kube::Error::Service(Box::new(std::io::Error::other(format!(
                "running PreBind plugin \"VolumeBinding\": binding volumes: {message}"
            )))),
        }
    }
}

fn failure_message(e: kube::Error) -> String {
    match e {
        kube::Error::Api(status) => status.message,
        other => other.to_string(),
    }
}

fn api_failure(e: kube::Error) -> VolumeError {
    VolumeError::Failed(failure_message(e))
}

/// Writes the volume decisions, then waits (at most `timeout`) for the claims to be bound.
async fn bind_volumes(
    client: &Client,
    pod: &PodInfo,
    node: &str,
    volumes: &[VolumeAction],
    timeout: Duration,
) -> Result<(), VolumeError> {
    for action in volumes {
        match action {
            VolumeAction::Reserve { volume, namespace, claim, claim_uid } => {
                reserve(client, volume, namespace, claim, claim_uid).await?;
            }
            VolumeAction::SelectNode { namespace, claim, node, annotated: false } => {
                let patch = json!({"metadata": {"annotations": {SELECTED_NODE: node}}});
                Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace)
                    .patch(claim, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
                    .map_err(api_failure)?;
            }
            VolumeAction::SelectNode { annotated: true, .. } => {}
        }
    }
    let bound = match tokio::time::timeout(timeout, wait_bound(client, pod, node, volumes)).await {
        Ok(result) => result?,
        Err(_) => return Err(VolumeError::Failed("context deadline exceeded".into())),
    };
    check_provisioned_affinity(client, node, &bound).await
}

/// The node affinity of the volumes provisioned for the claims must admit the node
/// (the reserved volumes' was checked by the filter).
async fn check_provisioned_affinity(client: &Client, node: &str, volumes: &[String]) -> Result<(), VolumeError> {
    let mut labels = None;
    for name in volumes {
        let Some(pv) = Api::<PersistentVolume>::all(client.clone()).get_opt(name).await.map_err(api_failure)? else {
            continue;
        };
        let Some(affinity) = pv.spec.and_then(|s| s.node_affinity).and_then(|a| a.required) else { continue };
        if labels.is_none() {
            let n = Api::<Node>::all(client.clone())
                .get(node)
                .await
                .map_err(|e| VolumeError::Failed(format!("failed to get node {node:?}: {}", failure_message(e))))?;
            labels = Some(n.metadata.labels.unwrap_or_default());
        }
        if !node_selector_matches(&affinity, node, labels.as_ref().unwrap_or(&BTreeMap::new())) {
            return Err(VolumeError::Failed(format!(
                "pv {name:?} node affinity doesn't match node {node:?}: no matching NodeSelectorTerms"
            )));
        }
    }
    Ok(())
}

/// Points the volume at the claim (`claimRef` with its uid, `bound-by-controller`), as
/// upstream's `GetBindVolumeToClaim`, with the resourceVersion read: a volume taken
/// meanwhile fails the binding instead of being stolen.
async fn reserve(client: &Client, name: &str, namespace: &str, claim: &str, uid: &str) -> Result<(), VolumeError> {
    let api = Api::<PersistentVolume>::all(client.clone());
    let Some(mut pv) = api.get_opt(name).await.map_err(api_failure)? else {
        return Err(VolumeError::Failed(format!("persistentvolumes {name:?} not found")));
    };
    let current = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
    let bound_to_claim = current.is_some_and(|r| {
        r.namespace.as_deref() == Some(namespace)
            && r.name.as_deref() == Some(claim)
            && r.uid.as_deref().is_none_or(|u| u.is_empty() || u == uid)
    });
    if current.is_some() && !bound_to_claim {
        let other = current.map(|r| {
            format!("{}/{}", r.namespace.as_deref().unwrap_or_default(), r.name.as_deref().unwrap_or_default())
        });
        return Err(VolumeError::Failed(format!(
            "pv {name:?} is already bound to claim {:?}",
            other.unwrap_or_default()
        )));
    }
    if current.is_some_and(|r| r.uid.as_deref() == Some(uid)) {
        // Reserved already (an earlier attempt).
        return Ok(());
    }
    pv.spec.get_or_insert_with(Default::default).claim_ref = Some(ObjectReference {
        api_version: Some("v1".into()),
        kind: Some("PersistentVolumeClaim".into()),
        namespace: Some(namespace.into()),
        name: Some(claim.into()),
        uid: Some(uid.into()),
        ..Default::default()
    });
    if !bound_to_claim {
        pv.metadata.annotations.get_or_insert_with(BTreeMap::new).insert(BOUND_BY_CONTROLLER.into(), "yes".into());
    }
    pv.metadata.managed_fields = None;
    api.replace(name, &PostParams::default(), &pv).await.map_err(api_failure)?;
    Ok(())
}

/// One change seen by the wait.
enum Seen {
    Pod(Box<watcher::Event<Pod>>),
    Claim(Box<watcher::Event<PersistentVolumeClaim>>),
    Volume(Box<watcher::Event<PersistentVolume>>),
}

/// The objects the wait follows, by name: `None` until listed, then `Some(None)` when absent.
#[derive(Default)]
struct Observed {
    pod: Option<bool>,
    claims: HashMap<String, Option<Option<PersistentVolumeClaim>>>,
    volumes: HashMap<String, Option<Option<PersistentVolume>>>,
}

/// Applies one watcher event to the state of the single object it follows.
fn observe<K: Clone>(slot: &mut Option<Option<K>>, listing: &mut Option<Option<K>>, event: watcher::Event<K>) {
    match event {
        watcher::Event::Init => *listing = Some(None),
        watcher::Event::InitApply(o) => *listing = Some(Some(o)),
        watcher::Event::InitDone => *slot = Some(listing.take().flatten()),
        watcher::Event::Apply(o) => *slot = Some(Some(o)),
        watcher::Event::Delete(_) => *slot = Some(None),
    }
}

fn by_name<K>(api: Api<K>, name: &str) -> BoxStream<'static, watcher::Event<K>>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    watcher(api, config)
        .default_backoff()
        .filter_map(|e| async move {
            if let Err(err) = &e {
                tracing::debug!(error = %err, "volume binding watch failed; retrying");
            }
            e.ok()
        })
        .boxed()
}

/// Waits until `check` says the claims are bound; returns the volumes of the claims that
/// were provisioned.
async fn wait_bound(
    client: &Client,
    pod: &PodInfo,
    node: &str,
    volumes: &[VolumeAction],
) -> Result<Vec<String>, VolumeError> {
    let namespace = &*pod.namespace;
    let claims_api = Api::<PersistentVolumeClaim>::namespaced(client.clone(), namespace);
    let volumes_api = Api::<PersistentVolume>::all(client.clone());
    let mut streams: Vec<BoxStream<'static, (String, Seen)>> = Vec::new();
    let pods_api = Api::<Pod>::namespaced(client.clone(), namespace);
    streams.push(by_name(pods_api, &pod.name).map(|e| (String::new(), Seen::Pod(Box::new(e)))).boxed());
    let mut observed = Observed::default();
    for action in volumes {
        let claim = action.claim().to_string();
        if !observed.claims.contains_key(&claim) {
            observed.claims.insert(claim.clone(), None);
            let key = claim.clone();
            streams.push(
                by_name(claims_api.clone(), &claim).map(move |e| (key.clone(), Seen::Claim(Box::new(e)))).boxed(),
            );
        }
        if let VolumeAction::Reserve { volume, .. } = action {
            if !observed.volumes.contains_key(volume) {
                observed.volumes.insert(volume.clone(), None);
                let key = volume.clone();
                streams.push(
                    by_name(volumes_api.clone(), volume).map(move |e| (key.clone(), Seen::Volume(Box::new(e)))).boxed(),
                );
            }
        }
    }
    let mut events = stream::select_all(streams);
    let mut listing_pod: Option<Option<Pod>> = None;
    let mut pod_slot: Option<Option<Pod>> = None;
    let mut listing_claims: HashMap<String, Option<Option<PersistentVolumeClaim>>> = HashMap::new();
    let mut listing_volumes: HashMap<String, Option<Option<PersistentVolume>>> = HashMap::new();
    while let Some((key, seen)) = events.next().await {
        match seen {
            Seen::Pod(e) => {
                observe(&mut pod_slot, &mut listing_pod, *e);
                // A pod of the same name but another uid is another pod.
                observed.pod =
                    pod_slot.as_ref().map(|p| p.as_ref().is_some_and(|p| p.metadata.uid.as_deref() == Some(&*pod.uid)));
            }
            Seen::Claim(e) => {
                if let Some(slot) = observed.claims.get_mut(&key) {
                    observe(slot, listing_claims.entry(key).or_default(), *e);
                }
            }
            Seen::Volume(e) => {
                if let Some(slot) = observed.volumes.get_mut(&key) {
                    observe(slot, listing_volumes.entry(key).or_default(), *e);
                }
            }
        }
        match check(&observed, pod, node, volumes) {
            Check::Bound => return Ok(provisioned_volumes(&observed, volumes)),
            Check::Waiting => {}
            Check::Failed(e) => return Err(e),
        }
    }
    Err(VolumeError::Failed("the watches of the pod's volumes ended".into()))
}

fn provisioned_volumes(observed: &Observed, volumes: &[VolumeAction]) -> Vec<String> {
    volumes
        .iter()
        .filter(|a| matches!(a, VolumeAction::SelectNode { .. }))
        .filter_map(|a| observed.claims.get(a.claim())?.as_ref()?.as_ref()?.spec.as_ref()?.volume_name.clone())
        .collect()
}

#[derive(Debug, PartialEq)]
enum Check {
    Bound,
    Waiting,
    Failed(VolumeError),
}

/// `isPVCFullyBound`.
fn fully_bound(claim: &PersistentVolumeClaim) -> bool {
    claim.spec.as_ref().and_then(|s| s.volume_name.as_deref()).is_some_and(|v| !v.is_empty())
        && claim.metadata.annotations.as_ref().is_some_and(|a| a.contains_key(BIND_COMPLETED))
}

/// Upstream's `checkBindings`, on what the watches have shown so far.
fn check(observed: &Observed, pod: &PodInfo, node: &str, volumes: &[VolumeAction]) -> Check {
    match observed.pod {
        None => return Check::Waiting,
        Some(false) => {
            return Check::Failed(VolumeError::PodGone(format!(
                "pod does not exist any more: pods {:?} not found",
                &*pod.name
            )))
        }
        Some(true) => {}
    }
    let mut waiting = false;
    for action in volumes {
        let claim_name = action.claim();
        let Some(claim) = observed.claims.get(claim_name).and_then(Option::as_ref) else { return Check::Waiting };
        match action {
            VolumeAction::Reserve { volume, .. } => {
                let Some(pv) = observed.volumes.get(volume).and_then(Option::as_ref) else { return Check::Waiting };
                let Some(pv) = pv else {
                    return Check::Failed(VolumeError::Failed(format!(
                        "failed to check binding: persistentvolume {volume:?} not found"
                    )));
                };
                let reset = pv
                    .spec
                    .as_ref()
                    .and_then(|s| s.claim_ref.as_ref())
                    .is_none_or(|r| r.uid.as_deref().is_none_or(str::is_empty));
                if reset {
                    return Check::Failed(VolumeError::Failed(format!("ClaimRef got reset for pv {volume:?}")));
                }
                let Some(claim) = claim else {
                    return Check::Failed(VolumeError::Failed(format!(
                        "failed to check binding: persistentvolumeclaim \"{}/{claim_name}\" not found",
                        &*pod.namespace
                    )));
                };
                waiting |= !fully_bound(claim);
            }
            VolumeAction::SelectNode { .. } => {
                let Some(claim) = claim else {
                    return Check::Failed(VolumeError::Failed(format!(
                        "failed to check provisioning pvc: persistentvolumeclaim \"{}/{claim_name}\" not found",
                        &*pod.namespace
                    )));
                };
                let Some(annotations) = claim.metadata.annotations.as_ref() else {
                    return Check::Failed(VolumeError::Failed(format!(
                        "selectedNode annotation reset for PVC {claim_name:?}"
                    )));
                };
                if annotations.get(SELECTED_NODE).map(String::as_str) != Some(node) {
                    // A provisioner that cannot provision removes the annotation.
                    return Check::Failed(VolumeError::Failed(format!("provisioning failed for PVC {claim_name:?}")));
                }
                waiting |= !fully_bound(claim);
            }
        }
    }
    if waiting {
        Check::Waiting
    } else {
        Check::Bound
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> PodInfo {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns", "uid": "pu"},
            "spec": {"containers": []}}))
        .expect("pod");
        PodInfo::from_pod(&pod)
    }

    fn claim(annotations: serde_json::Value, volume: Option<&str>) -> PersistentVolumeClaim {
        serde_json::from_value(
            json!({"metadata": {"name": "c", "namespace": "ns", "uid": "cu", "annotations": annotations},
            "spec": {"volumeName": volume}}),
        )
        .expect("claim")
    }

    fn volume(uid: Option<&str>) -> PersistentVolume {
        serde_json::from_value(json!({"metadata": {"name": "v"},
            "spec": {"claimRef": {"namespace": "ns", "name": "c", "uid": uid}}}))
        .expect("volume")
    }

    fn reserve_action() -> Vec<VolumeAction> {
        vec![VolumeAction::Reserve {
            volume: "v".into(),
            namespace: "ns".into(),
            claim: "c".into(),
            claim_uid: "cu".into(),
        }]
    }

    fn provision_action() -> Vec<VolumeAction> {
        vec![VolumeAction::SelectNode {
            namespace: "ns".into(),
            claim: "c".into(),
            node: "n1".into(),
            annotated: false,
        }]
    }

    fn observed(claim: Option<PersistentVolumeClaim>, volume: Option<PersistentVolume>) -> Observed {
        let mut o = Observed { pod: Some(true), ..Default::default() };
        o.claims.insert("c".into(), Some(claim));
        o.volumes.insert("v".into(), Some(volume));
        o
    }

    fn failed(message: &str) -> Check {
        Check::Failed(VolumeError::Failed(message.into()))
    }

    #[test]
    fn a_reserved_volume_waits_for_the_claim_to_be_bound() {
        let (p, actions) = (pod(), reserve_action());
        let pending = observed(Some(claim(json!({}), None)), Some(volume(Some("cu"))));
        assert_eq!(check(&pending, &p, "n1", &actions), Check::Waiting);
        let half = observed(Some(claim(json!({}), Some("v"))), Some(volume(Some("cu"))));
        assert_eq!(check(&half, &p, "n1", &actions), Check::Waiting);
        let bound = observed(Some(claim(json!({BIND_COMPLETED: "yes"}), Some("v"))), Some(volume(Some("cu"))));
        assert_eq!(check(&bound, &p, "n1", &actions), Check::Bound);
        let reset = observed(Some(claim(json!({}), None)), Some(volume(None)));
        assert_eq!(check(&reset, &p, "n1", &actions), failed("ClaimRef got reset for pv \"v\""));
        let gone = observed(None, Some(volume(Some("cu"))));
        assert_eq!(
            check(&gone, &p, "n1", &actions),
            failed("failed to check binding: persistentvolumeclaim \"ns/c\" not found")
        );
        // Not listed yet: wait.
        let mut unlisted = observed(None, None);
        unlisted.claims.insert("c".into(), None);
        assert_eq!(check(&unlisted, &p, "n1", &actions), Check::Waiting);
    }

    #[test]
    fn a_provisioned_claim_must_keep_its_node() {
        let (p, actions) = (pod(), provision_action());
        let waiting = observed(Some(claim(json!({SELECTED_NODE: "n1"}), None)), None);
        assert_eq!(check(&waiting, &p, "n1", &actions), Check::Waiting);
        let bound = observed(Some(claim(json!({SELECTED_NODE: "n1", BIND_COMPLETED: "yes"}), Some("pv-1"))), None);
        assert_eq!(check(&bound, &p, "n1", &actions), Check::Bound);
        let given_back = observed(Some(claim(json!({"other": "x"}), None)), None);
        assert_eq!(check(&given_back, &p, "n1", &actions), failed("provisioning failed for PVC \"c\""));
    }

    #[test]
    fn a_deleted_pod_ends_the_wait_for_good() {
        let (p, actions) = (pod(), reserve_action());
        let mut o = observed(Some(claim(json!({}), None)), Some(volume(Some("cu"))));
        o.pod = Some(false);
        let Check::Failed(e) = check(&o, &p, "n1", &actions) else { panic!("not failed") };
        assert!(matches!(e.into_kube(), kube::Error::Api(s) if s.code == 404));
        let timeout = VolumeError::Failed("context deadline exceeded".into()).into_kube().to_string();
        assert!(
            timeout.ends_with("running PreBind plugin \"VolumeBinding\": binding volumes: context deadline exceeded"),
            "{timeout}"
        );
    }

    #[test]
    fn the_reserve_actions_include_claims_already_given_a_node() {
        use crate::cache::{Cache, ClaimInfo, ClassInfo};
        let mut cache = Cache::default();
        let node: k8s_openapi::api::core::v1::Node = serde_json::from_value(json!({"metadata": {"name": "n1"},
            "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "10"}}}))
        .expect("node");
        cache.upsert_node(&node);
        let class: k8s_openapi::api::storage::v1::StorageClass =
            serde_json::from_value(json!({"metadata": {"name": "wffc"},
            "provisioner": "example.com/x", "volumeBindingMode": "WaitForFirstConsumer"}))
            .expect("class");
        cache.classes.insert("wffc".into(), ClassInfo::from_class(&class));
        let c: PersistentVolumeClaim = serde_json::from_value(json!({"metadata": {"name": "c", "namespace": "ns",
            "uid": "cu", "annotations": {SELECTED_NODE: "n1"}}, "spec": {"storageClassName": "wffc"}}))
        .expect("claim");
        cache.claims.insert("ns/c".into(), ClaimInfo::from_claim(&c));
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "namespace": "ns", "uid": "pu"},
            "spec": {"containers": [], "volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "c"}}]}}))
        .expect("pod");
        let actions = crate::plugins::volume_binding::reserve(&mut cache, &PodInfo::from_pod(&pod), "n1");
        assert_eq!(
            actions,
            [VolumeAction::SelectNode {
                namespace: "ns".into(),
                claim: "c".into(),
                node: "n1".into(),
                annotated: true
            }]
        );
    }
}
