//! The identity of a StatefulSet's pods and claims (upstream's `stateful_set_utils.go`):
//! names and ordinals, the pod made from a template, the claims made from the
//! volumeClaimTemplates, and the claim ownership that the retention policy asks for. Pure
//! functions, so that they are tested without a server.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use crate::replicaset::controller_ref;

pub(super) const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub(super) const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";
/// On pods: the name of their ControllerRevision; on revisions: the hash alone.
pub(super) const REVISION_LABEL: &str = "controller-revision-hash";

const RETAIN: &str = "Retain";
const DELETE: &str = "Delete";

/// Upstream's `getParentNameAndOrdinal` (`(.*)-([0-9]+)$`): the parent's name, if the name
/// ends in `-<digits>`, and the ordinal, -1 when there is none or it does not fit an int32.
pub(super) fn parent_and_ordinal(name: &str) -> (Option<&str>, i64) {
    let Some((parent, digits)) = name.rsplit_once('-') else { return (None, -1) };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return (None, -1);
    }
    (Some(parent), digits.parse::<i32>().map_or(-1, i64::from))
}

pub(super) fn ordinal_of(pod: &Pod) -> i64 {
    parent_and_ordinal(pod.metadata.name.as_deref().unwrap_or_default()).1
}

/// Upstream's `isMemberOf`: the pod's name says it belongs to the set.
pub(super) fn is_member(set: &StatefulSet, pod: &Pod) -> bool {
    parent_and_ordinal(pod.metadata.name.as_deref().unwrap_or_default()).0 == set.metadata.name.as_deref()
}

pub(super) fn replicas(set: &StatefulSet) -> i64 {
    i64::from(set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1).max(0))
}

/// `spec.ordinals.start`, 0 without it.
pub(super) fn start_ordinal(set: &StatefulSet) -> i64 {
    i64::from(set.spec.as_ref().and_then(|s| s.ordinals.as_ref()).and_then(|o| o.start).unwrap_or(0))
}

/// Whether the pod's ordinal is one the set currently wants (`[start, start + replicas)`).
pub(super) fn in_range(set: &StatefulSet, pod: &Pod) -> bool {
    let ordinal = ordinal_of(pod);
    ordinal >= start_ordinal(set) && ordinal < start_ordinal(set) + replicas(set)
}

pub(super) fn pod_name(set: &StatefulSet, ordinal: i64) -> String {
    format!("{}-{ordinal}", set.metadata.name.as_deref().unwrap_or_default())
}

pub(super) fn claim_name(set: &StatefulSet, template: &str, ordinal: i64) -> String {
    format!("{template}-{}-{ordinal}", set.metadata.name.as_deref().unwrap_or_default())
}

fn claim_templates(set: &StatefulSet) -> &[PersistentVolumeClaim] {
    set.spec.as_ref().and_then(|s| s.volume_claim_templates.as_deref()).unwrap_or_default()
}

fn template_name(claim: &PersistentVolumeClaim) -> &str {
    claim.metadata.name.as_deref().unwrap_or_default()
}

fn service_name(set: &StatefulSet) -> &str {
    set.spec.as_ref().and_then(|s| s.service_name.as_deref()).unwrap_or_default()
}

pub(super) fn revision_of(pod: &Pod) -> &str {
    pod.metadata.labels.as_ref().and_then(|l| l.get(REVISION_LABEL)).map_or("", String::as_str)
}

/// Upstream's `identityMatches`.
pub(super) fn identity_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    let (parent, ordinal) = parent_and_ordinal(name);
    ordinal >= 0
        && parent == set.metadata.name.as_deref()
        && name == pod_name(set, ordinal)
        && pod.metadata.namespace == set.metadata.namespace
        && pod.metadata.labels.as_ref().and_then(|l| l.get(POD_NAME_LABEL)).map(String::as_str) == Some(name)
}

/// Upstream's `storageMatches`: every claim template is mounted from this pod's claim.
pub(super) fn storage_matches(set: &StatefulSet, pod: &Pod) -> bool {
    let ordinal = ordinal_of(pod);
    if ordinal < 0 {
        return false;
    }
    let volumes = pod.spec.as_ref().map(|s| s.volumes.as_deref().unwrap_or_default()).unwrap_or_default();
    claim_templates(set).iter().all(|t| {
        volumes.iter().any(|v| {
            v.name == template_name(t)
                && v.persistent_volume_claim.as_ref().map(|c| c.claim_name.as_str())
                    == Some(claim_name(set, template_name(t), ordinal).as_str())
        })
    })
}

