//! Field ownership of Kubernetes objects: `metadata.managedFields` and server-side apply,
//! with the semantics of upstream's structured-merge-diff and apimachinery's
//! `managedfields`.
//!
//! - [`fieldset`]: sets of field paths and their `fieldsV1` JSON form;
//! - [`schema`]: the type model (leaf, granular map, associative list, deduced) built
//!   from OpenAPI v3 schemas, cached for the built-in kinds;
//! - [`typed`]: field sets of values, comparison, the apply merge, removal;
//! - [`managed`]: the `managedFields` entries;
//! - [`conflicts`]: apply conflicts and their messages;
//! - [`manager`]: Update and Apply operations on an object.
//!
//! Pure: no HTTP, no store. Objects are JSON values in their versioned form.

pub mod conflicts;
pub mod fieldset;
pub mod managed;
pub mod manager;
pub mod path;
pub mod schema;
pub mod typed;

pub use conflicts::{Conflict, Conflicts};
pub use fieldset::Set;
pub use managed::{Entry, Managed, Operation};
pub use manager::{FieldManager, LAST_APPLIED_ANNOTATION};
pub use path::{Path, PathElement};
pub use schema::TypeRef;
pub use typed::TypeError;

/// Why an operation on managed fields failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// A `fieldsV1` value that is not a field set.
    #[error("{0}")]
    FieldsV1(String),
    /// A `managedFields` list that cannot be decoded.
    #[error("{0}")]
    ManagedFields(String),
    /// An object that does not fit its type (`.spec.foo: field not declared in schema`).
    #[error("{0}")]
    Type(TypeError),
    /// An apply would change fields other managers own.
    #[error("{0}")]
    Conflicts(Conflicts),
}

#[cfg(test)]
mod tests;
