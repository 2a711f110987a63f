//! Signing of approved CertificateSigningRequests for the client signers the API server
//! trusts (upstream's csrsigning controller): `kubernetes.io/kube-apiserver-client` and
//! `kubernetes.io/kube-apiserver-client-kubelet`, with the cluster CA. The certificate
//! lives `spec.expirationSeconds` (at least 10 minutes, at most a year); a request the
//! signer refuses gets a `Failed` condition instead.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::certificates::v1::{CertificateSigningRequest, CertificateSigningRequestCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use k8s_openapi::ByteString;
use kolibri_pki::CsrSigner;
use kube::api::PostParams;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::Error;

pub const NAME: &str = "csrsigning";
pub const CLIENT_SIGNER: &str = "kubernetes.io/kube-apiserver-client";
pub const KUBELET_SIGNER: &str = "kubernetes.io/kube-apiserver-client-kubelet";
const MIN_DURATION: Duration = Duration::from_secs(600);
const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 3600);
const CLIENT_USAGES: [&str; 3] = ["digital signature", "key encipherment", "client auth"];

pub(crate) fn start(
    client: Client,
    signer: Arc<CsrSigner>,
    csrs: &Arc<Informer<CertificateSigningRequest>>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue = Queue::<String>::new(Backoff::DEFAULT);
    csrs.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                if is_approved(new) && !is_finished(new) {
                    queue.add(new.name_any());
                }
            }
        }
    });
    let store = csrs.store();
    let ready = csrs.synced();
    tokio::spawn(queue::serve(NAME, queue, 1, ready, shutdown, move |name: String| {
        let (client, store, signer) = (client.clone(), store.clone(), signer.clone());
        async move { sync(&client, &store, &signer, &name).await }
    }))
}

fn has_condition(csr: &CertificateSigningRequest, kind: &str) -> bool {
    csr.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|cs| cs.iter().any(|c| c.type_ == kind))
}

pub(crate) fn is_approved(csr: &CertificateSigningRequest) -> bool {
    has_condition(csr, "Approved") && !has_condition(csr, "Denied")
}

/// Signed, or refused by a signer.
fn is_finished(csr: &CertificateSigningRequest) -> bool {
    has_condition(csr, "Failed")
        || csr.status.as_ref().and_then(|s| s.certificate.as_ref()).is_some_and(|c| !c.0.is_empty())
}

async fn sync(
    client: &Client,
    store: &Store<CertificateSigningRequest>,
    signer: &CsrSigner,
    name: &str,
) -> Result<Next, Error> {
    let Some(csr) = store.get(&ObjectRef::new(name)) else { return Ok(Next::Done) };
    let signer_name = csr.spec.signer_name.as_str();
    if !is_approved(&csr) || is_finished(&csr) || !matches!(signer_name, CLIENT_SIGNER | KUBELET_SIGNER) {
        return Ok(Next::Done);
    }
    let request = String::from_utf8_lossy(&csr.spec.request.0).to_string();
    let usages = csr.spec.usages.clone().unwrap_or_default();
    let mut updated = (*csr).clone();
    let status = updated.status.get_or_insert_with(Default::default);
    match validate(signer_name, &request, &usages) {
        Ok(()) => {
            let seconds = csr.spec.expiration_seconds.map_or(MAX_DURATION.as_secs(), |s| u64::try_from(s).unwrap_or(0));
            let validity = Duration::from_secs(seconds).clamp(MIN_DURATION, MAX_DURATION);
            match signer.sign(&request, &usages, validity) {
                Ok(pem) => status.certificate = Some(ByteString(pem.into_bytes())),
                Err(e) => fail(status, e.to_string()),
            }
        }
        Err(why) => fail(status, why),
    }
    match Api::<CertificateSigningRequest>::all(client.clone())
        .replace_status(name, &PostParams::default(), &updated)
        .await
    {
        Ok(_) => {
            tracing::info!(csr = name, signer = signer_name, "signed or refused a certificate signing request");
            Ok(Next::Done)
        }
        Err(e) if crate::api_reason(&e, 404) => Ok(Next::Done),
        Err(e) => Err(e.into()),
    }
}

fn fail(status: &mut k8s_openapi::api::certificates::v1::CertificateSigningRequestStatus, message: String) {
    let now = Time(Timestamp::now());
    status.conditions.get_or_insert_with(Vec::new).push(CertificateSigningRequestCondition {
        type_: "Failed".into(),
        status: "True".into(),
        reason: Some("SignerValidationFailure".into()),
        message: Some(message),
        last_update_time: Some(now.clone()),
        last_transition_time: Some(now),
    });
}

/// What each signer accepts (upstream's signer validation): client usages only, and for
/// kubelets a `system:node:<name>` in `system:nodes` without alternative names.
fn validate(signer: &str, request: &str, usages: &[String]) -> Result<(), String> {
    let subject = kolibri_pki::csr_subject(request).map_err(|e| e.to_string())?;
    if let Some(bad) = usages.iter().find(|u| !CLIENT_USAGES.contains(&u.as_str())) {
        return Err(format!("invalid usage for client certificate: {bad}"));
    }
    if !usages.iter().any(|u| u == "client auth") {
        return Err("missing required usages: client auth".into());
    }
    if signer == KUBELET_SIGNER {
        if subject.organizations != ["system:nodes"] {
            return Err(format!("subject organization is not system:nodes: {:?}", subject.organizations));
        }
        if !subject.common_name.starts_with("system:node:") || subject.common_name.len() == "system:node:".len() {
            return Err(format!("subject common name does not begin with system:node:: {:?}", subject.common_name));
        }
        if subject.has_alt_names {
            return Err("subject alternative names are not allowed".into());
        }
    } else if subject.common_name.is_empty() {
        return Err("subject CN is required".into());
    }
    Ok(())
}
