//! The generic strategy: decodes the JSON into its k8s-openapi type and runs the kind's
//! hooks ([`Kind`]) on the typed value. Status handling, metadata validation, unknown-field
//! detection and generation tracking are the same for every kind and live here.

use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{Metadata, Resource};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use crate::field_error::{FieldError, FieldPath};
use crate::validation::{meta, NameRule};
use crate::{DecodeError, Strategy};

/// What a kind adds to the generic strategy; every hook has a do-nothing default.
pub(crate) trait Kind:
    Resource + Metadata<Ty = ObjectMeta> + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// How `metadata.name` is validated.
    const NAME_RULE: NameRule = NameRule::Subdomain;
    /// Whether upstream's strategy sets `metadata.generation` (1 on create).
    const GENERATION: bool = false;
    /// Top-level fields whose change bumps the generation.
    const GENERATION_FIELDS: &'static [&'static str] = &["spec"];
    /// Field selectors beyond `metadata.name`/`metadata.namespace`.
    const FIELDS: &'static [&'static str] = &[];
    /// Whether `metadata` is validated (not for create-only reviews, which are never stored).
    const VALIDATE_META: bool = true;
    /// Whether a client's `status` is dropped on create (nodes may register with status).
    const CLEAR_STATUS_ON_CREATE: bool = true;

    /// Upstream defaulting.
    fn default(&mut self) {}
    /// After the generic preparation (status cleared).
    fn prepare_for_create(&mut self) {}
    /// After the generic preparation (old status kept).
    fn prepare_for_update(&mut self, _old: &Self) {}
    /// Kind-specific validation of a new object (metadata is checked generically).
    fn validate(&self) -> Vec<FieldError> {
        Vec::new()
    }
    /// Kind-specific validation of an update; by default the create rules.
    fn validate_update(&self, _old: &Self) -> Vec<FieldError> {
        self.validate()
    }
    /// Checks that the decoder would have made upstream (quantities are strings to serde).
    fn check_decoded(&self) -> Result<(), String> {
        Ok(())
    }
    /// The value of one of [`Kind::FIELDS`], read from the JSON (no decode per object).
    fn field_value(_obj: &Value, _field: &str) -> Option<String> {
        None
    }
}

/// [`Strategy`] of a kind with a k8s-openapi type.
pub(crate) struct Typed<K> {
    namespaced: bool,
    has_status: bool,
    _kind: PhantomData<fn() -> K>,
}

impl<K: Kind> Typed<K> {
    pub(crate) fn new(namespaced: bool, has_status: bool) -> Self {
        Self { namespaced, has_status, _kind: PhantomData }
    }
}

/// Decodes `obj` as `K`, naming the failing field.
pub(crate) fn decode<K: DeserializeOwned>(obj: &Value) -> Result<K, DecodeError> {
    serde_path_to_error::deserialize(obj).map_err(|e| {
        let path = e.path().to_string();
        if path.is_empty() || path == "." {
            DecodeError::Malformed(e.inner().to_string())
        } else {
            DecodeError::Malformed(format!("{path}: {}", e.inner()))
        }
    })
}

fn encode<K: Serialize>(value: &K) -> Option<Value> {
    serde_json::to_value(value).ok()
}

/// Runs `f` on the typed form of `obj` and writes the result back. Objects that do not
/// decode are left as they are: validation reports them.
fn with_typed<K: Kind>(obj: &mut Value, f: impl FnOnce(&mut K)) {
    if let Ok(mut typed) = decode::<K>(obj) {
        f(&mut typed);
        if let Some(v) = encode(&typed) {
            *obj = v;
        }
    }
}

/// Paths of the fields of `input` that the typed round trip dropped.
pub(crate) fn unknown_fields(input: &Value, output: &Value) -> Vec<String> {
    let mut out = Vec::new();
    walk(input, output, "", &mut out);
    out
}

fn walk(input: &Value, output: &Value, path: &str, out: &mut Vec<String>) {
    match (input, output) {
        (Value::Object(i), Value::Object(o)) => {
            for (k, v) in i {
                if v.is_null() {
                    continue;
                }
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match o.get(k) {
                    None => out.push(p),
                    Some(ov) => walk(v, ov, &p, out),
                }
            }
        }
        (Value::Array(i), Value::Array(o)) => {
            for (idx, (iv, ov)) in i.iter().zip(o).enumerate() {
                walk(iv, ov, &format!("{path}[{idx}]"), out);
            }
        }
        _ => {}
    }
}

