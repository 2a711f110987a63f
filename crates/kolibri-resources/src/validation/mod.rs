//! Validation helpers shared by the kinds, as upstream's `apimachinery` validation
//! packages and `pkg/apis/core/validation`.

pub mod meta;
pub mod names;
pub mod pod;
pub mod quantity;
pub mod selector;

use std::collections::BTreeMap;

use crate::field_error::{BadValue, FieldError, FieldPath};

pub use names::NameRule;

/// Upstream's `FieldImmutableErrorMsg`.
pub const IMMUTABLE: &str = "field is immutable";

/// `ValidateNonnegativeField`.
pub fn non_negative(value: i64, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if value < 0 {
        errs.push(FieldError::invalid(path, value, "must be greater than or equal to 0"));
    }
}

/// Each message of a string check as an `Invalid` error of `value` at `path`.
pub fn push_msgs(errs: &mut Vec<FieldError>, path: &FieldPath, value: &str, msgs: Vec<String>) {
    errs.extend(msgs.iter().map(|m| FieldError::invalid(path, value, m)));
}

/// Go's `%#v` of a `map[string]string`: `map[string]string{"a":"b", "c":"d"}`.
pub fn go_string_map(map: &BTreeMap<String, String>) -> BadValue {
    let entries: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}:{}", crate::field_error::go_quote(k), crate::field_error::go_quote(v)))
        .collect();
    BadValue::Raw(format!("map[string]string{{{}}}", entries.join(", ")))
}

/// `ValidateImmutableField` on values compared by equality; `shown` is what the error
/// prints as the new value.
pub fn immutable<T: PartialEq>(
    new: &T,
    old: &T,
    path: &FieldPath,
    shown: impl Into<BadValue>,
    errs: &mut Vec<FieldError>,
) {
    if new != old {
        errs.push(FieldError::invalid(path, shown, IMMUTABLE));
    }
}

/// A struct value upstream prints with `%#v`; we print its JSON, which carries the same facts.
pub fn json_value<T: serde::Serialize>(value: &T) -> BadValue {
    BadValue::Raw(serde_json::to_string(value).unwrap_or_default())
}
