//! Revisioned key-value store behind kolibri's API server.
//!
//! The store knows nothing of HTTP or Kubernetes kinds: keys are strings, values are
//! bytes, and every committed write gets the next revision of one global, monotonic
//! counter (the Kubernetes `resourceVersion`). Each committed write becomes exactly one
//! [`Event`], delivered to watchers after the write is durable.
//!
//! Backends live in their own modules behind the [`Store`] trait (`sqlite` today,
//! `etcd` later), so the API server never changes when a backend is added.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

mod error;
mod hub;
pub mod sqlite;

pub use error::StoreError;
pub use sqlite::{SqliteOptions, SqliteStore, StoreStats};

/// A store revision. Revisions start at 1 and only grow.
pub type Revision = i64;

/// One stored key at one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created the key (stable across updates).
    pub create_revision: Revision,
    /// Revision of the last write to the key (for a deletion event: the deletion's revision).
    pub mod_revision: Revision,
}

/// What a committed write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventType {
    Created,
    Updated,
    Deleted,
}

/// One committed write, as seen by watchers.
#[derive(Clone, Debug)]
pub struct Event {
    pub event_type: EventType,
    /// The new state; for `Deleted` the last value, with `mod_revision` set to the
    /// revision of the deletion.
    pub kv: KeyValue,
    /// The value before this write (absent for `Created`).
    pub prev_value: Option<Bytes>,
}

/// Options of a range read.
#[derive(Clone, Debug, Default)]
pub struct ListOptions {
    /// Read at this revision; `None` reads the newest state.
    pub revision: Option<Revision>,
    /// Start strictly after this key (pagination).
    pub start_after: Option<String>,
    /// At most this many items; `None` or 0 means no limit.
    pub limit: Option<usize>,
}

/// The result of a range read.
#[derive(Clone, Debug)]
pub struct ListResult {
    /// Items in key order.
    pub items: Vec<KeyValue>,
    /// The revision the read was served at.
    pub revision: Revision,
    /// True when more keys follow the last item.
    pub more: bool,
    /// Keys left after the last returned item (for `remainingItemCount`), when known.
    pub remaining: Option<u64>,
}

/// A stream of events for the keys under one prefix, in revision order.
///
/// The stream ends (returns `None`) when the store shuts down; it yields an error and
/// ends when the watcher falls too far behind to be served from memory.
pub struct Watch {
    rx: tokio::sync::mpsc::Receiver<Result<Arc<Event>, StoreError>>,
}

impl Watch {
    /// Wraps a receiver; used by backends.
    pub fn new(rx: tokio::sync::mpsc::Receiver<Result<Arc<Event>, StoreError>>) -> Self {
        Self { rx }
    }

    /// The next event, or `None` when the watch has ended.
    pub async fn next(&mut self) -> Option<Result<Arc<Event>, StoreError>> {
        self.rx.recv().await
    }
}

/// The storage interface of the API server.
///
/// Every write is durable before its future resolves: an acknowledged write survives a
/// crash of the process or of the machine.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates `key`; fails with [`StoreError::AlreadyExists`] if it exists.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError>;

    /// Replaces `key` if its current `mod_revision` is `expected`; fails with
    /// [`StoreError::Conflict`] otherwise and [`StoreError::NotFound`] if it is absent.
    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue, StoreError>;

    /// Deletes `key` (if `expected` is given, only at that `mod_revision`). Returns the
    /// deleted value with `mod_revision` set to the deletion's revision.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StoreError>;

    /// The newest value of `key`.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Keys starting with `prefix`, in key order, at a revision.
    /// A revision older than the compacted one fails with [`StoreError::Compacted`];
    /// one newer than the current fails with [`StoreError::FutureRevision`].
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError>;

    /// Number of keys starting with `prefix` at the newest revision.
    async fn count(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Events for keys under `prefix` with revision strictly greater than `after`.
    /// `after` older than the compacted revision fails with [`StoreError::Compacted`].
    async fn watch(&self, prefix: &str, after: Revision) -> Result<Watch, StoreError>;

    /// The newest committed revision.
    fn current_revision(&self) -> Revision;

    /// The oldest revision that can still be read or watched from.
    fn compacted_revision(&self) -> Revision;

    /// Drops history at and before `revision` (the newest value of every live key is kept).
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;

    /// Flushes and stops background work; later calls fail with [`StoreError::Closed`].
    async fn close(&self);
}
