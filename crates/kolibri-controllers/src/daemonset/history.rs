//! The DaemonSet's history (upstream's `constructHistory`, `snapshot`, `cleanupHistory`):
//! one ControllerRevision per pod template, named `<daemonset>-<hash>`, labelled with the
//! template's labels and `controller-revision-hash`, owned by the DaemonSet, numbered by
//! `revision`. Its `data` is what `kubectl rollout undo` applies: a strategic merge patch
//! replacing `spec.template`, shaped as Go's encoder writes the template (a null
//! `creationTimestamp`, `resources: {}`), so kubectl's byte comparison of a revision with the
//! live DaemonSet finds the one it matches.

use std::collections::HashSet;
use std::sync::Arc;

use k8s_openapi::api::apps::v1::{ControllerRevision, DaemonSet};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::ResourceExt;
use serde_json::{json, Value};

use super::{Controller, HASH_LABEL};
use crate::replicaset::controller_ref;
use crate::workloads;
use crate::Error;

/// The template as Go's `json.Marshal` of the typed object writes it: struct-valued fields
/// without `omitempty` effect are always present.
fn go_template(ds: &DaemonSet) -> Value {
    let template = ds.spec.as_ref().map(|s| &s.template);
    let mut t = serde_json::to_value(template).unwrap_or(Value::Null);
    if !t.is_object() {
        t = json!({});
    }
    let meta = &mut t["metadata"];
    if !meta.is_object() {
        *meta = json!({});
    }
    if meta.get("creationTimestamp").is_none() {
        meta["creationTimestamp"] = Value::Null;
    }
    if let Some(spec) = t.get_mut("spec").and_then(Value::as_object_mut) {
        for list in ["initContainers", "containers", "ephemeralContainers"] {
            for c in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(c) = c.as_object_mut() {
                    c.entry("resources").or_insert_with(|| json!({}));
                }
            }
        }
    }
    t
}

/// Upstream's `getPatch`: `{"spec":{"template":{"$patch":"replace", ...}}}`.
pub(super) fn revision_data(ds: &DaemonSet) -> Value {
    let mut template = go_template(ds);
    template["$patch"] = json!("replace");
    json!({"spec": {"template": template}})
}

/// Upstream's `Match`, comparing values (the server may drop nulls of stored data).
fn matches(data: &Value, history: &ControllerRevision) -> bool {
    fn strip(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                Value::Object(m.iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k.clone(), strip(v))).collect())
            }
            Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
            other => other.clone(),
        }
    }
    history.data.as_ref().is_some_and(|d| strip(&d.0) == strip(data))
}

/// Upstream's `ComputeHash` of the template and collision count (FNV-32a, encoded with
/// `SafeEncodeString`'s alphabet), over the Go-shaped JSON rather than Go's struct dump.
pub(super) fn compute_hash(ds: &DaemonSet, collision_count: Option<i32>) -> String {
    let mut hash: u32 = 0x811c_9dc5;
    let mut write = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u32::from(*b);
            hash = hash.wrapping_mul(0x0100_0193);
        }
    };
    write(&serde_json::to_vec(&go_template(ds)).unwrap_or_default());
    if let Some(n) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(n as u32).to_le_bytes());
        write(&bytes);
    }
    const ALPHANUMS: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    hash.to_string().bytes().map(|b| ALPHANUMS[usize::from(b) % ALPHANUMS.len()] as char).collect()
}

