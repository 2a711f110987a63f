//! The table of Kubernetes kinds kolibri serves.
//!
//! Each served resource is one [`ResourceDef`]: its names and scope as discovery shows
//! them, and its [`Strategy`] — the per-kind defaulting, validation, preparation and
//! field selectors that upstream keeps in `pkg/apis/<group>` and `pkg/registry/<group>`.
//! The API server is generic over JSON; only this crate knows the shape of a kind.

use std::sync::Arc;

use serde_json::Value;

mod custom;
mod defaults;
mod field_error;
mod kinds;
pub mod quota;
mod registry;
mod typed;
pub mod validation;

pub use custom::definitions_of;
pub use field_error::{BadValue, FieldError, FieldErrorType, FieldPath};
pub use registry::Registry;

/// A subresource of a served resource (`status`, `scale`, `binding`, ...).
#[derive(Clone, Debug)]
pub struct SubresourceDef {
    pub name: String,
    /// Group/version/kind of the body, when it differs from the parent's
    /// (e.g. `deployments/scale` is `autoscaling/v1 Scale`).
    pub group: String,
    pub version: String,
    pub kind: String,
    pub verbs: Vec<String>,
}

/// One served resource at one group/version.
#[derive(Clone)]
pub struct ResourceDef {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    pub list_kind: String,
    /// Plural resource name used in URLs (`pods`).
    pub plural: String,
    /// Singular name (`pod`).
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Verbs of the collection and item, as discovery lists them.
    pub verbs: Vec<String>,
    pub subresources: Vec<SubresourceDef>,
    /// Whether the object's `status` is written only through the `status` subresource.
    pub has_status: bool,
    /// Whether protobuf bodies are accepted (built-in kinds only).
    pub protobuf: bool,
    pub strategy: Arc<dyn Strategy>,
    /// What a CustomResourceDefinition says beyond names; `None` for built-in kinds.
    pub custom: Option<Arc<CustomInfo>>,
}

/// The parts of a CustomResourceDefinition version that the server needs to serve it.
#[derive(Clone, Debug, Default)]
pub struct CustomInfo {
    /// `metadata.name` of the CustomResourceDefinition (`<plural>.<group>`).
    pub crd_name: String,
    /// The version's structural `openAPIV3Schema` (no `$ref`s), with `apiVersion`, `kind`
    /// and `metadata` as upstream publishes them; `None` when the version has no schema.
    pub schema: Option<Arc<Value>>,
    /// `additionalPrinterColumns` of the version.
    pub printer_columns: Vec<PrinterColumn>,
    /// The scale subresource's JSON paths, when the version has one.
    pub scale: Option<ScalePaths>,
    /// Whether this version is the storage version.
    pub storage: bool,
    /// `deprecated` / `deprecationWarning` of the version: the warning to send, if any.
    pub deprecation_warning: Option<String>,
}

/// One `additionalPrinterColumns` entry.
#[derive(Clone, Debug, Default)]
pub struct PrinterColumn {
    pub name: String,
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
    pub json_path: String,
}

/// `subresources.scale` of a CustomResourceDefinition version.
#[derive(Clone, Debug, Default)]
pub struct ScalePaths {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    pub label_selector_path: Option<String>,
}

impl ResourceDef {
    /// `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The subresource definition named `name`.
    pub fn subresource(&self, name: &str) -> Option<&SubresourceDef> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

impl std::fmt::Debug for ResourceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDef")
            .field("group", &self.group)
            .field("version", &self.version)
            .field("kind", &self.kind)
            .field("plural", &self.plural)
            .finish()
    }
}

/// Why a body could not be decoded into its kind.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DecodeError {
    /// The JSON does not fit the kind's type (wrong type of a field, bad quantity, ...).
    #[error("{0}")]
    Malformed(String),
}

/// Per-kind behaviour, as upstream's registry strategies and `defaults.go`/`validation.go`.
///
/// All methods take and give JSON objects in the kind's external (versioned) form.
/// Implementations must never panic on any input.
pub trait Strategy: Send + Sync {
    /// Decodes `obj` into the kind's typed form and back, so the stored JSON has the
    /// canonical shape (unknown fields are dropped). Fields not known to the kind are
    /// returned as JSON paths (`spec.foo`, `spec.containers[0].bar`) for fieldValidation.
    fn normalize(&self, obj: Value) -> Result<(Value, Vec<String>), DecodeError>;

    /// Applies upstream defaulting (`SetDefaults_*`).
    fn default(&self, obj: &mut Value);

    /// Prepares a new object before validation: clears fields a client may not set on
    /// create (e.g. `status` for kinds with a status subresource), sets initial status.
    fn prepare_for_create(&self, obj: &mut Value);

    /// Prepares an update of the main resource: keeps the old `status` when the kind has
    /// a status subresource.
    fn prepare_for_update(&self, obj: &mut Value, old: &Value);

    /// Validates a new object (upstream `Validate<Kind>`).
    fn validate_create(&self, obj: &Value) -> Vec<FieldError>;

    /// Validates an update (upstream `Validate<Kind>Update`), including immutable fields.
    fn validate_update(&self, obj: &Value, old: &Value) -> Vec<FieldError>;

    /// Field selectors this kind supports beyond `metadata.name` and `metadata.namespace`.
    fn selectable_fields(&self) -> &'static [&'static str];

    /// The value of a selectable field of `obj` (upstream `<Kind>ToSelectableFields`),
    /// `None` if `field` is not selectable for this kind.
    fn field_value(&self, obj: &Value, field: &str) -> Option<String>;

    /// Whether a change from `old` to `new` bumps `metadata.generation`.
    /// Built-in kinds: when `spec` (or the kind's equivalent) changes.
    fn bumps_generation(&self, new: &Value, old: &Value) -> bool;

    /// Whether upstream tracks `metadata.generation` for this kind: the API server sets it
    /// to 1 on create and bumps it on updates where [`Strategy::bumps_generation`] says so.
    /// Kinds that do not track it (ConfigMap, Service, ...) never have a generation.
    fn sets_generation(&self) -> bool {
        false
    }
}

pub mod schema;
