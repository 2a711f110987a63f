//! Namespace deletion (upstream's namespace-controller): a namespace with a
//! deletionTimestamp is emptied of every namespaced kind the server serves (custom
//! resources included), its status conditions say what remains and why, and once nothing
//! remains the `kubernetes` finalizer is removed through the `finalize` subresource, after
//! which the API server removes the namespace.
//!
//! Upstream waits 5 s after each namespace event so that other API servers see the deletion;
//! kolibri's admission reads the same store that the deletion is written to, so it starts at
//! once. Objects left after a pass (finalizers, graceful pods) are looked at again after an
//! estimate, as upstream does; everything else that fails is retried with backoff.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Namespace, NamespaceCondition, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::core::DynamicObject;
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::discovery::{self, Resource};
use crate::informer::{Change, Informer};
use crate::queue::{self, Backoff, Next, Queue};
use crate::Error;

pub const NAME: &str = "namespace";
/// The finalizer this controller owns in `spec.finalizers`.
pub const FINALIZER: &str = "kubernetes";
/// Upstream's wait for content that has finalizers.
const FINALIZER_ESTIMATE: Duration = Duration::from_secs(15);

/// Condition types in upstream's order, with the reason and message of their "all good" form.
const CONDITIONS: [(&str, &str, &str); 5] = [
    ("NamespaceDeletionDiscoveryFailure", "ResourcesDiscovered", "All resources successfully discovered"),
    ("NamespaceDeletionGroupVersionParsingFailure", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
    (
        "NamespaceDeletionContentFailure",
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    ("NamespaceContentRemaining", "ContentRemoved", "All content successfully removed"),
    ("NamespaceFinalizersRemaining", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
];

pub(crate) fn start(
    client: Client,
    namespaces: &Arc<Informer<Namespace>>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let queue = Queue::<String>::new(Backoff { base: Duration::from_millis(5), max: Duration::from_secs(60) });
    namespaces.on_change({
        let queue = queue.clone();
        move |change| {
            if let Change::Applied { new, .. } = change {
                if new.metadata.deletion_timestamp.is_some() {
                    queue.add(new.name_any());
                }
            }
        }
    });
    let ready = namespaces.synced();
    // Two workers: one slow namespace does not hold up the next.
    tokio::spawn(queue::serve(NAME, queue, 2, ready, shutdown, move |name: String| {
        let client = client.clone();
        async move { sync(&client, &name).await }
    }))
}

async fn sync(client: &Client, name: &str) -> Result<Next, Error> {
    let api: Api<Namespace> = Api::all(client.clone());
    let Some(mut ns) = api.get_opt(name).await? else { return Ok(Next::Done) };
    let Some(deleted_at) = ns.metadata.deletion_timestamp.clone() else { return Ok(Next::Done) };
    let started = std::time::Instant::now();

    let status = ns.status.get_or_insert_with(Default::default);
    if status.phase.as_deref() != Some("Terminating") {
        status.phase = Some("Terminating".into());
        ns = match api.replace_status(name, &PostParams::default(), &ns).await {
            Ok(ns) => ns,
            Err(e) if crate::api_reason(&e, 404) => return Ok(Next::Done),
            Err(e) => return Err(e.into()),
        };
    }
    if spec_finalizers(&ns).is_empty() {
        return Ok(Next::Done);
    }

    let outcome = delete_all_content(client, name, &deleted_at).await;
    let mut updated = ns.clone();
    if set_conditions(&mut updated, outcome.conditions) {
        // As upstream: a failed status update is logged, the deletion goes on.
        match api.replace_status(name, &PostParams::default(), &updated).await {
            Ok(fresh) => ns = fresh,
            Err(e) => tracing::info!(namespace = name, error = %e, "could not update the namespace conditions"),
        }
    }
    if !outcome.errors.is_empty() {
        return Err(Error::Sync(outcome.errors.join(", ")));
    }
    if outcome.estimate > Duration::ZERO {
        tracing::debug!(namespace = name, remaining = outcome.remaining, "content remains; looking again later");
        return Ok(Next::After(outcome.estimate));
    }

    finalize(&api, ns).await?;
    tracing::info!(
        namespace = name,
        elapsed_ms = started.elapsed().as_millis() as u64,
        "namespace emptied and finalized"
    );
    Ok(Next::Done)
}

fn spec_finalizers(ns: &Namespace) -> Vec<String> {
    ns.spec.as_ref().and_then(|s| s.finalizers.clone()).unwrap_or_default()
}

/// Removes [`FINALIZER`] through `finalize`, reading the namespace again on conflicts.
async fn finalize(api: &Api<Namespace>, mut ns: Namespace) -> Result<(), Error> {
    let name = ns.name_any();
    for _ in 0..5 {
        let mut finalizers: Vec<String> = spec_finalizers(&ns).into_iter().filter(|f| f != FINALIZER).collect();
        finalizers.sort();
        finalizers.dedup();
        ns.spec.get_or_insert_with(Default::default).finalizers = Some(finalizers);
        match api.replace_subresource("finalize", &name, &PostParams::default(), &ns).await {
            Ok(_) => return Ok(()),
            Err(e) if crate::api_reason(&e, 404) => return Ok(()),
            Err(e) if crate::api_reason(&e, 409) => {
                let uid = ns.metadata.uid.clone();
                match api.get_opt(&name).await? {
                    Some(fresh) if fresh.metadata.uid == uid => ns = fresh,
                    Some(_) => return Err(Error::Sync("namespace uid has changed across retries".into())),
                    None => return Ok(()),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Sync(format!("namespace {name}: too many conflicting updates while finalizing")))
}

/// What one pass over a namespace's content found.
struct Outcome {
    /// Look again after this long: content is expected to go by itself.
    estimate: Duration,
    remaining: usize,
    errors: Vec<String>,
    /// Failing conditions (type, reason, message); the others are set to their good form.
    conditions: Vec<(&'static str, &'static str, String)>,
}

async fn delete_all_content(client: &Client, ns: &str, deleted_at: &Time) -> Outcome {
    let mut out = Outcome { estimate: Duration::ZERO, remaining: 0, errors: Vec::new(), conditions: Vec::new() };
    let discovered = match discovery::preferred(client).await {
        Ok(d) => d,
        Err(e) => {
            out.errors.push(e.to_string());
            out.conditions.push(("NamespaceDeletionDiscoveryFailure", "DiscoveryFailed", e.to_string()));
            return out;
        }
    };
    if let Some(message) = discovered.failure_message() {
        out.errors.push(message.clone());
        out.conditions.push(("NamespaceDeletionDiscoveryFailure", "DiscoveryFailed", message));
    }
    if !discovered.unparsable.is_empty() {
        let message = discovered
            .unparsable
            .iter()
            .map(|gv| format!("unexpected GroupVersion string: {gv}"))
            .collect::<Vec<_>>()
            .join(", ");
        out.errors.push(message.clone());
        out.conditions.push(("NamespaceDeletionGroupVersionParsingFailure", "GroupVersionParsingFailed", message));
    }

    let mut remaining_by_resource = Vec::new();
    let mut remaining_by_finalizer: BTreeMap<String, usize> = BTreeMap::new();
    let mut content_errors = Vec::new();
    for resource in discovered.resources.iter().filter(|r| r.namespaced && r.supports("delete")) {
        let result = delete_resource(client, resource, ns, deleted_at).await;
        out.estimate = out.estimate.max(result.estimate);
        if result.remaining > 0 {
            out.remaining += result.remaining;
            remaining_by_resource.push(format!(
                "{}.{} has {} resource instances",
                resource.ar.plural, resource.ar.group, result.remaining
            ));
            for (finalizer, n) in result.finalizers {
                *remaining_by_finalizer.entry(finalizer).or_default() += n;
            }
        }
        if let Some(e) = result.error {
            content_errors.push(e);
        }
    }
    if !remaining_by_resource.is_empty() {
        remaining_by_resource.sort();
        out.conditions.push((
            "NamespaceContentRemaining",
            "SomeResourcesRemain",
            format!("Some resources are remaining: {}", remaining_by_resource.join(", ")),
        ));
    }
    if !remaining_by_finalizer.is_empty() {
        let mut items: Vec<String> =
            remaining_by_finalizer.iter().map(|(f, n)| format!("{f} in {n} resource instances")).collect();
        items.sort();
        out.conditions.push((
            "NamespaceFinalizersRemaining",
            "SomeFinalizersRemain",
            format!("Some content in the namespace has finalizers remaining: {}", items.join(", ")),
        ));
    }
    if !content_errors.is_empty() {
        content_errors.sort();
        out.conditions.push((
            "NamespaceDeletionContentFailure",
            "ContentDeletionFailed",
            format!(
                "Failed to delete all resource types, {} remaining: {}",
                content_errors.len(),
                content_errors.join(", ")
            ),
        ));
        out.errors.extend(content_errors);
    }
    out
}

#[derive(Default)]
struct ResourceOutcome {
    estimate: Duration,
    remaining: usize,
    finalizers: BTreeMap<String, usize>,
    error: Option<String>,
}

/// Deletes every object of one resource in `ns`, then counts what is left.
async fn delete_resource(client: &Client, r: &Resource, ns: &str, deleted_at: &Time) -> ResourceOutcome {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), ns, &r.ar);
    let mut out = ResourceOutcome::default();
    if r.ar.group.is_empty() && r.ar.plural == "pods" {
        match pod_estimate(client, ns, deleted_at).await {
            Ok(estimate) => out.estimate = estimate,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        }
    }
    // The namespace's content goes whatever its owners' policies say.
    let background = DeleteParams::background();
    let mut each = !r.supports("deletecollection");
    if !each {
        match api.delete_collection(&background, &ListParams::default()).await {
            Ok(_) => {}
            Err(e) if crate::api_reason(&e, 405) || crate::api_reason(&e, 404) => each = true,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        }
    }
    if !r.supports("list") {
        return out;
    }
    if each {
        match api.list_metadata(&ListParams::default()).await {
            Ok(list) => {
                for item in list.items {
                    match api.delete(&item.name_any(), &background).await {
                        Ok(_) => {}
                        Err(e) if crate::api_reason(&e, 404) || crate::api_reason(&e, 405) => {}
                        Err(e) => {
                            out.error = Some(e.to_string());
                            return out;
                        }
                    }
                }
            }
            Err(e) if crate::api_reason(&e, 405) || crate::api_reason(&e, 404) => return out,
            Err(e) => {
                out.error = Some(e.to_string());
                return out;
            }
        }
    }
    let left = match api.list_metadata(&ListParams::default()).await {
        Ok(list) => list.items,
        Err(e) if crate::api_reason(&e, 405) || crate::api_reason(&e, 404) => return out,
        Err(e) => {
            out.error = Some(e.to_string());
            return out;
        }
    };
    if left.is_empty() {
        out.estimate = Duration::ZERO;
        return out;
    }
    out.remaining = left.len();
    for item in &left {
        for f in item.finalizers() {
            *out.finalizers.entry(f.clone()).or_default() += 1;
        }
    }
    if out.estimate.is_zero() {
        if out.finalizers.is_empty() {
            out.error = Some(format!("unexpected items still remain in namespace: {ns} for gvr: {}", r.gvr()));
        } else {
            out.estimate = FINALIZER_ESTIMATE;
        }
    }
    out
}

/// The longest grace period of the namespace's running pods, if the namespace was deleted
/// more recently than that.
async fn pod_estimate(client: &Client, ns: &str, deleted_at: &Time) -> Result<Duration, kube::Error> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut estimate = 0i64;
    for pod in pods.list(&ListParams::default()).await?.items {
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        if matches!(phase, Some("Succeeded" | "Failed")) {
            continue;
        }
        if let Some(grace) = pod.spec.as_ref().and_then(|s| s.termination_grace_period_seconds) {
            estimate = estimate.max(grace);
        }
    }
    let elapsed = Timestamp::now().duration_since(deleted_at.0).as_secs();
    Ok(if elapsed >= estimate { Duration::ZERO } else { Duration::from_secs(estimate.max(0) as u64) })
}

/// Sets the five conditions: the failing ones as given, the others in their good form.
/// Returns whether anything changed; a transition time changes only with the status.
fn set_conditions(ns: &mut Namespace, failing: Vec<(&'static str, &'static str, String)>) -> bool {
    let status = ns.status.get_or_insert_with(Default::default);
    let conditions = status.conditions.get_or_insert_with(Vec::new);
    let mut changed = false;
    for (kind, ok_reason, ok_message) in CONDITIONS {
        let (state, reason, message) = match failing.iter().find(|(k, _, _)| *k == kind) {
            Some((_, reason, message)) => ("True", reason.to_string(), message.clone()),
            None => ("False", ok_reason.to_string(), ok_message.to_string()),
        };
        match conditions.iter_mut().find(|c| c.type_ == kind) {
            None => {
                conditions.push(NamespaceCondition {
                    type_: kind.into(),
                    status: state.into(),
                    reason: Some(reason),
                    message: Some(message),
                    last_transition_time: Some(Time(Timestamp::now())),
                });
                changed = true;
            }
            Some(c) => {
                if c.status != state || c.reason.as_deref() != Some(&reason) || c.message.as_deref() != Some(&message) {
                    if c.status != state {
                        c.last_transition_time = Some(Time(Timestamp::now()));
                    }
                    c.status = state.into();
                    c.reason = Some(reason);
                    c.message = Some(message);
                    changed = true;
                }
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_change_only_when_their_content_does() {
        let mut ns = Namespace::default();
        assert!(set_conditions(&mut ns, vec![]));
        let conditions = ns.status.as_ref().unwrap().conditions.clone().unwrap();
        assert_eq!(conditions.len(), 5);
        assert!(conditions.iter().all(|c| c.status == "False"));
        assert!(!set_conditions(&mut ns, vec![]));
        let failing =
            vec![("NamespaceContentRemaining", "SomeResourcesRemain", "Some resources are remaining: x".into())];
        assert!(set_conditions(&mut ns, failing.clone()));
        assert!(!set_conditions(&mut ns, failing));
        let c = ns.status.unwrap().conditions.unwrap().into_iter().find(|c| c.type_ == "NamespaceContentRemaining");
        let c = c.unwrap();
        assert_eq!((c.status.as_str(), c.reason.as_deref()), ("True", Some("SomeResourcesRemain")));
    }
}
