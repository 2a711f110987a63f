//! Automatic approval of node client certificates (upstream's csrapproving controller):
//! a `kubernetes.io/kube-apiserver-client-kubelet` request for `system:node:<name>` in
//! `system:nodes` is approved when a joining node asks with a bootstrap identity (group
//! `system:bootstrappers`), or when a node renews its own certificate. Everything else
//! waits for `kubectl certificate approve`.

use std::sync::Arc;

use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::csr_signing::KUBELET_SIGNER;
use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::Error;

pub const NAME: &str = "csrapproving";
const BOOTSTRAPPERS: &str = "system:bootstrappers";
const NODE_USAGES: [&str; 3] = ["digital signature", "key encipherment", "client auth"];

pub(crate) fn start(
    client: Client,
    csrs: &Arc<Informer<CertificateSigningRequest>>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    csrs.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                if new.spec.signer_name == KUBELET_SIGNER && undecided(new) {
                    queue.add(new.name_any());
                }
            }
        }
    });
    let store = csrs.store();
    let ready = csrs.synced();
    tokio::spawn(queue::serve(NAME, queue, 1, ready, shutdown, move |name: String| {
        let (client, store) = (client.clone(), store.clone());
        async move { sync(&client, &store, &name).await }
    }))
}

fn undecided(csr: &CertificateSigningRequest) -> bool {
    !csr.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| matches!(c.type_.as_str(), "Approved" | "Denied" | "Failed")))
}

/// Whether the request is one this controller approves.
fn approvable(csr: &CertificateSigningRequest) -> bool {
    if csr.spec.signer_name != KUBELET_SIGNER {
        return false;
    }
    let request = String::from_utf8_lossy(&csr.spec.request.0);
    let Ok(subject) = kolibri_pki::csr_subject(&request) else { return false };
    let usages = csr.spec.usages.clone().unwrap_or_default();
    let node_client = subject.organizations == ["system:nodes"]
        && subject.common_name.strip_prefix("system:node:").is_some_and(|n| !n.is_empty())
        && !subject.has_alt_names
        && usages.iter().any(|u| u == "client auth")
        && usages.iter().all(|u| NODE_USAGES.contains(&u.as_str()));
    if !node_client {
        return false;
    }
    let groups = csr.spec.groups.clone().unwrap_or_default();
    let bootstrapping = groups.iter().any(|g| g == BOOTSTRAPPERS);
    let renewing = csr.spec.username.as_deref() == Some(subject.common_name.as_str());
    bootstrapping || renewing
}

async fn sync(client: &Client, store: &Store<CertificateSigningRequest>, name: &str) -> Result<Next, Error> {
    let Some(csr) = store.get(&ObjectRef::new(name)) else { return Ok(Next::Done) };
    if !undecided(&csr) || !approvable(&csr) {
        return Ok(Next::Done);
    }
    let mut approved = (*csr).clone();
    let now = Time(Timestamp::now());
    approved.status.get_or_insert_with(Default::default).conditions.get_or_insert_with(Vec::new).push(
        CertificateSigningRequestCondition {
            type_: "Approved".into(),
            status: "True".into(),
            reason: Some("AutoApproved".into()),
            message: Some("Auto approving kubelet client certificate after SubjectAccessReview.".into()),
            last_update_time: Some(now.clone()),
            last_transition_time: Some(now),
        },
    );
    match Api::<CertificateSigningRequest>::all(client.clone())
        .replace_subresource("approval", name, &PostParams::default(), &approved)
        .await
    {
        Ok(_) => {
            tracing::info!(csr = name, "approved a node client certificate request");
            Ok(Next::Done)
        }
        Err(e) if crate::api_reason(&e, 404) => Ok(Next::Done),
        Err(e) => Err(e.into()),
    }
}
