//! The `kube-root-ca.crt` ConfigMap in every namespace: the cluster CA under `ca.crt`, so
//! pods can verify the API server; restored when changed or deleted (upstream's
//! root-ca-certificate-publisher-controller).

use std::collections::BTreeMap;
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::Error;

pub const NAME: &str = "root-ca-cert-publisher";
pub const CONFIG_MAP: &str = "kube-root-ca.crt";
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
/// Upstream's text, word for word: clients may look for it.
pub const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

pub(crate) fn start(
    client: Client,
    root_ca: String,
    namespaces: &Arc<Informer<Namespace>>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    namespaces.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                if new.metadata.deletion_timestamp.is_none() {
                    queue.add(new.name_any());
                }
            }
        }
    });
    // Only the ConfigMaps this controller manages are watched (and cached).
    let maps = Informer::<ConfigMap>::new("configmaps/kube-root-ca.crt", ());
    maps.on_change({
        let queue = queue.clone();
        move |change| {
            let (Change::Applied { new: cm, old: Some(_) } | Change::Deleted(cm)) = change else { return };
            if let Some(ns) = cm.namespace() {
                queue.add(ns);
            }
        }
    });
    let config = watcher::Config::default().fields(&format!("metadata.name={CONFIG_MAP}"));
    let mut tasks: Vec<JoinHandle<()>> = maps
        .start(watcher(Api::<ConfigMap>::all(client.clone()), config).default_backoff(), shutdown.clone())
        .into_iter()
        .collect();

    let cm_store = maps.store();
    let ready = futures::future::join(namespaces.synced(), maps.synced());
    let ready = async move {
        ready.await;
    };
    let root_ca = Arc::new(root_ca);
    tasks.push(tokio::spawn(queue::serve(NAME, queue, 1, ready, shutdown, move |ns: String| {
        let (client, cm_store, root_ca) = (client.clone(), cm_store.clone(), root_ca.clone());
        async move { sync(&client, &cm_store, &root_ca, &ns).await }
    })));
    tasks
}

async fn sync(client: &Client, maps: &Store<ConfigMap>, root_ca: &str, ns: &str) -> Result<Next, Error> {
    let api = Api::<ConfigMap>::namespaced(client.clone(), ns);
    let data = BTreeMap::from([("ca.crt".to_string(), root_ca.to_string())]);
    let Some(cached) = maps.get(&ObjectRef::new(CONFIG_MAP).within(ns)) else {
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(CONFIG_MAP.into()),
                annotations: Some(BTreeMap::from([(DESCRIPTION_ANNOTATION.to_string(), DESCRIPTION.to_string())])),
                ..Default::default()
            },
            data: Some(data),
            ..Default::default()
        };
        return match api.create(&PostParams::default(), &cm).await {
            Ok(_) => {
                tracing::info!(namespace = ns, "published the root CA");
                Ok(Next::Done)
            }
            // The namespace is gone or terminating: nothing to publish. (An existing map
            // that the cache has not seen yet comes back through its watch event.)
            Err(e) if crate::api_reason(&e, 404) || crate::api_reason(&e, 409) || crate::namespace_terminating(&e) => {
                Ok(Next::Done)
            }
            Err(e) => Err(e.into()),
        };
    };
    let annotated = cached.annotations().get(DESCRIPTION_ANNOTATION).is_some_and(|d| !d.is_empty());
    if cached.data.as_ref() == Some(&data) && annotated {
        return Ok(Next::Done);
    }
    let mut cm = (*cached).clone();
    cm.data = Some(data);
    cm.annotations_mut().insert(DESCRIPTION_ANNOTATION.into(), DESCRIPTION.into());
    // The cached resourceVersion makes this a compare-and-swap: a conflict is retried
    // after the newer version reached the cache.
    match api.replace(CONFIG_MAP, &PostParams::default(), &cm).await {
        Ok(_) => {
            tracing::info!(namespace = ns, "restored the root CA config map");
            Ok(Next::Done)
        }
        Err(e) if crate::api_reason(&e, 404) => Ok(Next::Done),
        Err(e) => Err(e.into()),
    }
}
