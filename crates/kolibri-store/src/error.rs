use crate::Revision;

/// Errors of a [`crate::Store`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("key {0} already exists")]
    AlreadyExists(String),
    #[error("key {0} not found")]
    NotFound(String),
    #[error("key {key} was modified: expected revision {expected}, found {found}")]
    Conflict { key: String, expected: Revision, found: Revision },
    /// The requested revision has been compacted away (`requested` < `compacted`).
    #[error("revision {requested} has been compacted (oldest available: {compacted})")]
    Compacted { requested: Revision, compacted: Revision },
    /// The requested revision is newer than anything committed.
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision { requested: Revision, current: Revision },
    /// A watcher fell behind and can no longer be served; it must re-list.
    #[error("watcher fell too far behind")]
    WatcherTooSlow,
    #[error("store is closed")]
    Closed,
    #[error("database {path}: {message}")]
    Database { path: String, message: String },
}
