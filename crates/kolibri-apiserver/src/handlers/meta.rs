//! Object metadata that the server owns: names, uid, timestamps, generation.

use rand::Rng;
use serde_json::{json, Map, Value};

use crate::status::{ApiError, ApiResult};

/// Characters of generated name suffixes (upstream's, without vowels and confusables).
const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

pub fn now_rfc3339() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

pub fn metadata(obj: &Value) -> Option<&Map<String, Value>> {
    obj.get("metadata").and_then(Value::as_object)
}

/// The object's metadata, created if absent or not an object.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    let Value::Object(root) = obj else { unreachable!("made an object above") };
    let meta = root.entry("metadata").or_insert_with(|| Value::Object(Map::new()));
    if !meta.is_object() {
        *meta = Value::Object(Map::new());
    }
    let Value::Object(m) = meta else { unreachable!("made an object above") };
    m
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    metadata(obj)?.get(field)?.as_str()
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or_default()
}

/// A name from `generateName`: the base cut to 58 characters plus five random ones.
pub fn generate_name(base: &str) -> String {
    let mut rng = rand::thread_rng();
    let cut: String = base.chars().take(58).collect();
    let suffix: String = (0..5).map(|_| SUFFIX_ALPHABET[rng.gen_range(0..SUFFIX_ALPHABET.len())] as char).collect();
    format!("{cut}{suffix}")
}

/// Sets the fields a new object gets from the server, as upstream's
/// `FillObjectMetaSystemFields` and `BeforeCreate`.
pub fn prepare_create(obj: &mut Value, sets_generation: bool) -> ApiResult<()> {
    let m = metadata_mut(obj);
    if m.get("resourceVersion").and_then(Value::as_str).is_some_and(|s| !s.is_empty()) {
        return Err(ApiError::bad_request("resourceVersion should not be set on objects to be created"));
    }
    m.remove("resourceVersion");
    if m.get("name").and_then(Value::as_str).is_none_or(str::is_empty) {
        if let Some(base) = m.get("generateName").and_then(Value::as_str).filter(|s| !s.is_empty()) {
            let generated = generate_name(base);
            m.insert("name".into(), json!(generated));
        }
    }
    m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    m.insert("creationTimestamp".into(), json!(now_rfc3339()));
    m.remove("deletionTimestamp");
    m.remove("deletionGracePeriodSeconds");
    m.remove("selfLink");
    if sets_generation {
        m.insert("generation".into(), json!(1));
    } else {
        m.remove("generation");
    }
    Ok(())
}

/// Carries over what a client may not change on update, as upstream's
/// `FillObjectMetaSystemFields` on update and `ValidateObjectMetaUpdate`.
pub fn keep_system_fields(new: &mut Value, old: &Value) {
    let Some(old_meta) = metadata(old).cloned() else { return };
    let m = metadata_mut(new);
    for key in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] {
        match old_meta.get(key) {
            Some(v) => {
                m.insert(key.into(), v.clone());
            }
            None => {
                m.remove(key);
            }
        }
    }
    m.remove("selfLink");
}

/// Bumps `metadata.generation`.
pub fn bump_generation(obj: &mut Value) {
    let m = metadata_mut(obj);
    let generation = m.get("generation").and_then(Value::as_i64).unwrap_or(0);
    m.insert("generation".into(), json!(generation + 1));
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    metadata(obj)
        .and_then(|m| m.get("finalizers"))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

pub fn is_deleting(obj: &Value) -> bool {
    meta_str(obj, "deletionTimestamp").is_some()
}
