//! Validation of a custom resource against its OpenAPI v3 schema, with the messages of
//! upstream's validator (kube-openapi `validate`, mapped to field errors as
//! `apiextensions-apiserver/pkg/apiserver/validation` does).

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use serde_json::Value;

use super::structural::{additional_properties, int_or_string, items, properties};
use crate::field_error::{BadValue, FieldError, FieldPath};

/// Validates a whole object; `metadata` is validated as `ObjectMeta` elsewhere.
pub(super) fn validate_root(obj: &Value, schema: &Value, errs: &mut Vec<FieldError>) {
    validate(obj, schema, "", true, errs);
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The JSON type name upstream reports for a value.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn fits(v: &Value, ty: &str) -> bool {
    match ty {
        "number" => v.is_number(),
        other => type_name(v) == other,
    }
}

/// A value as Go's `%v` prints it in a field error.
fn bad_value(v: &Value) -> BadValue {
    match v {
        Value::String(s) => BadValue::Str(s.clone()),
        Value::Bool(b) => BadValue::Bool(*b),
        Value::Number(n) => BadValue::Raw(number_text(n.as_f64().unwrap_or(0.0))),
        Value::Null => BadValue::Null,
        other => BadValue::Raw(other.to_string()),
    }
}

/// A number as Go's `%v` prints a float64 (`10`, `0.5`).
fn number_text(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn num(s: &Value, key: &str) -> Option<f64> {
    s.get(key).and_then(Value::as_f64)
}

fn flag(s: &Value, key: &str) -> bool {
    s.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn validate(v: &Value, s: &Value, path: &str, root: bool, errs: &mut Vec<FieldError>) {
    let field = FieldPath::new(path);
    let shown = if path.is_empty() { "body" } else { path };
    if v.is_null() {
        if flag(s, "nullable") {
            return;
        }
        if let Some(ty) = s.get("type").and_then(Value::as_str) {
            errs.push(FieldError::type_invalid(
                &field,
                "null",
                &format!("{shown} in body must be of type {ty}: \"null\""),
            ));
        }
        return;
    }
    if int_or_string(s) {
        if !matches!(type_name(v), "integer" | "string") {
            let actual = type_name(v);
            errs.push(FieldError::type_invalid(
                &field,
                actual,
                &format!("{shown} in body must be of type integer,string: \"{actual}\""),
            ));
            return;
        }
    } else if let Some(ty) = s.get("type").and_then(Value::as_str) {
        if !fits(v, ty) {
            let actual = type_name(v);
            errs.push(FieldError::type_invalid(
                &field,
                actual,
                &format!("{shown} in body must be of type {ty}: \"{actual}\""),
            ));
            return;
        }
    }
    if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
        if !allowed.contains(v) {
            let values: Vec<String> = allowed
                .iter()
                .map(|a| match a {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect();
            let refs: Vec<&str> = values.iter().map(String::as_str).collect();
            errs.push(FieldError::not_supported(&field, bad_value(v), &refs));
        }
    }
    match v {
        Value::String(text) => validate_string(text, s, &field, shown, errs),
        Value::Number(n) => validate_number(n.as_f64().unwrap_or(0.0), v, s, &field, shown, errs),
        Value::Array(list) => validate_array(list, s, path, &field, shown, errs),
        Value::Object(map) => {
            if let Some(required) = s.get("required").and_then(Value::as_array) {
                for key in required.iter().filter_map(Value::as_str) {
                    if !map.contains_key(key) {
                        errs.push(FieldError::required(&FieldPath::new(&join(path, key)), ""));
                    }
                }
            }
            let count = map.len() as f64;
            if let Some(max) = num(s, "maxProperties").filter(|m| count > *m) {
                errs.push(FieldError::too_many(&field, map.len(), max as usize));
            }
            if let Some(min) = num(s, "minProperties").filter(|m| count < *m) {
                errs.push(FieldError::invalid(
                    &field,
                    BadValue::Int(map.len() as i64),
                    &format!("{shown} in body should have at least {} properties", min as i64),
                ));
            }
            let props = properties(s);
            let additional = additional_properties(s);
            for (key, child) in map {
                if root && matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                    continue;
                }
                match (props.and_then(|p| p.get(key)), additional) {
                    (Some(prop), _) => validate(child, prop, &join(path, key), false, errs),
                    (None, Some(add)) => validate(child, add, &join(path, key), false, errs),
                    _ => {}
                }
            }
        }
        _ => {}
    }
    validate_combinators(v, s, path, &field, shown, errs);
}

fn validate_string(text: &str, s: &Value, field: &FieldPath, shown: &str, errs: &mut Vec<FieldError>) {
    let chars = text.chars().count() as f64;
    if let Some(max) = num(s, "maxLength").filter(|m| chars > *m) {
        errs.push(FieldError::too_long(field, max as usize));
    }
    if let Some(min) = num(s, "minLength").filter(|m| chars < *m) {
        errs.push(FieldError::invalid(
            field,
            text,
            &format!("{shown} in body should be at least {} chars long", min as i64),
        ));
    }
    if let Some(pattern) = s.get("pattern").and_then(Value::as_str) {
        // A pattern that does not compile was refused when the definition was created.
        if compiled(pattern).is_some_and(|re| !re.is_match(text)) {
            errs.push(FieldError::invalid(field, text, &format!("{shown} in body should match '{pattern}'")));
        }
    }
}

/// Patterns compiled once per distinct pattern: schemas are few, objects many.
fn compiled(pattern: &str) -> Option<Arc<regex::Regex>> {
    static CACHE: OnceLock<RwLock<HashMap<String, Arc<regex::Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(re) = cache.read().ok().and_then(|c| c.get(pattern).cloned()) {
        return Some(re);
    }
    let re = Arc::new(regex::Regex::new(pattern).ok()?);
    if let Ok(mut c) = cache.write() {
        c.insert(pattern.to_string(), re.clone());
    }
    Some(re)
}

fn validate_number(n: f64, v: &Value, s: &Value, field: &FieldPath, shown: &str, errs: &mut Vec<FieldError>) {
    if let Some(max) = num(s, "maximum") {
        if flag(s, "exclusiveMaximum") && n >= max {
            let msg = format!("{shown} in body should be less than {}", number_text(max));
            errs.push(FieldError::invalid(field, bad_value(v), &msg));
        } else if n > max {
            let msg = format!("{shown} in body should be less than or equal to {}", number_text(max));
            errs.push(FieldError::invalid(field, bad_value(v), &msg));
        }
    }
    if let Some(min) = num(s, "minimum") {
        if flag(s, "exclusiveMinimum") && n <= min {
            let msg = format!("{shown} in body should be greater than {}", number_text(min));
            errs.push(FieldError::invalid(field, bad_value(v), &msg));
        } else if n < min {
            let msg = format!("{shown} in body should be greater than or equal to {}", number_text(min));
            errs.push(FieldError::invalid(field, bad_value(v), &msg));
        }
    }
    if let Some(m) = num(s, "multipleOf").filter(|m| *m > 0.0) {
        let q = n / m;
        if (q - q.round()).abs() > 1e-9 {
            let msg = format!("{shown} in body should be a multiple of {}", number_text(m));
            errs.push(FieldError::invalid(field, bad_value(v), &msg));
        }
    }
}

fn validate_array(list: &[Value], s: &Value, path: &str, field: &FieldPath, shown: &str, errs: &mut Vec<FieldError>) {
    let len = list.len() as f64;
    if let Some(max) = num(s, "maxItems").filter(|m| len > *m) {
        errs.push(FieldError::too_many(field, list.len(), max as usize));
    }
    if let Some(min) = num(s, "minItems").filter(|m| len < *m) {
        errs.push(FieldError::invalid(
            field,
            BadValue::Int(list.len() as i64),
            &format!("{shown} in body should have at least {} items", min as i64),
        ));
    }
    if flag(s, "uniqueItems") && list.iter().enumerate().any(|(i, a)| list[..i].contains(a)) {
        errs.push(FieldError::invalid(
            field,
            BadValue::Raw(Value::Array(list.to_vec()).to_string()),
            &format!("{shown} in body shouldn't contain duplicates"),
        ));
    }
    if let Some(item) = items(s) {
        for (i, v) in list.iter().enumerate() {
            validate(v, item, &format!("{path}[{i}]"), false, errs);
        }
    }
}

/// `allOf`, `anyOf`, `oneOf` and `not` (value validations only, in structural schemas).
fn validate_combinators(v: &Value, s: &Value, path: &str, field: &FieldPath, shown: &str, errs: &mut Vec<FieldError>) {
    let passes = |sub: &Value| {
        let mut e = Vec::new();
        validate(v, sub, path, false, &mut e);
        e
    };
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            errs.extend(passes(sub));
        }
    }
    if let Some(any) = s.get("anyOf").and_then(Value::as_array) {
        if !any.is_empty() && !any.iter().any(|sub| passes(sub).is_empty()) {
            let msg = format!("{shown} in body must validate at least one schema (anyOf)");
            errs.push(FieldError::invalid(field, bad_value(v), &msg));
        }
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        if !one.is_empty() && one.iter().filter(|sub| passes(sub).is_empty()).count() != 1 {
            let msg = format!("{shown} in body must validate one and only one schema (oneOf)");
            errs.push(FieldError::invalid(field, bad_value(v), &msg));
        }
    }
    if let Some(not) = s.get("not") {
        if passes(not).is_empty() {
            let msg = format!("{shown} in body must not validate the schema (not)");
            errs.push(FieldError::invalid(field, bad_value(v), &msg));
        }
    }
}