/// Upstream's `updateIdentity` on labels: the pod-name and pod-index labels. Returns whether
/// anything changed.
pub(super) fn set_identity_labels(labels: &mut BTreeMap<String, String>, name: &str, ordinal: i64) -> bool {
    let before = labels.clone();
    labels.insert(POD_NAME_LABEL.into(), name.into());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    *labels != before
}

/// Upstream's `getPersistentVolumeClaims`: the claims of the pod with this ordinal, by
/// template name, labelled with the set's matchLabels.
pub(super) fn claims_for(set: &StatefulSet, ordinal: i64) -> Vec<(String, PersistentVolumeClaim)> {
    let match_labels = set.spec.as_ref().and_then(|s| s.selector.match_labels.clone()).unwrap_or_default();
    claim_templates(set)
        .iter()
        .map(|t| {
            let mut claim = t.clone();
            let mut labels = claim.metadata.labels.take().unwrap_or_default();
            labels.extend(match_labels.clone());
            claim.metadata = ObjectMeta {
                name: Some(claim_name(set, template_name(t), ordinal)),
                namespace: set.metadata.namespace.clone(),
                labels: (!labels.is_empty()).then_some(labels),
                annotations: claim.metadata.annotations,
                finalizers: claim.metadata.finalizers,
                ..Default::default()
            };
            // The API server owns the status of a new claim.
            claim.status = None;
            (template_name(t).to_string(), claim)
        })
        .collect()
}

/// Upstream's `newStatefulSetPod` (with `initIdentity` and `updateStorage`) plus
/// `setPodRevision`: the pod of `ordinal` from `template`, at `revision`.
pub(super) fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i64, revision: &str) -> Pod {
    let meta = template.metadata.clone().unwrap_or_default();
    let name = pod_name(set, ordinal);
    let mut labels = meta.labels.unwrap_or_default();
    set_identity_labels(&mut labels, &name, ordinal);
    labels.insert(REVISION_LABEL.into(), revision.into());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    let service = service_name(set);
    spec.subdomain = (!service.is_empty()).then(|| service.to_string());
    // Claim volumes replace template volumes of the same name (upstream's updateStorage).
    let claims = claims_for(set, ordinal);
    let mut volumes: Vec<Volume> = claims
        .iter()
        .map(|(template, claim)| Volume {
            name: template.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.metadata.name.clone().unwrap_or_default(),
                read_only: None,
            }),
            ..Default::default()
        })
        .collect();
    volumes.extend(
        spec.volumes.take().unwrap_or_default().into_iter().filter(|v| !claims.iter().any(|(t, _)| *t == v.name)),
    );
    spec.volumes = (!volumes.is_empty()).then_some(volumes);
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: meta.annotations,
            finalizers: meta.finalizers,
            owner_references: Some(vec![controller_ref(set)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
}

// ---- Claim ownership and the retention policy (upstream's isClaimOwnerUpToDate & co.) ----

/// `(whenDeleted, whenScaled)`, Retain when unset.
fn policy(set: &StatefulSet) -> (&str, &str) {
    let p = set.spec.as_ref().and_then(|s| s.persistent_volume_claim_retention_policy.as_ref());
    (
        p.and_then(|p| p.when_deleted.as_deref()).unwrap_or(RETAIN),
        p.and_then(|p| p.when_scaled.as_deref()).unwrap_or(RETAIN),
    )
}

pub(super) fn deletes_when_scaled(set: &StatefulSet) -> bool {
    policy(set).1 == DELETE
}

/// An owner as the claim logic sees it: the set or a pod.
pub(super) struct Owner<'a> {
    api_version: &'static str,
    kind: &'static str,
    meta: &'a ObjectMeta,
}

impl<'a> Owner<'a> {
    pub(super) fn set(set: &'a StatefulSet) -> Self {
        Owner { api_version: "apps/v1", kind: "StatefulSet", meta: &set.metadata }
    }

    pub(super) fn pod(pod: &'a Pod) -> Self {
        Owner { api_version: "v1", kind: "Pod", meta: &pod.metadata }
    }

    fn uid(&self) -> &str {
        self.meta.uid.as_deref().unwrap_or_default()
    }

    /// Upstream's `matchesRef`: same kind and name, whatever the UID.
    fn matches(&self, r: &OwnerReference) -> bool {
        r.api_version == self.api_version && r.kind == self.kind && Some(r.name.as_str()) == self.meta.name.as_deref()
    }