impl Controller {
    /// Upstream's `constructHistory`: the current revision (created, deduplicated or
    /// renumbered as needed) and the old ones.
    pub(super) async fn construct_history(
        &self,
        ds: &DaemonSet,
        selector: &Selector,
        pods: &[Arc<Pod>],
    ) -> Result<(ControllerRevision, Vec<ControllerRevision>), Error> {
        let data = revision_data(ds);
        let mut current = Vec::new();
        let mut old = Vec::new();
        for mut history in self.controlled_histories(ds, selector).await? {
            // Older revisions may lack the label; the name serves (no hash collision).
            if !history.labels().contains_key(HASH_LABEL) {
                let name = history.name_any();
                let patch = json!({"metadata": {"labels": {HASH_LABEL: name},
                    "resourceVersion": history.metadata.resource_version}});
                history = self.revisions_api(ds).patch(&name, &PatchParams::default(), &Patch::Merge(&patch)).await?;
            }
            if matches(&data, &history) {
                current.push(history);
            } else {
                old.push(history);
            }
        }
        let next = old.iter().map(|h| h.revision).max().unwrap_or(0) + 1;
        let cur = if current.is_empty() {
            self.snapshot(ds, next, data).await?
        } else {
            let cur = self.dedup(ds, current, pods).await?;
            if cur.revision < next {
                let patch = json!({"revision": next, "metadata": {"resourceVersion": cur.metadata.resource_version}});
                self.revisions_api(ds).patch(&cur.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?
            } else {
                cur
            }
        };
        Ok((cur, old))
    }

    fn revisions_api(&self, ds: &DaemonSet) -> kube::Api<ControllerRevision> {
        kube::Api::namespaced(self.client.clone(), ds.metadata.namespace.as_deref().unwrap_or_default())
    }

    /// The revisions the DaemonSet controls, adopting matching orphans and releasing owned
    /// ones that stopped matching (upstream's `ClaimControllerRevisions`).
    async fn controlled_histories(
        &self,
        ds: &DaemonSet,
        selector: &Selector,
    ) -> Result<Vec<ControllerRevision>, Error> {
        let uid = ds.metadata.uid.clone().unwrap_or_default();
        let mut adoptable = None;
        let mut owned = Vec::new();
        for history in self.revisions.state() {
            if history.metadata.namespace != ds.metadata.namespace {
                continue;
            }
            let matching = workloads::matches(selector, &history.metadata);
            match workloads::controller_of(&history.metadata) {
                Some(r) if r.uid == uid => {
                    if matching {
                        owned.push((*history).clone());
                    } else {
                        let api = self.revisions_api(ds);
                        super::set_owners(&api, &history.metadata, |refs| refs.retain(|r| r.uid != uid)).await?;
                    }
                }
                None if matching && history.metadata.deletion_timestamp.is_none() => {
                    // Upstream's `RecheckDeletionTimestamp`: one uncached read before adopting.
                    let can = match adoptable {
                        Some(can) => can,
                        None => *adoptable.insert(self.can_adopt(ds).await?),
                    };
                    if !can {
                        continue;
                    }
                    let r = controller_ref(ds);
                    let api = self.revisions_api(ds);
                    if let Some(adopted) = super::set_owners(&api, &history.metadata, |refs| refs.push(r)).await? {
                        owned.push(adopted);
                    }
                }
                _ => {}
            }
        }
        Ok(owned)
    }

    /// Upstream's `dedupCurHistories`: keeps the highest revision among those matching the
    /// template, relabels the pods to its hash and deletes the others.
    async fn dedup(
        &self,
        ds: &DaemonSet,
        mut current: Vec<ControllerRevision>,
        pods: &[Arc<Pod>],
    ) -> Result<ControllerRevision, Error> {
        current.sort_by_key(|h| h.revision);
        let Some(keep) = current.pop() else {
            return Err(Error::Sync("no current revision".into()));
        };
        if current.is_empty() {
            return Ok(keep);
        }
        let hash = keep.labels().get(HASH_LABEL).cloned().unwrap_or_default();
        let pods_api: kube::Api<Pod> =
            kube::Api::namespaced(self.client.clone(), ds.metadata.namespace.as_deref().unwrap_or_default());
        for pod in pods {
            if pod.labels().get(HASH_LABEL) != Some(&hash) {
                let patch = json!({"metadata": {"labels": {HASH_LABEL: hash}}});
                match pods_api.patch(&pod.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await {
                    Err(e) if !crate::api_reason(&e, 404) => return Err(e.into()),
                    _ => {}
                }
            }
        }
        for duplicate in current {
            match self.revisions_api(ds).delete(&duplicate.name_any(), &DeleteParams::default()).await {
                Err(e) if !crate::api_reason(&e, 404) => return Err(e.into()),
                _ => {}
            }
        }
        Ok(keep)
    }

    /// Upstream's `snapshot`: creates the revision of the current template; a name taken by a
    /// different template is a hash collision, resolved by raising `status.collisionCount`.
    async fn snapshot(&self, ds: &DaemonSet, revision: i64, data: Value) -> Result<ControllerRevision, Error> {
        let collision_count = ds.status.as_ref().and_then(|s| s.collision_count);
        let hash = compute_hash(ds, collision_count);
        let name = format!("{}-{hash}", ds.name_any());
        let mut labels = ds
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.labels.clone())
            .unwrap_or_default();
        labels.insert(HASH_LABEL.into(), hash);
        let history = ControllerRevision {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                namespace: ds.metadata.namespace.clone(),
                labels: Some(labels),
                annotations: ds.metadata.annotations.clone(),
                owner_references: Some(vec![controller_ref(ds)]),
                ..Default::default()
            },
            data: Some(RawExtension(data.clone())),
            revision,
        };
        let api = self.revisions_api(ds);
        let exists = match api.create(&PostParams::default(), &history).await {
            Ok(created) => return Ok(created),
            Err(e) if crate::api_reason(&e, 409) => e,
            Err(e) => return Err(e.into()),
        };
        let found = api.get(&name).await?;
        if matches(&data, &found) {
            return Ok(found);
        }
        let ds_api: kube::Api<DaemonSet> =
            kube::Api::namespaced(self.client.clone(), ds.metadata.namespace.as_deref().unwrap_or_default());
        let fresh = ds_api.get(&ds.name_any()).await?;
        let fresh_count = fresh.status.as_ref().and_then(|s| s.collision_count);
        if fresh_count != collision_count {
            return Err(Error::Sync(format!(
                "found a stale collision count ({collision_count:?}, expected {fresh_count:?}) of DaemonSet {:?} while processing; will retry until it is updated",
                ds.name_any()
            )));
        }
        let raised = fresh_count.unwrap_or(0) + 1;
        let patch = json!({"metadata": {"resourceVersion": fresh.metadata.resource_version},
            "status": {"collisionCount": raised}});
        ds_api.patch_status(&ds.name_any(), &PatchParams::default(), &Patch::Merge(&patch)).await?;
        tracing::info!(daemonset = %ds.name_any(), collision_count = raised, "hash collision; collisionCount raised");
        Err(Error::Sync(crate::workloads::error_message(&exists)))
    }

