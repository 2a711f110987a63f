use serde_json::json;

use super::*;

fn schema() -> Arc<Value> {
    Arc::new(json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["size"],
                "properties": {
                    "size": {"type": "integer", "minimum": 1, "maximum": 10},
                    "mode": {"type": "string", "enum": ["fast", "slow"], "default": "fast"},
                    "name": {"type": "string", "maxLength": 5, "pattern": "^[a-z]+$"},
                    "port": {"x-kubernetes-int-or-string": true},
                    "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        },
    }))
}

fn strategy() -> CustomStrategy {
    CustomStrategy::new(true, true, Some(schema()))
}

fn messages(errs: &[FieldError]) -> Vec<String> {
    errs.iter().map(|e| e.message.clone()).collect()
}

#[test]
fn unknown_fields_are_pruned_and_reported() {
    let obj = json!({
        "apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default", "bogus": 1},
        "spec": {"size": 1, "extra": true, "free": {"any": {"thing": 1}}, "labels": {"a": "b"},
                 "tags": ["x"]},
        "top": 1,
    });
    let (out, unknown) = strategy().normalize(obj).unwrap();
    assert_eq!(unknown, vec!["metadata.bogus", "spec.extra", "top"]);
    assert_eq!(out["spec"], json!({"size": 1, "free": {"any": {"thing": 1}}, "labels": {"a": "b"}, "tags": ["x"]}));
    assert_eq!(out["apiVersion"], "example.com/v1");
}

#[test]
fn defaults_fill_absent_fields() {
    let mut obj = json!({"metadata": {"name": "w"}, "spec": {"size": 2}});
    strategy().default(&mut obj);
    assert_eq!(obj["spec"]["mode"], "fast");
}

#[test]
fn values_are_checked_with_upstream_messages() {
    let obj = json!({
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {"size": "big", "mode": "medium", "name": "toolong", "port": true, "tags": ["a", "b", "c"],
                 "labels": {"a": 1}},
    });
    let got = messages(&strategy().validate_create(&obj));
    let want = [
        "spec.size: Invalid value: \"string\": spec.size in body must be of type integer: \"string\"",
        "spec.mode: Unsupported value: \"medium\": supported values: \"fast\", \"slow\"",
        "spec.name: Too long: may not be more than 5 bytes",
        "spec.port: Invalid value: \"boolean\": spec.port in body must be of type integer,string: \"boolean\"",
        "spec.tags: Too many: 3: must have at most 2 items",
        "spec.labels.a: Invalid value: \"integer\": spec.labels.a in body must be of type string: \"integer\"",
    ];
    for w in want {
        assert!(got.contains(&w.to_string()), "missing {w:?} in {got:#?}");
    }
    let obj = json!({"metadata": {"name": "w", "namespace": "default"}, "spec": {"size": 20, "name": "AB"}});
    let got = messages(&strategy().validate_create(&obj));
    assert!(
        got.contains(&"spec.size: Invalid value: 20: spec.size in body should be less than or equal to 10".to_string())
    );
    assert!(got.contains(&"spec.name: Invalid value: \"AB\": spec.name in body should match '^[a-z]+$'".to_string()));
    let obj = json!({"metadata": {"name": "w", "namespace": "default"}, "spec": {}});
    assert_eq!(messages(&strategy().validate_create(&obj)), vec!["spec.size: Required value"]);
}

#[test]
fn status_is_kept_from_the_old_object_and_generation_follows_spec() {
    let s = strategy();
    let old = json!({"metadata": {"name": "w"}, "spec": {"size": 1}, "status": {"ready": true}});
    let mut new =
        json!({"metadata": {"name": "w", "labels": {"a": "b"}}, "spec": {"size": 1}, "status": {"ready": false}});
    s.prepare_for_update(&mut new, &old);
    assert_eq!(new["status"]["ready"], true);
    assert!(!s.bumps_generation(&new, &old));
    new["spec"]["size"] = json!(2);
    assert!(s.bumps_generation(&new, &old));
}

#[test]
fn non_structural_schemas_are_named() {
    let path = FieldPath::new("spec").child("versions").index(0).child("schema").child("openAPIV3Schema");
    let bad = json!({
        "type": "object",
        "properties": {
            "spec": {"properties": {"a": {"type": "string"}}},
            "list": {"type": "array"},
            "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}},
        },
    });
    let got = messages(&structural::validate_schema(&bad, &path));
    let p = "spec.versions[0].schema.openAPIV3Schema";
    for w in [
        format!("{p}.properties[spec].type: Required value: must not be empty for specified object fields"),
        format!("{p}.properties[list].items: Required value: must be specified"),
        format!("{p}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"),
    ] {
        assert!(got.contains(&w), "missing {w:?} in {got:#?}");
    }
    let root = json!({"type": "string"});
    assert_eq!(
        messages(&structural::validate_schema(&root, &path)),
        vec![format!("{p}.type: Invalid value: \"string\": must be object at the root")]
    );
}

#[test]
fn definitions_follow_the_served_versions() {
    let crd = json!({
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"],
                      "categories": ["all"]},
            "versions": [
                {"name": "v1", "served": true, "storage": true, "schema": {"openAPIV3Schema": {"type": "object"}},
                 "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                          "statusReplicasPath": ".status.replicas"}}},
                {"name": "v1beta1", "served": true, "storage": false, "deprecated": true},
                {"name": "v1alpha1", "served": false, "storage": false},
            ],
        },
    });
    let defs = definitions_of(&crd);
    assert_eq!(defs.iter().map(|d| d.version.as_str()).collect::<Vec<_>>(), ["v1", "v1beta1"]);
    assert_eq!(defs[0].list_kind, "WidgetList");
    assert_eq!(defs[0].short_names, ["wd"]);
    assert!(defs[0].has_status);
    assert_eq!(defs[0].subresources.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["status", "scale"]);
    assert_eq!(
        defs[1].custom.as_ref().unwrap().deprecation_warning.as_deref(),
        Some("example.com/v1beta1 Widget is deprecated")
    );
}
