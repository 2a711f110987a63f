//! Custom resources: the served definitions a CustomResourceDefinition describes, and the
//! strategy that prunes, defaults and validates their objects against the version's
//! structural schema (upstream's `apiextensions-apiserver/pkg/registry/customresource`).

mod defaults;
mod definition;
mod prune;
pub(crate) mod structural;
mod validate;

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::{Map, Value};

use crate::field_error::{FieldError, FieldPath};
use crate::typed::decode;
use crate::validation::{meta, NameRule};
use crate::{DecodeError, Strategy};

pub use definition::definitions_of;

/// The strategy of one served version of a custom resource.
pub(crate) struct CustomStrategy {
    namespaced: bool,
    has_status: bool,
    /// The version's `openAPIV3Schema`; `None` accepts any fields.
    schema: Option<Arc<Value>>,
}

impl CustomStrategy {
    pub(crate) fn new(namespaced: bool, has_status: bool, schema: Option<Arc<Value>>) -> Self {
        Self { namespaced, has_status, schema }
    }
}

/// Decodes `metadata` as `ObjectMeta` and back, as upstream does for every object: fields
/// it does not know are dropped and reported.
fn normalize_metadata(obj: &mut Map<String, Value>, unknown: &mut Vec<String>) -> Result<(), DecodeError> {
    let Some(raw) = obj.get("metadata") else { return Ok(()) };
    let typed: ObjectMeta = decode(raw).map_err(|e| DecodeError::Malformed(format!("metadata: {e}")))?;
    let out = serde_json::to_value(&typed).map_err(|e| DecodeError::Malformed(e.to_string()))?;
    for field in crate::typed::unknown_fields(raw, &out) {
        unknown.push(format!("metadata.{field}"));
    }
    obj.insert("metadata".into(), out);
    Ok(())
}

fn object_meta(obj: &Value) -> Result<ObjectMeta, Vec<FieldError>> {
    match obj.get("metadata") {
        None => Ok(ObjectMeta::default()),
        Some(m) => decode(m).map_err(|e| vec![FieldError::internal(&FieldPath::new("metadata"), &e.to_string())]),
    }
}

/// The object without the parts that never bump `metadata.generation`.
fn generation_relevant(obj: &Value, has_status: bool) -> Map<String, Value> {
    let mut map = obj.as_object().cloned().unwrap_or_default();
    map.remove("metadata");
    if has_status {
        map.remove("status");
    }
    map
}

impl Strategy for CustomStrategy {
    fn normalize(&self, obj: Value) -> Result<(Value, Vec<String>), DecodeError> {
        let Value::Object(mut map) = obj else {
            return Err(DecodeError::Malformed("the object must be a JSON object".into()));
        };
        let mut unknown = Vec::new();
        normalize_metadata(&mut map, &mut unknown)?;
        let mut obj = Value::Object(map);
        if let Some(schema) = &self.schema {
            prune::prune_root(&mut obj, schema, &mut unknown);
        }
        Ok((obj, unknown))
    }

    fn default(&self, obj: &mut Value) {
        if let Some(schema) = &self.schema {
            defaults::apply(obj, schema, true);
        }
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if self.has_status {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
    }

    fn prepare_for_update(&self, obj: &mut Value, old: &Value) {
        if self.has_status {
            crate::typed::keep_old_status(obj, old);
        }
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let meta = match object_meta(obj) {
            Ok(m) => m,
            Err(e) => return e,
        };
        let mut errs = meta::validate(&meta, self.namespaced, NameRule::Subdomain);
        if let Some(schema) = &self.schema {
            validate::validate_root(obj, schema, &mut errs);
        }
        errs
    }

    fn validate_update(&self, obj: &Value, old: &Value) -> Vec<FieldError> {
        let (new_meta, old_meta) = match (object_meta(obj), object_meta(old)) {
            (Ok(n), Ok(o)) => (n, o),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let mut errs = meta::validate_update(&new_meta, &old_meta);
        if let Some(schema) = &self.schema {
            validate::validate_root(obj, schema, &mut errs);
        }
        errs
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        &[]
    }

    fn field_value(&self, _: &Value, _: &str) -> Option<String> {
        None
    }

    fn bumps_generation(&self, new: &Value, old: &Value) -> bool {
        generation_relevant(new, self.has_status) != generation_relevant(old, self.has_status)
    }

    fn sets_generation(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests;
