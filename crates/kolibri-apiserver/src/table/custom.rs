//! Tables of custom resources from the definition's `additionalPrinterColumns`, as
//! upstream's CRD table convertor: a Name column, then one column per entry, each cell the
//! first result of its JSONPath (`.status.conditions[?(@.type=="Ready")].status`).

use chrono::{DateTime, Utc};
use kolibri_resources::{CustomInfo, PrinterColumn};
use serde_json::{json, Value};
use serde_json_path::JsonPath;

use super::{cells, NAME_DESCRIPTION};

const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// The columns of a custom resource: its printer columns, or Age when it has none.
fn columns(info: &CustomInfo) -> Vec<PrinterColumn> {
    if !info.printer_columns.is_empty() {
        return info.printer_columns.clone();
    }
    vec![PrinterColumn {
        name: "Age".into(),
        type_: "date".into(),
        description: AGE_DESCRIPTION.into(),
        json_path: ".metadata.creationTimestamp".into(),
        ..Default::default()
    }]
}

/// Column definitions and the cells of each object.
pub(super) fn render(info: &CustomInfo, objects: &[Value], now: DateTime<Utc>) -> (Vec<Value>, Vec<Vec<Value>>) {
    let cols = columns(info);
    let paths: Vec<Option<JsonPath>> = cols.iter().map(|c| parse(&c.json_path)).collect();
    let mut defs = vec![json!({
        "name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0,
    })];
    defs.extend(cols.iter().map(|c| {
        let description = if c.description.is_empty() {
            format!("Custom resource definition column (in JSONPath format): {}", c.json_path)
        } else {
            c.description.clone()
        };
        json!({ "name": c.name, "type": c.type_, "format": c.format, "description": description, "priority": c.priority })
    }));
    let rows = objects
        .iter()
        .map(|obj| {
            let mut row = vec![cells::name(obj)];
            for (col, path) in cols.iter().zip(&paths) {
                let first = path.as_ref().and_then(|p| p.query(obj).all().into_iter().next());
                row.push(first.map_or(Value::Null, |v| cell(&col.type_, v, now)));
            }
            row
        })
        .collect();
    (defs, rows)
}

/// A kubectl JSONPath (`.a.b[0]`, with `{}` or without) as an RFC 9535 path (`$.a.b[0]`).
fn parse(path: &str) -> Option<JsonPath> {
    let path = path.trim();
    let path = path.strip_prefix('{').and_then(|p| p.strip_suffix('}')).unwrap_or(path);
    let path = path.strip_prefix('$').unwrap_or(path);
    JsonPath::parse(&format!("${}", quote_names(path))).ok()
}

/// Dotted names that RFC 9535 does not accept bare (`cert-manager.io/name`, written with
/// escaped dots in kubectl JSONPath) become bracketed names.
fn quote_names(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    let mut chars = path.chars().peekable();
    let mut depth = 0usize;
    while let Some(c) = chars.next() {
        match c {
            '[' => {
                depth += 1;
                out.push(c);
            }
            ']' => {
                depth = depth.saturating_sub(1);
                out.push(c);
            }
            '.' if depth == 0 && chars.peek().is_some_and(|n| *n != '.' && *n != '[') => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n == '\\' {
                        chars.next();
                        if let Some(escaped) = chars.next() {
                            name.push(escaped);
                        }
                    } else if n == '.' || n == '[' {
                        break;
                    } else {
                        name.push(n);
                        chars.next();
                    }
                }
                let plain = name == "*"
                    || name.chars().next().is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if plain {
                    out.push('.');
                    out.push_str(&name);
                } else {
                    out.push_str(&format!("['{}']", name.replace('\\', "\\\\").replace('\'', "\\'")));
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// One cell, typed by the column's type as upstream's `cellForJSONValue`.
fn cell(ty: &str, v: &Value, now: DateTime<Utc>) -> Value {
    match ty {
        "integer" => v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).map_or(Value::Null, |i| json!(i)),
        "number" => v.as_f64().map_or(Value::Null, |f| json!(f)),
        "boolean" => v.as_bool().map_or(Value::Null, |b| json!(b)),
        "date" => match cells::parse_time(Some(v)) {
            Some(_) => json!(cells::since(Some(v), now)),
            None => Value::Null,
        },
        _ => match v {
            Value::String(s) => json!(s),
            Value::Null => Value::Null,
            other => json!(other.to_string()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(cols: &[(&str, &str, &str)]) -> CustomInfo {
        CustomInfo {
            printer_columns: cols
                .iter()
                .map(|(name, ty, path)| PrinterColumn {
                    name: name.to_string(),
                    type_: ty.to_string(),
                    json_path: path.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn cells_follow_json_paths_with_filters() {
        let now = Utc::now();
        let created = (now - chrono::Duration::minutes(5)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let obj = json!({
            "metadata": {"name": "web", "creationTimestamp": created, "annotations": {"cert-manager.io/issuer": "ca"}},
            "spec": {"replicas": 3, "secretName": "web-tls"},
            "status": {"conditions": [
                {"type": "Issuing", "status": "False"},
                {"type": "Ready", "status": "True", "message": "Certificate is up to date"},
            ]},
        });
        let info = info(&[
            ("Ready", "string", ".status.conditions[?(@.type==\"Ready\")].status"),
            ("Secret", "string", ".spec.secretName"),
            ("Replicas", "integer", ".spec.replicas"),
            ("Issuer", "string", ".metadata.annotations.cert-manager\\.io/issuer"),
            ("Missing", "string", ".spec.nothing"),
            ("Age", "date", ".metadata.creationTimestamp"),
        ]);
        let (defs, rows) = render(&info, &[obj], now);
        assert_eq!(defs.len(), 7);
        assert_eq!(
            defs[1]["description"],
            "Custom resource definition column (in JSONPath format): .status.conditions[?(@.type==\"Ready\")].status"
        );
        assert_eq!(
            rows[0],
            vec![json!("web"), json!("True"), json!("web-tls"), json!(3), json!("ca"), Value::Null, json!("5m")]
        );
    }

    #[test]
    fn without_printer_columns_age_is_shown() {
        let (defs, _) = render(&CustomInfo::default(), &[], Utc::now());
        let names: Vec<&str> = defs.iter().filter_map(|d| d["name"].as_str()).collect();
        assert_eq!(names, ["Name", "Age"]);
        assert_eq!(defs[1]["type"], "date");
    }
}
