//! The stored form of an object and its wire form.
//!
//! Objects are stored as JSON without `metadata.resourceVersion` (the store's revision is
//! the resourceVersion, as in upstream's etcd storage) and with `apiVersion`, `kind` and
//! `metadata` first. That layout lets a read add the resourceVersion by splicing bytes,
//! so a list is a concatenation and a watch event is never re-serialized.

use bytes::{BufMut, Bytes, BytesMut};
use serde_json::Value;

const METADATA_OPEN: &[u8] = b"\"metadata\":{";

/// Serializes `obj` in the stored layout, dropping `metadata.resourceVersion`.
pub fn to_stored(obj: &Value) -> Bytes {
    let mut out = BytesMut::with_capacity(512);
    out.put_u8(b'{');
    let Some(map) = obj.as_object() else {
        return Bytes::from(serde_json::to_vec(obj).unwrap_or_default());
    };
    let mut first = true;
    let mut put = |out: &mut BytesMut, key: &str, value: &Value| {
        if !first {
            out.put_u8(b',');
        }
        first = false;
        // Serializing a String or Value to memory cannot fail.
        out.extend_from_slice(&serde_json::to_vec(key).unwrap_or_default());
        out.put_u8(b':');
        out.extend_from_slice(&serde_json::to_vec(value).unwrap_or_default());
    };
    for key in ["apiVersion", "kind"] {
        if let Some(v) = map.get(key) {
            put(&mut out, key, v);
        }
    }
    let mut metadata = map.get("metadata").cloned().unwrap_or_else(|| Value::Object(Default::default()));
    if let Some(m) = metadata.as_object_mut() {
        m.remove("resourceVersion");
    }
    put(&mut out, "metadata", &metadata);
    for (key, value) in map {
        if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
            put(&mut out, key, value);
        }
    }
    out.put_u8(b'}');
    // Stored values live as long as their object: keep exactly their bytes, not the
    // growth slack of the buffer.
    Bytes::copy_from_slice(&out)
}

/// The stored bytes with `metadata.resourceVersion` set to `rv`.
pub fn with_resource_version(stored: &[u8], rv: i64) -> Bytes {
    let mut out = BytesMut::with_capacity(stored.len() + 32);
    put_with_resource_version(&mut out, stored, rv);
    out.freeze()
}

/// Appends the stored bytes with `metadata.resourceVersion` set to `rv` to `out`.
pub fn put_with_resource_version(out: &mut BytesMut, stored: &[u8], rv: i64) {
    // `"metadata":{` cannot occur inside a JSON string (its quotes would be escaped) and
    // the only keys before it are apiVersion and kind, so the first match is ours.
    match find(stored, METADATA_OPEN) {
        Some(at) => {
            let split = at + METADATA_OPEN.len();
            out.extend_from_slice(&stored[..split]);
            out.extend_from_slice(b"\"resourceVersion\":\"");
            out.extend_from_slice(rv.to_string().as_bytes());
            out.put_u8(b'"');
            if stored.get(split) != Some(&b'}') {
                out.put_u8(b',');
            }
            out.extend_from_slice(&stored[split..]);
        }
        None => out.extend_from_slice(stored),
    }
}

const API_VERSION_OPEN: &[u8] = b"{\"apiVersion\":\"";

/// The `apiVersion` a read of `def` must show when it differs from what was stored:
/// custom resources written through another version of their definition (conversion
/// `None` changes nothing else). `None` for built-in kinds.
pub fn served_api_version(def: &kolibri_resources::ResourceDef) -> Option<String> {
    def.custom.as_ref().map(|_| def.api_version())
}

/// Stored bytes with their `apiVersion` replaced by `api_version` when given and different.
pub fn as_version<'a>(stored: &'a [u8], api_version: Option<&str>) -> std::borrow::Cow<'a, [u8]> {
    use std::borrow::Cow;
    let Some(want) = api_version else { return Cow::Borrowed(stored) };
    let Some(rest) = stored.strip_prefix(API_VERSION_OPEN) else { return Cow::Borrowed(stored) };
    let Some(end) = rest.iter().position(|b| *b == b'"') else { return Cow::Borrowed(stored) };
    if &rest[..end] == want.as_bytes() {
        return Cow::Borrowed(stored);
    }
    let mut out = Vec::with_capacity(stored.len() + want.len());
    out.extend_from_slice(API_VERSION_OPEN);
    out.extend_from_slice(want.as_bytes());
    out.extend_from_slice(&rest[end..]);
    Cow::Owned(out)
}

/// Parses stored bytes and sets the resourceVersion.
pub fn decode_stored(stored: &[u8], rv: i64) -> Result<Value, serde_json::Error> {
    let mut value: Value = serde_json::from_slice(stored)?;
    if let Some(m) = value.get_mut("metadata").and_then(Value::as_object_mut) {
        m.insert("resourceVersion".into(), Value::String(rv.to_string()));
    }
    Ok(value)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splices_resource_version() {
        let obj = json!({"kind":"ConfigMap","apiVersion":"v1","data":{"x":"\"metadata\":{"},
            "metadata":{"name":"a","resourceVersion":"9"}});
        let stored = to_stored(&obj);
        assert!(stored.starts_with(b"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\""));
        let wire: Value = serde_json::from_slice(&with_resource_version(&stored, 42)).unwrap();
        assert_eq!(wire["metadata"], json!({"name":"a","resourceVersion":"42"}));
        assert_eq!(wire["data"]["x"], "\"metadata\":{");
    }

    #[test]
    fn custom_resources_show_the_requested_version() {
        let stored = to_stored(&json!({"apiVersion":"example.com/v1","kind":"W","metadata":{"name":"a"}}));
        let out = as_version(&stored, Some("example.com/v2"));
        let wire: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(wire["apiVersion"], "example.com/v2");
        assert!(matches!(as_version(&stored, Some("example.com/v1")), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(as_version(&stored, None), std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn empty_metadata() {
        let stored = to_stored(&json!({"apiVersion":"v1","kind":"X"}));
        let wire: Value = serde_json::from_slice(&with_resource_version(&stored, 3)).unwrap();
        assert_eq!(wire["metadata"]["resourceVersion"], "3");
    }
}
