//! The `default` ServiceAccount in every active namespace, created again when deleted
//! (upstream's serviceaccounts-controller).

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::Error;

pub const NAME: &str = "serviceaccount";
const ACCOUNT: &str = "default";

pub(crate) fn start(
    client: Client,
    namespaces: &Arc<Informer<Namespace>>,
    shutdown: watch::Receiver<bool>,
) -> Vec<JoinHandle<()>> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    namespaces.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                if is_active(new) {
                    queue.add(new.name_any());
                }
            }
        }
    });
    // Only the accounts this controller manages are watched.
    let accounts = Informer::<ServiceAccount>::new("serviceaccounts/default", ());
    accounts.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Deleted(sa) = change {
                if let Some(ns) = sa.namespace() {
                    queue.add(ns);
                }
            }
        }
    });
    let config = watcher::Config::default().fields(&format!("metadata.name={ACCOUNT}"));
    let mut tasks: Vec<JoinHandle<()>> = accounts
        .start(watcher(Api::<ServiceAccount>::all(client.clone()), config).default_backoff(), shutdown.clone())
        .into_iter()
        .collect();

    let (ns_store, sa_store) = (namespaces.store(), accounts.store());
    let ready = futures::future::join(namespaces.synced(), accounts.synced());
    let ready = async move {
        ready.await;
    };
    tasks.push(tokio::spawn(queue::serve(NAME, queue, 1, ready, shutdown, move |ns: String| {
        let (client, ns_store, sa_store) = (client.clone(), ns_store.clone(), sa_store.clone());
        async move { sync(&client, &ns_store, &sa_store, &ns).await }
    })));
    tasks
}

/// Upstream creates accounts only in namespaces that are not terminating.
fn is_active(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_none()
        && ns.status.as_ref().and_then(|s| s.phase.as_deref()).is_none_or(|p| p == "Active")
}

async fn sync(
    client: &Client,
    namespaces: &Store<Namespace>,
    accounts: &Store<ServiceAccount>,
    ns: &str,
) -> Result<Next, Error> {
    match namespaces.get(&ObjectRef::new(ns)) {
        Some(namespace) if is_active(&namespace) => {}
        _ => return Ok(Next::Done),
    }
    if accounts.get(&ObjectRef::new(ACCOUNT).within(ns)).is_some() {
        return Ok(Next::Done);
    }
    let sa = ServiceAccount {
        metadata: ObjectMeta { name: Some(ACCOUNT.into()), ..Default::default() },
        ..Default::default()
    };
    match Api::<ServiceAccount>::namespaced(client.clone(), ns).create(&PostParams::default(), &sa).await {
        Ok(_) => {
            tracing::info!(namespace = ns, "created the default service account");
            Ok(Next::Done)
        }
        // Already there (the cache lags), or the namespace is gone or terminating.
        Err(e) if crate::api_reason(&e, 409) || crate::api_reason(&e, 404) || crate::namespace_terminating(&e) => {
            Ok(Next::Done)
        }
        Err(e) => Err(e.into()),
    }
}