    /// Upstream's `cleanupHistory`: beyond `revisionHistoryLimit`, the oldest revisions no
    /// pod runs are deleted.
    pub(super) async fn cleanup_history(
        &self,
        ds: &DaemonSet,
        mut old: Vec<ControllerRevision>,
        pods: &[Arc<Pod>],
    ) -> Result<(), Error> {
        let keep = ds.spec.as_ref().and_then(|s| s.revision_history_limit).unwrap_or(10).max(0) as usize;
        let mut to_kill = old.len().saturating_sub(keep);
        if to_kill == 0 {
            return Ok(());
        }
        let live: HashSet<&String> = pods.iter().filter_map(|p| p.labels().get(HASH_LABEL)).collect();
        old.sort_by_key(|h| h.revision);
        for history in old {
            if to_kill == 0 {
                break;
            }
            if history.labels().get(HASH_LABEL).is_some_and(|h| live.contains(h)) {
                continue;
            }
            match self.revisions_api(ds).delete(&history.name_any(), &DeleteParams::default()).await {
                Err(e) if !crate::api_reason(&e, 404) => return Err(e.into()),
                _ => {}
            }
            to_kill -= 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ds(image: &str) -> DaemonSet {
        serde_json::from_value(json!({
            "metadata": {"name": "d", "namespace": "ns"},
            "spec": {"selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": image}]}}},
        }))
        .unwrap()
    }

    #[test]
    fn revision_data_is_shaped_as_go_writes_it() {
        let data = revision_data(&ds("nginx"));
        assert_eq!(
            serde_json::to_string(&data).unwrap(),
            r#"{"spec":{"template":{"$patch":"replace","metadata":{"creationTimestamp":null,"labels":{"a":"b"}},"spec":{"containers":[{"image":"nginx","name":"c","resources":{}}]}}}}"#
        );
        let history = ControllerRevision { data: Some(RawExtension(data.clone())), ..Default::default() };
        assert!(matches(&data, &history));
        // Stored without the null, it still matches; another template does not.
        let mut stripped = data.clone();
        stripped["spec"]["template"]["metadata"].as_object_mut().unwrap().remove("creationTimestamp");
        assert!(matches(&stripped, &history));
        assert!(!matches(&revision_data(&ds("httpd")), &history));
    }

    #[test]
    fn hashes_change_with_the_template_and_collisions() {
        let h = compute_hash(&ds("nginx"), None);
        assert!(h.bytes().all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b)));
        assert_eq!(h, compute_hash(&ds("nginx"), None));
        assert_ne!(h, compute_hash(&ds("nginx"), Some(1)));
        assert_ne!(h, compute_hash(&ds("httpd"), None));
    }
}
