//! `meta.k8s.io/v1` Tables for `kubectl get`, and PartialObjectMetadata.
//!
//! Every kind gets upstream's default columns (Name, Age); per-kind printer columns
//! are added in the table module of each kind as they are written.

use kolibri_resources::ResourceDef;
use serde_json::{json, Map, Value};

use crate::handlers::Query;

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";
const AGE_DESCRIPTION: &str = "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";

/// A Table of `objects`. `list_meta` is the list's metadata (None for one object).
pub fn table(_def: &ResourceDef, objects: &[Value], list_meta: Option<Value>, query: &Query, _single: bool) -> Value {
    let include = query.get("includeObject").unwrap_or("Metadata");
    let now = chrono::Utc::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|obj| {
            let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
            let age = obj
                .pointer("/metadata/creationTimestamp")
                .and_then(Value::as_str)
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| human_duration(now.signed_duration_since(t.with_timezone(&chrono::Utc))))
                .unwrap_or_else(|| "<unknown>".into());
            let mut row = json!({ "cells": [name, age] });
            match include {
                "None" => {}
                "Object" => row["object"] = obj.clone(),
                _ => row["object"] = partial_metadata(obj),
            }
            row
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta.unwrap_or_else(|| json!({})),
        "columnDefinitions": [
            { "name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0 },
            { "name": "Age", "type": "string", "format": "", "description": AGE_DESCRIPTION, "priority": 0 },
        ],
        "rows": rows,
    })
}

/// An object reduced to its metadata.
pub fn partial_metadata(obj: &Value) -> Value {
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata").cloned().unwrap_or_else(|| Value::Object(Map::new())),
    })
}

pub fn partial_metadata_list(objects: &[Value], list_meta: Value) -> Value {
    let items: Vec<Value> = objects.iter().map(partial_metadata).collect();
    json!({ "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": list_meta, "items": items })
}

/// Upstream's `duration.HumanDuration`: "5s", "3m10s", "5h", "2d3h", "1y20d".
pub fn human_duration(d: chrono::Duration) -> String {
    let seconds = d.num_seconds();
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let days = hours / 24;
        let y = days / 365;
        let rem = days % 365;
        return if rem == 0 { format!("{y}y") } else { format!("{y}y{rem}d") };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::human_duration;
    use chrono::Duration;

    #[test]
    fn durations_as_upstream() {
        assert_eq!(human_duration(Duration::seconds(5)), "5s");
        assert_eq!(human_duration(Duration::seconds(119)), "119s");
        assert_eq!(human_duration(Duration::seconds(190)), "3m10s");
        assert_eq!(human_duration(Duration::minutes(45)), "45m");
        assert_eq!(human_duration(Duration::minutes(5 * 60 + 3)), "5h3m");
        assert_eq!(human_duration(Duration::hours(30)), "30h");
        assert_eq!(human_duration(Duration::hours(51)), "2d3h");
        assert_eq!(human_duration(Duration::days(400)), "400d");
        assert_eq!(human_duration(Duration::days(3 * 365 + 20)), "3y20d");
    }
}