    fn controller_ref(&self) -> OwnerReference {
        OwnerReference {
            api_version: self.api_version.into(),
            kind: self.kind.into(),
            name: self.meta.name.clone().unwrap_or_default(),
            uid: self.uid().into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }
}

fn refs(claim: &PersistentVolumeClaim) -> &[OwnerReference] {
    claim.metadata.owner_references.as_deref().unwrap_or_default()
}

fn has_ref(claim: &PersistentVolumeClaim, owner: &Owner) -> bool {
    refs(claim).iter().any(|r| r.uid == owner.uid())
}

/// A reference to the owner's kind and name with another UID: left by an earlier owner.
fn has_stale_ref(claim: &PersistentVolumeClaim, owner: &Owner) -> bool {
    refs(claim).iter().find(|r| owner.matches(r)).is_some_and(|r| r.uid != owner.uid())
}

/// Upstream's `hasUnexpectedController`.
pub(super) fn has_unexpected_controller(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    if policy(set) == (RETAIN, RETAIN) {
        return false;
    }
    let (set, pod) = (Owner::set(set), Owner::pod(pod));
    refs(claim).iter().any(|r| {
        if set.matches(r) {
            return r.uid != set.uid();
        }
        if pod.matches(r) {
            return r.uid != pod.uid();
        }
        r.controller == Some(true)
    })
}

/// Upstream's `isClaimOwnerUpToDate`: whether the claim's owners are what the policy asks
/// for (a claim in a state we do not understand counts as up to date: it is left alone).
pub(super) fn claim_owner_up_to_date(claim: &PersistentVolumeClaim, set: &StatefulSet, pod: &Pod) -> bool {
    let (set_owner, pod_owner) = (Owner::set(set), Owner::pod(pod));
    if has_stale_ref(claim, &set_owner) || has_stale_ref(claim, &pod_owner) {
        return true;
    }
    if has_unexpected_controller(claim, set, pod) {
        return !(has_ref(claim, &set_owner) || has_ref(claim, &pod_owner));
    }
    let non_controller = refs(claim)
        .iter()
        .any(|r| (r.uid == set_owner.uid() || r.uid == pod_owner.uid()) && r.controller != Some(true));
    if non_controller {
        return false;
    }
    let (has_set, has_pod) = (has_ref(claim, &set_owner), has_ref(claim, &pod_owner));
    let scaled_down = !in_range(set, pod);
    match policy(set) {
        (DELETE, RETAIN) => has_set && !has_pod,
        (RETAIN, DELETE) => !has_set && scaled_down == has_pod,
        (DELETE, DELETE) => scaled_down != has_set && scaled_down == has_pod,
        // Retain/Retain, and unknown policies treated as Retain.
        _ => !has_set && !has_pod,
    }
}

/// Upstream's `updateClaimOwnerRefForSetAndPod`: the claim's owner references as the policy
/// wants them.
pub(super) fn claim_owners_for_policy(
    claim: &PersistentVolumeClaim,
    set: &StatefulSet,
    pod: &Pod,
) -> Vec<OwnerReference> {
    let (set_owner, pod_owner) = (Owner::set(set), Owner::pod(pod));
    let unexpected = has_unexpected_controller(claim, set, pod);
    let mut out: Vec<OwnerReference> =
        refs(claim).iter().filter(|r| !set_owner.matches(r) && !pod_owner.matches(r)).cloned().collect();
    if unexpected {
        return out;
    }
    let scaled_down = !in_range(set, pod);
    let mut add = |owner: &Owner| {
        if !out.iter().any(|r| r.uid == owner.uid()) {
            out.push(owner.controller_ref());
        }
    };
    match policy(set) {
        (DELETE, RETAIN) => add(&set_owner),
        (RETAIN, DELETE) if scaled_down => add(&pod_owner),
        (DELETE, DELETE) if scaled_down => add(&pod_owner),
        (DELETE, DELETE) => add(&set_owner),
        _ => {}
    }
    out
}

/// Upstream's `PodClaimIsStale` for one claim: with Delete on scale-down, a claim still owned
/// by an earlier pod of the same name blocks the new pod until the collector removed it.
pub(super) fn claim_is_stale(claim: &PersistentVolumeClaim, pod: &Pod) -> bool {
    has_stale_ref(claim, &Owner::pod(pod))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::{StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

    fn set(replicas: i32, when_deleted: &str, when_scaled: &str) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta {
                name: Some("web".into()),
                namespace: Some("ns".into()),
                uid: Some("set-uid".into()),
                ..Default::default()
            },
            spec: Some(StatefulSetSpec {
                replicas: Some(replicas),
                service_name: Some("nginx".into()),
                selector: LabelSelector {
                    match_labels: Some([("app".to_string(), "web".to_string())].into()),
                    ..Default::default()
                },
                persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(when_deleted.into()),
                    when_scaled: Some(when_scaled.into()),
                }),
                volume_claim_templates: Some(vec![PersistentVolumeClaim {
                    metadata: ObjectMeta { name: Some("www".into()), ..Default::default() },
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn names_parse_as_upstream() {
        assert_eq!(parent_and_ordinal("web-0"), (Some("web"), 0));
        assert_eq!(parent_and_ordinal("my-web-12"), (Some("my-web"), 12));
        assert_eq!(parent_and_ordinal("web-99999999999"), (Some("web"), -1));
        assert_eq!(parent_and_ordinal("web"), (None, -1));
        assert_eq!(parent_and_ordinal("web-1a"), (None, -1));
        assert_eq!(parent_and_ordinal("web-"), (None, -1));
    }

    #[test]
    fn new_pods_carry_identity_storage_and_revision() {
        let s = set(3, RETAIN, RETAIN);
        let template = PodTemplateSpec {
            metadata: Some(ObjectMeta {
                labels: Some([("app".to_string(), "web".to_string())].into()),
                ..Default::default()
            }),
            spec: Some(Default::default()),
        };
        let pod = new_pod(&s, &template, 2, "web-abc");
        let labels = pod.metadata.labels.clone().unwrap();
        assert_eq!(pod.metadata.name.as_deref(), Some("web-2"));
        assert_eq!(labels[POD_NAME_LABEL], "web-2");
        assert_eq!(labels[POD_INDEX_LABEL], "2");
        assert_eq!(labels[REVISION_LABEL], "web-abc");
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!((spec.hostname.as_deref(), spec.subdomain.as_deref()), (Some("web-2"), Some("nginx")));
        assert_eq!(spec.volumes.as_ref().unwrap()[0].persistent_volume_claim.as_ref().unwrap().claim_name, "www-web-2");
        assert!(identity_matches(&s, &pod) && storage_matches(&s, &pod));
        let claims = claims_for(&s, 2);
        assert_eq!(claims[0].1.metadata.name.as_deref(), Some("www-web-2"));
        assert_eq!(claims[0].1.metadata.labels.as_ref().unwrap()["app"], "web");
    }

    #[test]
    fn claim_owners_follow_the_retention_policy() {
        let mut pod = new_pod(&set(3, RETAIN, RETAIN), &PodTemplateSpec::default(), 2, "r");
        pod.metadata.uid = Some("pod-uid".into());
        let claim = PersistentVolumeClaim::default();
        let owners = |s: &StatefulSet, claim: &PersistentVolumeClaim| -> Vec<String> {
            claim_owners_for_policy(claim, s, &pod).into_iter().map(|r| r.kind).collect()
        };
        // In range: only whenDeleted matters.
        assert!(claim_owner_up_to_date(&claim, &set(3, RETAIN, RETAIN), &pod));
        assert!(!claim_owner_up_to_date(&claim, &set(3, DELETE, DELETE), &pod));
        assert_eq!(owners(&set(3, DELETE, DELETE), &claim), ["StatefulSet"]);
        assert!(owners(&set(3, RETAIN, DELETE), &claim).is_empty());
        // Scaled down (replicas 2, ordinal 2): the pod owns the claim, the set lets go.
        let owned_by_set = PersistentVolumeClaim {
            metadata: ObjectMeta {
                owner_references: Some(vec![Owner::set(&set(2, DELETE, DELETE)).controller_ref()]),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(!claim_owner_up_to_date(&owned_by_set, &set(2, DELETE, DELETE), &pod));
        assert_eq!(owners(&set(2, DELETE, DELETE), &owned_by_set), ["Pod"]);
        assert_eq!(owners(&set(2, DELETE, RETAIN), &owned_by_set), ["StatefulSet"]);
        let mut fixed = owned_by_set.clone();
        fixed.metadata.owner_references = Some(claim_owners_for_policy(&owned_by_set, &set(2, DELETE, DELETE), &pod));
        assert!(claim_owner_up_to_date(&fixed, &set(2, DELETE, DELETE), &pod));
        // A reference to an earlier pod of the same name: stale, left alone.
        let mut earlier = pod.clone();
        earlier.metadata.uid = Some("old-uid".into());
        let stale = PersistentVolumeClaim {
            metadata: ObjectMeta {
                owner_references: Some(vec![Owner::pod(&earlier).controller_ref()]),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(claim_is_stale(&stale, &pod));
        assert!(claim_owner_up_to_date(&stale, &set(2, DELETE, DELETE), &pod));
    }
}
