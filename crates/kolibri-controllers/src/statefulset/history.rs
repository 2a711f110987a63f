//! ControllerRevisions of a StatefulSet's pod template (upstream's `pkg/controller/history`
//! and `getPatch`/`newRevision`/`ApplyRevision`).
//!
//! A revision's `data` is the patch upstream stores, `{"spec":{"template":{…,"$patch":"replace"}}}`,
//! so `kubectl rollout history|undo` read and apply it as they do upstream (undo sends it as a
//! strategic merge patch). Its name is `<set>-<hash>`, the hash being upstream's
//! `HashControllerRevision`: FNV-1 (32 bit) of the data's JSON and the decimal collision
//! count, in the safe alphabet. The JSON is written with sorted keys as Go's encoder writes a
//! map, but Go's encoding of the template differs in details (it writes
//! `"creationTimestamp":null`, for one), so the value generally differs from the one an
//! upstream cluster would give the same template; it is stable for a given template.

use std::cmp::Ordering;

use k8s_openapi::api::apps::v1::{ControllerRevision, StatefulSet};
use k8s_openapi::api::core::v1::PodTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use serde_json::{json, Map, Value};

use super::identity::REVISION_LABEL;
use crate::replicaset::controller_ref;

/// Upstream keeps revision names within the name length limit this way.
const MAX_PREFIX: usize = 223;

/// The stored patch for a template.
pub(super) fn data_of(template: &PodTemplateSpec) -> Value {
    let mut template = serde_json::to_value(template).unwrap_or_else(|_| json!({}));
    if let Some(map) = template.as_object_mut() {
        map.insert("$patch".into(), json!("replace"));
    }
    json!({ "spec": { "template": template } })
}

/// `value` with the keys of every object in sorted order, whatever map serde_json uses.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&map[k]))).collect::<Map<_, _>>())
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// Upstream's `HashControllerRevision` (FNV-1, not 1a, as Go's `fnv.New32`).
pub(super) fn hash(data: &Value, collision_count: i32) -> String {
    let mut bytes = serde_json::to_vec(&sorted(data)).unwrap_or_default();
    bytes.extend_from_slice(collision_count.to_string().as_bytes());
    let h = fnv1_32(&bytes);
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    h.to_string().bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

fn fnv1_32(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5, |h: u32, b| h.wrapping_mul(0x0100_0193) ^ u32::from(*b))
}

/// Upstream's `ControllerRevisionName`.
pub(super) fn revision_name(set_name: &str, hash: &str) -> String {
    let prefix: String = set_name.chars().take(MAX_PREFIX).collect();
    format!("{prefix}-{hash}")
}

/// Upstream's `newRevision`: labelled like the template plus the hash, annotated like the set
/// (so a change-cause shows in `kubectl rollout history`), controlled by the set.
pub(super) fn new_revision(set: &StatefulSet, number: i64, collision_count: i32) -> ControllerRevision {
    let template = set.spec.as_ref().map(|s| s.template.clone()).unwrap_or_default();
    let data = data_of(&template);
    let hash = hash(&data, collision_count);
    let mut labels = template.metadata.and_then(|m| m.labels).unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), hash.clone());
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(set.metadata.name.as_deref().unwrap_or_default(), &hash)),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: set.metadata.annotations.clone(),
            owner_references: Some(vec![controller_ref(set)]),
            ..Default::default()
        },
        data: Some(RawExtension(data)),
        revision: number,
    }
}

fn data(rev: &ControllerRevision) -> &Value {
    static NULL: Value = Value::Null;
    rev.data.as_ref().map_or(&NULL, |d| &d.0)
}

/// Upstream's `EqualRevision`: the same stored patch (compared as JSON values, so a server
/// that re-encodes the data does not make equal revisions differ).
pub(super) fn equal(a: &ControllerRevision, b: &ControllerRevision) -> bool {
    data(a) == data(b)
}

/// The pod template a revision restores (upstream's `ApplyRevision`, which for this patch
/// shape replaces the template).
pub(super) fn template_of(rev: &ControllerRevision) -> Option<PodTemplateSpec> {
    let mut template = data(rev).get("spec")?.get("template")?.clone();
    template.as_object_mut()?.remove("$patch");
    serde_json::from_value(template).ok()
}

/// Upstream's `SortControllerRevisions`: by revision number, then creation, then name.
pub(super) fn sort(revisions: &mut [ControllerRevision]) {
    revisions.sort_by(|a, b| {
        a.revision
            .cmp(&b.revision)
            .then_with(|| {
                let created = |r: &ControllerRevision| r.metadata.creation_timestamp.as_ref().map(|t| t.0);
                created(a).partial_cmp(&created(b)).unwrap_or(Ordering::Equal)
            })
            .then_with(|| a.metadata.name.cmp(&b.metadata.name))
    });
}

/// Upstream's `nextRevision` (of a sorted list).
pub(super) fn next_number(revisions: &[ControllerRevision]) -> i64 {
    revisions.last().map_or(1, |r| r.revision + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::StatefulSetSpec;
    use k8s_openapi::api::core::v1::{Container, PodSpec};

    fn set(image: &str) -> StatefulSet {
        StatefulSet {
            metadata: ObjectMeta { name: Some("web".into()), namespace: Some("ns".into()), ..Default::default() },
            spec: Some(StatefulSetSpec {
                template: PodTemplateSpec {
                    metadata: Some(ObjectMeta {
                        labels: Some([("app".to_string(), "web".to_string())].into()),
                        ..Default::default()
                    }),
                    spec: Some(PodSpec {
                        containers: vec![Container {
                            name: "c".into(),
                            image: Some(image.into()),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            status: None,
        }
    }

    #[test]
    fn revisions_store_the_template_patch_and_hash_it_stably() {
        let rev = new_revision(&set("nginx:1"), 1, 0);
        let name = rev.metadata.name.clone().unwrap();
        let hash = &rev.metadata.labels.as_ref().unwrap()[REVISION_LABEL];
        assert_eq!(name, format!("web-{hash}"));
        assert!(hash.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)), "{hash}");
        assert_eq!(data(&rev)["spec"]["template"]["$patch"], "replace");
        assert_eq!(template_of(&rev), Some(set("nginx:1").spec.unwrap().template));
        // Same template, same name; another template or collision count, another name.
        assert_eq!(new_revision(&set("nginx:1"), 7, 0).metadata.name, rev.metadata.name);
        assert!(equal(&rev, &new_revision(&set("nginx:1"), 7, 0)));
        assert_ne!(new_revision(&set("nginx:2"), 1, 0).metadata.name, rev.metadata.name);
        assert_ne!(new_revision(&set("nginx:1"), 1, 1).metadata.name, rev.metadata.name);
    }

    #[test]
    fn the_hash_is_fnv1_as_go_computes_it() {
        // The published FNV-1 (not 1a) test vectors.
        assert_eq!(fnv1_32(b""), 0x811c_9dc5);
        assert_eq!(fnv1_32(b"a"), 0x050c_5d7e);
        assert_eq!(fnv1_32(b"foobar"), 0x31f0_b262);
    }
}
