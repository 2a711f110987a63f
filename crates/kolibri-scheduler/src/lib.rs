//! kolibri's scheduler: places pending pods on nodes as upstream's kube-scheduler with its
//! default profile does, as an API client handed a `kube::Client` by the binary.
//!
//! - [`cache`]: nodes, bound and assumed pods, priority classes, volumes, the selectors of
//!   Services and workloads, and PodDisruptionBudgets, kept from watches in a compact form;
//! - [`queue`]: active, backoff (1 s → 10 s) and unschedulable pods, moved on cluster events;
//! - [`framework`]: filter, score (upstream's default weights), select;
//! - [`plugins`]: one file per upstream plugin;
//! - [`preemption`]: victims of lower priority (sparing those a budget protects),
//!   `nominatedNodeName`;
//! - `binder`: `pods/binding` (after assuming the pod in the cache);
//! - `events`: `Scheduled` / `FailedScheduling` Events from `default-scheduler`.
//!
//! Pods naming another `spec.schedulerName` are left alone. Nothing polls: watches feed the
//! cache, and the only timers are the queue's backoffs.

pub mod cache;
pub mod framework;
pub mod plugins;
pub mod preemption;
pub mod quantity;
pub mod queue;
pub mod resources;
pub mod selectors;

mod binder;
mod events;
mod scheduler;

pub use scheduler::{Options, Scheduler};

/// The name pods ask for (`spec.schedulerName`) unless they name another scheduler.
pub const DEFAULT_SCHEDULER: &str = "default-scheduler";

/// Errors of the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Kube(#[from] kube::Error),
    #[error(transparent)]
    Quantity(#[from] quantity::QuantityError),
}

/// Now, as RFC 3339 with seconds (the precision of `metav1.Time`).
pub(crate) fn now_rfc3339() -> String {
    k8s_openapi::jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}