fn internal(e: &DecodeError) -> Vec<FieldError> {
    vec![FieldError::internal(&FieldPath::new("<root>"), &e.to_string())]
}

impl<K: Kind> Strategy for Typed<K> {
    fn normalize(&self, obj: Value) -> Result<(Value, Vec<String>), DecodeError> {
        let typed: K = decode(&obj)?;
        typed.check_decoded().map_err(DecodeError::Malformed)?;
        let out = encode(&typed).ok_or_else(|| DecodeError::Malformed("cannot encode object".into()))?;
        let unknown = unknown_fields(&obj, &out);
        Ok((out, unknown))
    }

    fn default(&self, obj: &mut Value) {
        with_typed::<K>(obj, K::default);
    }

    fn prepare_for_create(&self, obj: &mut Value) {
        if self.has_status && K::CLEAR_STATUS_ON_CREATE {
            if let Some(m) = obj.as_object_mut() {
                m.remove("status");
            }
        }
        with_typed::<K>(obj, K::prepare_for_create);
    }

    fn prepare_for_update(&self, obj: &mut Value, old: &Value) {
        if self.has_status {
            keep_old_status(obj, old);
        }
        let Ok(old) = decode::<K>(old) else { return };
        with_typed::<K>(obj, |new| new.prepare_for_update(&old));
    }

    fn validate_create(&self, obj: &Value) -> Vec<FieldError> {
        let typed: K = match decode(obj) {
            Ok(t) => t,
            Err(e) => return internal(&e),
        };
        let mut errs =
            if K::VALIDATE_META { meta::validate(typed.metadata(), self.namespaced, K::NAME_RULE) } else { Vec::new() };
        errs.extend(typed.validate());
        errs
    }

    fn validate_update(&self, obj: &Value, old: &Value) -> Vec<FieldError> {
        let (new, old): (K, K) = match (decode(obj), decode(old)) {
            (Ok(n), Ok(o)) => (n, o),
            (Err(e), _) | (_, Err(e)) => return internal(&e),
        };
        let mut errs =
            if K::VALIDATE_META { meta::validate_update(new.metadata(), old.metadata()) } else { Vec::new() };
        errs.extend(new.validate_update(&old));
        errs
    }

    fn selectable_fields(&self) -> &'static [&'static str] {
        K::FIELDS
    }

    fn field_value(&self, obj: &Value, field: &str) -> Option<String> {
        if K::FIELDS.contains(&field) {
            K::field_value(obj, field)
        } else {
            None
        }
    }

    fn bumps_generation(&self, new: &Value, old: &Value) -> bool {
        K::GENERATION
            && K::GENERATION_FIELDS.iter().any(|f| {
                let present = |v: &Value| v.get(*f).filter(|x| !x.is_null()).cloned();
                present(new) != present(old)
            })
    }

    fn sets_generation(&self) -> bool {
        K::GENERATION
    }
}

/// An update of the main resource of a kind with a status subresource keeps the stored
/// status: only `/status` writes it.
pub(crate) fn keep_old_status(obj: &mut Value, old: &Value) {
    if let Some(m) = obj.as_object_mut() {
        match old.get("status") {
            Some(status) => m.insert("status".into(), status.clone()),
            None => m.remove("status"),
        };
    }
}

/// The current time at second precision, as the API serializes `Time`.
pub(crate) fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::from_second(secs).unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    )
}

/// A string at a dotted path of a JSON object, `""` when absent (as upstream renders
/// unset fields in field selectors).
pub(crate) fn str_at(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for part in path.split('.') {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn unknown_fields_are_reported_with_paths() {
        let input = json!({"a": {"b": 1, "c": null, "d": [{"e": 1, "f": 2}]}, "g": 1});
        let output = json!({"a": {"b": 1, "d": [{"e": 1}]}});
        assert_eq!(unknown_fields(&input, &output), vec!["a.d[0].f", "g"]);
    }

    #[test]
    fn str_at_reads_nested_values() {
        let obj = json!({"spec": {"nodeName": "n1", "hostNetwork": true}});
        assert_eq!(str_at(&obj, "spec.nodeName"), "n1");
        assert_eq!(str_at(&obj, "spec.hostNetwork"), "true");
        assert_eq!(str_at(&obj, "status.phase"), "");
    }
}
