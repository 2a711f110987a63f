//! ResourceQuota status (upstream's resourcequota controller): `status.hard` mirrors
//! `spec.hard`, `status.used` is recomputed from the objects of the namespace that the
//! quota's scopes select. Admission adds each new object's usage as it is created; this
//! controller corrects the sum when a quota is created or changed and when objects go (pods
//! deleted or finished; services, config maps, secrets, claims and replication controllers
//! deleted). Kinds other than pods are counted through the API when a quota is synced; their
//! deletions come from metadata-only watches that keep no cache.
//! Resources no kind uses (a `count/` of a resource that is not served) get no usage and a
//! warning event.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, ResourceQuota, ResourceQuotaStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;
use kolibri_resources::quota::{self, Quantity, Usage};
use kube::api::{ApiResource, DynamicObject, ListParams, PartialObjectMeta, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::events::{Recorder, WARNING};
use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::workloads::{key_of, split_key};
use crate::Error;

pub const NAME: &str = "resourcequota";

pub(crate) fn start(client: Client, pods: &Arc<Informer<Pod>>, shutdown: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    let quotas = Informer::<ResourceQuota>::new("resourcequotas", ());
    quotas.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { old, new } = change {
                // Admission charging a quota changes only `status.used`: nothing to redo.
                if old.as_ref().is_none_or(|o| o.spec != new.spec) || needs_status(new) {
                    queue.add(key_of(&new.metadata));
                }
            }
        }
    });
    let quota_store = quotas.store();
    pods.on_change({
        let (queue, quota_store) = (queue.clone(), quota_store.clone());
        move |change| {
            let namespace = match change {
                Change::Deleted(pod) => pod.namespace(),
                Change::Applied { old: Some(old), new } if !is_terminal(old) && is_terminal(new) => new.namespace(),
                _ => None,
            };
            let Some(namespace) = namespace else { return };
            for q in quota_store.state().iter().filter(|q| q.namespace().as_deref() == Some(namespace.as_str())) {
                queue.add(key_of(&q.metadata));
            }
        }
    });
    let mut deletions = Vec::new();
    for plural in COUNTED_KINDS {
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(client.clone(), &core_resource(plural));
        let events = watcher(api, watcher::Config::default()).default_backoff();
        let (queue, quota_store) = (queue.clone(), quota_store.clone());
        deletions.push(tokio::spawn(watch_deletions(events, queue, quota_store, shutdown.clone())));
    }
    let mut tasks: Vec<JoinHandle<()>> = quotas
        .start(
            watcher(Api::<ResourceQuota>::all(client.clone()), watcher::Config::default()).default_backoff(),
            shutdown.clone(),
        )
        .into_iter()
        .chain(deletions)
        .collect();
    let ready = futures::future::join(pods.synced(), quotas.synced());
    let ready = async move {
        ready.await;
    };
    let pod_store = pods.store();
    let recorder = Recorder::new(client.clone(), "resource-quota-controller");
    tasks.push(tokio::spawn(queue::serve(NAME, queue, 1, ready, shutdown, move |key: String| {
        let (client, quotas, pods, recorder) =
            (client.clone(), quota_store.clone(), pod_store.clone(), recorder.clone());
        async move { sync(&client, &quotas, &pods, &recorder, &key).await }
    })));
    tasks
}

/// Core kinds whose deletions give quota back (besides pods, which are watched in full).
const COUNTED_KINDS: [&str; 5] =
    ["services", "configmaps", "secrets", "persistentvolumeclaims", "replicationcontrollers"];

fn core_resource(plural: &str) -> ApiResource {
    ApiResource {
        group: String::new(),
        version: "v1".into(),
        api_version: "v1".into(),
        kind: String::new(),
        plural: plural.into(),
    }
}

