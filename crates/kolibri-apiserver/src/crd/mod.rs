//! CustomResourceDefinitions come alive here, as upstream's apiextensions controllers do
//! inside the API server: a definition's names are checked against the other definitions
//! of its group (`NamesAccepted`), its served versions join the registry, discovery and
//! OpenAPI (`Established`), and deleting it removes every object of it before the
//! definition itself goes (the `customresourcecleanup` finalizer).
//!
//! The controller follows the store's watch of definitions: no polling; only a cleanup
//! waiting for objects with finalizers retries, with backoff.

mod cleanup;
mod conditions;
mod names;

use std::sync::Arc;
use std::time::Duration;

use kolibri_resources::{definitions_of, Registry};
use kolibri_store::StoreError;
use serde_json::Value;

use crate::{encoding, ApiServer};

pub(crate) const GROUP: &str = "apiextensions.k8s.io";
pub(crate) const PLURAL: &str = "customresourcedefinitions";
/// Holds a deleted definition until its objects are gone.
pub(crate) const CLEANUP_FINALIZER: &str = "customresourcecleanup.apiextensions.k8s.io";
const PREFIX: &str = "/registry/apiextensions.k8s.io/customresourcedefinitions/";

/// Whether `def` is the CustomResourceDefinition resource itself.
pub(crate) fn is_crd(def: &kolibri_resources::ResourceDef) -> bool {
    def.group == GROUP && def.plural == PLURAL
}

/// A DELETE of a definition adds the cleanup finalizer (upstream's CRD storage `Delete`),
/// so the definition waits for its objects ...
pub(crate) fn add_cleanup_finalizer(finalizers: &mut Vec<String>) {
    if !finalizers.iter().any(|f| f == CLEANUP_FINALIZER) {
        finalizers.push(CLEANUP_FINALIZER.into());
    }
}

/// ... and says so in a `Terminating` condition.
pub(crate) fn mark_terminating(obj: &mut Value) {
    conditions::set(
        obj,
        "Terminating",
        "True",
        "InstanceDeletionPending",
        "CustomResourceDefinition marked for deletion; instance deletion pending",
    );
}

impl ApiServer {
    /// Serves the custom resources of every stored definition (before the server is ready),
    /// then follows changes of definitions.
    pub(crate) async fn start_custom_resources(self: &Arc<Self>) -> Result<(), StoreError> {
        self.follow(PREFIX, |server, key, value| async move {
            let name = key.trim_start_matches(PREFIX);
            match value {
                Some(_) => server.reconcile_crd(name).await,
                None => server.stop_serving(name),
            }
        })
        .await
    }

    /// Brings the served set in line with the stored definition `name`.
    async fn reconcile_crd(self: &Arc<Self>, name: &str) {
        let key = format!("{PREFIX}{name}");
        let kv = match self.store.get(&key).await {
            Ok(Some(kv)) => kv,
            Ok(None) => return self.stop_serving(name),
            Err(e) => return tracing::warn!(crd = name, error = %e, "reading CustomResourceDefinition"),
        };
        let Ok(crd) = encoding::decode_stored(&kv.value, kv.mod_revision) else { return };
        if crate::handlers::meta::is_deleting(&crd) {
            let server = self.clone();
            let name = name.to_string();
            tokio::spawn(async move { cleanup::run(server, name).await });
            return;
        }
        let mut updated = crd.clone();
        let accepted = names::accept(&self.registry(), &mut updated);
        if accepted {
            conditions::set(
                &mut updated,
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
            );
        } else if !conditions::is_true(&updated, "Established") {
            conditions::set(&mut updated, "Established", "False", "NotAccepted", "not all names are accepted");
        }
        if conditions::is_true(&updated, "Established") {
            self.serve(name, &updated);
        }
        if updated != crd {
            crate::handlers::meta::metadata_mut(&mut updated).remove("resourceVersion");
            match self.store.update(&key, encoding::to_stored(&updated), kv.mod_revision).await {
                // A newer write of the definition reconciles again from its own event.
                Ok(_) | Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound(_)) => {}
                Err(e) => tracing::warn!(crd = name, error = %e, "updating CustomResourceDefinition status"),
            }
        }
    }

    /// Replaces the served versions of definition `name` with those of `crd`.
    fn serve(&self, name: &str, crd: &Value) {
        let defs = definitions_of(crd);
        self.change_registry(|registry| {
            registry.retain(|d| d.custom.as_ref().is_none_or(|c| c.crd_name != name));
            for def in defs {
                registry.add(def);
            }
        });
    }

    /// Stops serving the custom resources of definition `name`.
    pub(crate) fn stop_serving(&self, name: &str) {
        self.change_registry(|registry| registry.retain(|d| d.custom.as_ref().is_none_or(|c| c.crd_name != name)));
    }

    /// Applies `change` to a copy of the registry and publishes it with new discovery and
    /// OpenAPI documents, unless nothing changed.
    fn change_registry(&self, change: impl FnOnce(&mut Registry)) {
        let mut guard = match self.registry.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut next = (**guard).clone();
        change(&mut next);
        if next.same_as(&guard) {
            return;
        }
        let next = Arc::new(next);
        let discovery = Arc::new(crate::discovery::Discovery::build(&next, &self.config));
        let openapi = Arc::new(self.openapi().rebuild(next.all()));
        *guard = next;
        drop(guard);
        match self.discovery.write() {
            Ok(mut d) => *d = discovery,
            Err(poisoned) => *poisoned.into_inner() = discovery,
        }
        match self.openapi.write() {
            Ok(mut o) => *o = openapi,
            Err(poisoned) => *poisoned.into_inner() = openapi,
        }
    }
}

/// Backoff of a cleanup waiting for objects with finalizers: 100 ms doubling to 10 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << attempt.min(7))).min(Duration::from_secs(10))
}
