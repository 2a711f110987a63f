//! Reading fields of an object into table cells, tolerating any shape.

use super::*;

pub(super) fn st<'a>(obj: &'a Value, ptr: &str) -> &'a str {
    obj.pointer(ptr).and_then(Value::as_str).unwrap_or_default()
}

pub(super) fn int(obj: &Value, ptr: &str) -> i64 {
    obj.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

pub(super) fn arr<'a>(obj: &'a Value, ptr: &str) -> &'a [Value] {
    obj.pointer(ptr).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

pub(super) fn count(obj: &Value, ptr: &str) -> usize {
    obj.pointer(ptr).and_then(Value::as_object).map_or(0, Map::len)
}

pub(super) fn parse_time(v: Option<&Value>) -> Option<DateTime<Utc>> {
    v.and_then(Value::as_str).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
}

/// Upstream's translateTimestampSince: "<unknown>" for a missing time.
pub(super) fn since(v: Option<&Value>, now: DateTime<Utc>) -> String {
    parse_time(v).map_or_else(|| UNKNOWN.into(), |t| human_duration(now.signed_duration_since(t)))
}

pub(super) fn name(obj: &Value) -> Value {
    Value::from(st(obj, "/metadata/name"))
}

pub(super) fn age(obj: &Value, now: DateTime<Utc>) -> Value {
    Value::from(since(obj.pointer("/metadata/creationTimestamp"), now))
}

pub(super) fn or_none(s: &str) -> String {
    if s.is_empty() {
        NONE.into()
    } else {
        s.into()
    }
}

/// Upstream's labels.FormatLabels: sorted `k=v` joined by ",", "<none>" when empty.
pub(super) fn format_labels(v: Option<&Value>) -> String {
    let Some(map) = v.and_then(Value::as_object) else { return NONE.into() };
    let mut pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default())).collect();
    if pairs.is_empty() {
        return NONE.into();
    }
    pairs.sort();
    pairs.join(",")
}

/// A metav1.LabelSelector as upstream's `labels.Selector.String()` (requirements sorted by key).
pub(super) fn format_selector(v: Option<&Value>) -> String {
    let Some(sel) = v.filter(|v| v.is_object()) else { return String::new() };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    for e in arr(sel, "/matchExpressions") {
        let key = st(e, "/key");
        let mut values: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let text = match st(e, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        reqs.push((key.to_string(), text));
    }
    reqs.sort();
    reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
}

/// Container names and images of a pod spec, joined by ",".
pub(super) fn containers_images(spec: Option<&Value>) -> (String, String) {
    let containers = spec.and_then(|s| s.get("containers")).and_then(Value::as_array);
    let list = containers.map(Vec::as_slice).unwrap_or_default();
    let names: Vec<&str> = list.iter().map(|c| st(c, "/name")).collect();
    let images: Vec<&str> = list.iter().map(|c| st(c, "/image")).collect();
    (names.join(","), images.join(","))
}

// ---- printers ----