/// Queues the quotas of the namespace of every deleted object; after a re-list (deletions
/// may have been missed meanwhile) every quota.
async fn watch_deletions<S>(
    events: S,
    queue: Arc<Queue<String>>,
    quotas: Store<ResourceQuota>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: futures::Stream<Item = Result<watcher::Event<PartialObjectMeta<DynamicObject>>, watcher::Error>> + Send,
{
    let mut events = std::pin::pin!(events);
    let mut listed = false;
    loop {
        let event = tokio::select! {
            event = events.next() => event,
            _ = crate::stopped(&mut shutdown) => break,
        };
        let namespace = match event {
            None => break,
            Some(Ok(watcher::Event::Delete(obj))) => obj.namespace(),
            Some(Ok(watcher::Event::InitDone)) => {
                if listed {
                    for q in quotas.state() {
                        queue.add(key_of(&q.metadata));
                    }
                }
                listed = true;
                continue;
            }
            Some(_) => continue,
        };
        let Some(namespace) = namespace else { continue };
        for q in quotas.state().iter().filter(|q| q.namespace().as_deref() == Some(namespace.as_str())) {
            queue.add(key_of(&q.metadata));
        }
    }
}

fn needs_status(q: &ResourceQuota) -> bool {
    let hard = q.spec.as_ref().and_then(|s| s.hard.as_ref());
    let status = q.status.as_ref();
    status.and_then(|s| s.hard.as_ref()) != hard || status.and_then(|s| s.used.as_ref()).is_none()
}

fn is_terminal(pod: &Pod) -> bool {
    matches!(pod.status.as_ref().and_then(|s| s.phase.as_deref()), Some("Succeeded" | "Failed"))
}

/// The kind a quota resource name counts: `(group, plural)`.
fn kind_of(resource: &str) -> Option<(String, String)> {
    if let Some(rest) = resource.strip_prefix("count/") {
        return Some(match rest.split_once('.') {
            Some((plural, group)) => (group.to_string(), plural.to_string()),
            None => (String::new(), rest.to_string()),
        });
    }
    let core = |p: &str| Some((String::new(), p.to_string()));
    match resource {
        "services" | "services.loadbalancers" | "services.nodeports" => core("services"),
        "persistentvolumeclaims" | "requests.storage" => core("persistentvolumeclaims"),
        // Per storage class: `<class>.storageclass.storage.k8s.io/requests.storage`.
        r if r.ends_with(".storageclass.storage.k8s.io/requests.storage")
            || r.ends_with(".storageclass.storage.k8s.io/persistentvolumeclaims") =>
        {
            core("persistentvolumeclaims")
        }
        "configmaps" | "secrets" | "replicationcontrollers" | "resourcequotas" => core(resource),
        r if !quota::matching_resources("", "pods", std::iter::once(&r.to_string())).is_empty() => core("pods"),
        _ => None,
    }
}

async fn sync(
    client: &Client,
    quotas: &Store<ResourceQuota>,
    pods: &Store<Pod>,
    recorder: &Recorder,
    key: &str,
) -> Result<Next, Error> {
    let (namespace, name) = split_key(key);
    let Some(rq) = quotas.get(&ObjectRef::new(name).within(namespace)) else { return Ok(Next::Done) };
    let hard = rq.spec.as_ref().and_then(|s| s.hard.clone()).unwrap_or_default();
    let quota_json = serde_json::to_value(&*rq).map_err(|e| Error::Sync(e.to_string()))?;

    let mut kinds: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    let mut unknown = Vec::new();
    for resource in hard.keys() {
        match kind_of(resource) {
            Some(kind) => kinds.entry(kind).or_default().push(resource.clone()),
            None => unknown.push(resource.clone()),
        }
    }
    let mut used = Usage::new();
    for ((group, plural), resources) in &kinds {
        let objects: Vec<Value> = if group.is_empty() && plural == "pods" {
            pods.state()
                .iter()
                .filter(|p| p.namespace().as_deref() == Some(namespace))
                .filter_map(|p| serde_json::to_value(&**p).ok())
                .collect()
        } else {
            match list(client, namespace, group, plural).await? {
                Some(objects) => objects,
                None => {
                    unknown.extend(resources.iter().cloned());
                    continue;
                }
            }
        };
        let counted: BTreeSet<&String> = resources.iter().collect();
        for r in resources {
            used.entry(r.clone()).or_insert(Quantity::ZERO);
        }
        for obj in objects.iter().filter(|o| quota::matches_scopes(&quota_json, group, plural, o)) {
            for (r, q) in quota::usage(group, plural, obj) {
                if counted.contains(&r) {
                    let e = used.entry(r).or_insert(Quantity::ZERO);
                    *e = e.plus(q);
                }
            }
        }
    }
    if !unknown.is_empty() {
        recorder.record(
            &*rq,
            WARNING,
            "UnknownResource",
            format!("no served kind uses the resources {}; their usage is not counted", unknown.join(", ")),
        );
    }
    let status = ResourceQuotaStatus {
        hard: (!hard.is_empty()).then(|| hard.clone()),
        used: Some(used.iter().map(|(k, v)| (k.clone(), K8sQuantity(v.to_string()))).collect()),
    };
    if rq.status.as_ref() == Some(&status) {
        return Ok(Next::Done);
    }
    let mut updated = (*rq).clone();
    updated.status = Some(status);
    match Api::<ResourceQuota>::namespaced(client.clone(), namespace)
        .replace_status(name, &PostParams::default(), &updated)
        .await
    {
        Ok(_) => Ok(Next::Done),
        Err(e) if crate::api_reason(&e, 404) => Ok(Next::Done),
        // Admission charged the quota meanwhile: count again from the newer version.
        Err(e) => Err(e.into()),
    }
}

/// The objects of a kind in the namespace, or None when no such kind is served.
async fn list(client: &Client, namespace: &str, group: &str, plural: &str) -> Result<Option<Vec<Value>>, Error> {
    let resource = if group.is_empty() {
        core_resource(plural)
    } else {
        let found = match kube::discovery::group(client, group).await {
            Ok(g) => g.recommended_resources().into_iter().map(|(r, _)| r).find(|r| r.plural == plural),
            Err(kube::Error::Discovery(_)) => None,
            Err(e) if crate::api_reason(&e, 404) => None,
            Err(e) => return Err(e.into()),
        };
        match found {
            Some(r) => r,
            None => return Ok(None),
        }
    };
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &resource);
    match api.list(&ListParams::default()).await {
        Ok(list) => Ok(Some(list.items.iter().filter_map(|o| serde_json::to_value(o).ok()).collect())),
        Err(e) if crate::api_reason(&e, 404) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_their_kinds() {
        assert_eq!(kind_of("requests.cpu"), Some((String::new(), "pods".into())));
        assert_eq!(kind_of("count/deployments.apps"), Some(("apps".into(), "deployments".into())));
        assert_eq!(kind_of("services.nodeports"), Some((String::new(), "services".into())));
        let claims = Some((String::new(), "persistentvolumeclaims".into()));
        assert_eq!(kind_of("gold.storageclass.storage.k8s.io/requests.storage"), claims);
        assert_eq!(kind_of("gold.storageclass.storage.k8s.io/persistentvolumeclaims"), claims);
        assert_eq!(kind_of("widgets"), None);
    }
}
