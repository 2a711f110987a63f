//! Expected results follow upstream's strategicpatch semantics (patch.go, patch_test.go).

use serde_json::{json, Value};

use super::*;

const POD: &str = "io.k8s.api.core.v1.Pod";
const DEPLOYMENT: &str = "io.k8s.api.apps.v1.Deployment";

fn smp(original: &Value, patch: Value, definition: &str) -> Result<Value, PatchError> {
    apply(PatchType::Strategic, original, patch.to_string().as_bytes(), Some(definition))
}

fn pod(spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec})
}

#[test]
fn content_types() {
    assert_eq!(PatchType::from_content_type("application/json-patch+json"), Some(PatchType::Json));
    assert_eq!(PatchType::from_content_type("application/merge-patch+json; charset=utf-8"), Some(PatchType::Merge));
    assert_eq!(PatchType::from_content_type("application/strategic-merge-patch+json"), Some(PatchType::Strategic));
    assert_eq!(PatchType::from_content_type("application/apply-patch+yaml;charset=utf-8"), Some(PatchType::Apply));
    assert_eq!(PatchType::from_content_type("application/json"), None);
    assert_eq!(PatchType::from_content_type(""), None);
}

#[test]
fn json_patch_all_operations() {
    let original = json!({"a": 1, "b": {"c": [1, 2]}, "d": "x"});
    let patch = json!([
        {"op": "test", "path": "/a", "value": 1},
        {"op": "add", "path": "/b/c/-", "value": 3},
        {"op": "remove", "path": "/d"},
        {"op": "replace", "path": "/a", "value": 2},
        {"op": "copy", "from": "/b/c", "path": "/e"},
        {"op": "move", "from": "/e", "path": "/f"}
    ]);
    let patched = apply(PatchType::Json, &original, patch.to_string().as_bytes(), None).unwrap();
    assert_eq!(patched, json!({"a": 2, "b": {"c": [1, 2, 3]}, "f": [1, 2, 3]}));
}

#[test]
fn json_patch_errors() {
    let original = json!({"a": 1});
    let failed_test = apply(PatchType::Json, &original, br#"[{"op":"test","path":"/a","value":2}]"#, None).unwrap_err();
    assert_eq!(failed_test.code(), 422);
    assert_eq!(failed_test.reason(), "Invalid");

    let missing = apply(PatchType::Json, &original, br#"[{"op":"remove","path":"/nope"}]"#, None).unwrap_err();
    assert_eq!(missing.code(), 422);

    for bad in [&b"{not json"[..], br#"{"op":"add"}"#, br#"[{"op":"frobnicate","path":"/a"}]"#] {
        let err = apply(PatchType::Json, &original, bad, None).unwrap_err();
        assert_eq!(err.code(), 400, "{err}");
    }
}

#[test]
fn merge_patch() {
    let original = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"list": [1, 2]}});
    let patch = br#"{"metadata":{"labels":{"a":null,"c":"3"}},"spec":{"list":[3]}}"#;
    assert_eq!(
        apply(PatchType::Merge, &original, patch, None).unwrap(),
        json!({"metadata": {"labels": {"b": "2", "c": "3"}}, "spec": {"list": [3]}})
    );
    for bad in [&b"[1]"[..], b"null", b"{oops"] {
        let err = apply(PatchType::Merge, &original, bad, None).unwrap_err();
        assert_eq!(err, PatchError::BadRequest("Invalid JSON Patch".into()));
    }
}

#[test]
fn strategic_without_schema_is_unsupported() {
    let err = apply(PatchType::Strategic, &json!({}), b"{}", None).unwrap_err();
    assert_eq!(err.code(), 415);
    assert_eq!(err.reason(), "UnsupportedMediaType");
    let err = apply(PatchType::Apply, &json!({}), b"{}", Some(POD)).unwrap_err();
    assert_eq!(err.code(), 415);
}

#[test]
fn strategic_bad_documents() {
    let original = pod(json!({}));
    for bad in [&b"[]"[..], b"{nope", b"3"] {
        let err = apply(PatchType::Strategic, &original, bad, Some(POD)).unwrap_err();
        assert_eq!(err.code(), 400, "{err}");
    }
    assert_eq!(apply(PatchType::Strategic, &original, b"{}", Some(POD)).unwrap(), original);
}

#[test]
fn containers_merge_by_name() {
    let original = pod(json!({"containers": [
        {"name": "a", "image": "a:1", "args": ["x", "y"]},
        {"name": "b", "image": "b:1"},
        {"name": "c", "image": "c:1"}
    ]}));
    let patched = smp(&original, json!({"spec": {"containers": [{"name": "b", "image": "b:2"}]}}), POD).unwrap();
    assert_eq!(
        patched["spec"]["containers"],
        json!([
            {"name": "a", "image": "a:1", "args": ["x", "y"]},
            {"name": "b", "image": "b:2"},
            {"name": "c", "image": "c:1"}
        ])
    );

    // Items the patch names take the patch's order; server-only items are interleaved by
    // the server's order (upstream normalizeElementOrder). `args` has no strategy.
    let patched =
        smp(&original, json!({"spec": {"containers": [{"name": "c"}, {"name": "a", "args": ["z"]}]}}), POD).unwrap();
    assert_eq!(
        patched["spec"]["containers"],
        json!([
            {"name": "b", "image": "b:1"},
            {"name": "c", "image": "c:1"},
            {"name": "a", "image": "a:1", "args": ["z"]}
        ])
    );
}

#[test]
fn new_merge_list_items_come_before_unplaced_server_items() {
    // Upstream mergeSortedSlice: an item unknown to the server is not "greater" than any
    // server item, so it is emitted first unless $setElementOrder places it.
    let original = pod(json!({"containers": [{"name": "a"}, {"name": "b"}]}));
    let patched = smp(&original, json!({"spec": {"containers": [{"name": "c", "image": "c"}]}}), POD).unwrap();
    assert_eq!(patched["spec"]["containers"], json!([{"name": "c", "image": "c"}, {"name": "a"}, {"name": "b"}]));
}

#[test]
fn kubectl_three_way_patch_with_set_element_order() {
    let original = pod(json!({"containers": [
        {"name": "a", "image": "a", "env": [
            {"name": "X", "value": "x"},
            {"name": "Y", "value": "y"}
        ]},
        {"name": "b", "image": "b"}
    ]}));
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}, {"name": "c"}],
        "containers": [
            {
                "name": "a",
                "$setElementOrder/env": [{"name": "Y"}, {"name": "Z"}],
                "env": [{"name": "Z", "value": "z"}, {"$patch": "delete", "name": "X"}]
            },
            {"name": "c", "image": "c"}
        ]
    }});
    let patched = smp(&original, patch, POD).unwrap();
    assert_eq!(
        patched["spec"]["containers"],
        json!([
            {"name": "b", "image": "b"},
            {"name": "a", "image": "a", "env": [
                {"name": "Y", "value": "y"},
                {"name": "Z", "value": "z"}
            ]},
            {"name": "c", "image": "c"}
        ])
    );
}

#[test]
fn set_element_order_keeps_server_only_items_in_place() {
    // patch_test.go "set elements order in a list with server-only items 2".
    let original = pod(json!({"containers": [
        {"name": "1", "other": "a"},
        {"name": "2", "value": "2"},
        {"name": "9"},
        {"name": "3", "value": "3"},
        {"name": "4", "value": "4"}
    ]}));
    let patch = json!({"spec": {"$setElementOrder/containers": [
        {"name": "2"}, {"name": "1"}, {"name": "4"}, {"name": "3"}
    ]}});
    let names: Vec<Value> = smp(&original, patch, POD).unwrap()["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].clone())
        .collect();
    assert_eq!(names, vec!["2", "1", "9", "4", "3"]);
}

#[test]
fn set_element_order_must_match_patch_order() {
    let original = pod(json!({"containers": [{"name": "1"}, {"name": "3"}, {"name": "2"}]}));
    let patch = json!({"spec": {
        "$setElementOrder/containers": [{"name": "1"}, {"name": "2"}, {"name": "3"}],
        "containers": [{"name": "3", "image": "x"}, {"name": "1", "image": "y"}]
    }});
    let err = smp(&original, patch, POD).unwrap_err();
    assert_eq!(err.code(), 400);
    assert!(err.to_string().contains("doesn't match"), "{err}");
}

#[test]
fn ports_merge_by_container_port() {
    let original = pod(json!({"containers": [{"name": "a", "ports": [
        {"containerPort": 80, "name": "http"},
        {"containerPort": 443, "name": "https"}
    ]}]}));
    let patch = json!({"spec": {"containers": [{"name": "a", "ports": [
        {"containerPort": 443, "protocol": "TCP"},
        {"containerPort": 80, "$patch": "delete"}
    ]}]}});
    assert_eq!(
        smp(&original, patch, POD).unwrap()["spec"]["containers"][0]["ports"],
        json!([{"containerPort": 443, "name": "https", "protocol": "TCP"}])
    );
}

#[test]
fn volumes_retain_keys() {
    let original = pod(json!({"volumes": [
        {"name": "v", "emptyDir": {}},
        {"name": "w", "hostPath": {"path": "/w"}}
    ]}));
    let patch = json!({"spec": {"volumes": [
        {"name": "v", "$retainKeys": ["configMap", "name"], "configMap": {"name": "cm"}}
    ]}});
    assert_eq!(
        smp(&original, patch, POD).unwrap()["spec"]["volumes"],
        json!([
            {"name": "v", "configMap": {"name": "cm"}},
            {"name": "w", "hostPath": {"path": "/w"}}
        ])
    );
}

#[test]
fn deployment_strategy_retain_keys_rolling_update_to_recreate() {
    let original = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 1, "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}
        }}
    });
    // As kubectl apply sends it.
    let patch = json!({"spec": {"strategy": {
        "$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"
    }}});
    let patched = smp(&original, patch, DEPLOYMENT).unwrap();
    assert_eq!(patched["spec"]["strategy"], json!({"type": "Recreate"}));
    assert_eq!(patched["spec"]["replicas"], 1);

    // Without the null, $retainKeys alone clears rollingUpdate.
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}});
    assert_eq!(smp(&original, patch, DEPLOYMENT).unwrap()["spec"]["strategy"], json!({"type": "Recreate"}));

    // A key set by the patch must be listed.
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {"maxSurge": 1}}}});
    let err = smp(&original, patch, DEPLOYMENT).unwrap_err();
    assert_eq!(err, PatchError::BadRequest("invalid patch format of retainKeys".into()));
}

#[test]
fn finalizers_merge_as_set() {
    let original = json!({"metadata": {"name": "p", "finalizers": ["a", "b"]}});
    let patched = smp(&original, json!({"metadata": {"finalizers": ["c", "a"]}}), POD).unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["c", "a", "b"]));

    let patched =
        smp(&original, json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a", "zzz"]}}), POD).unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["b"]));

    let patched =
        smp(&original, json!({"metadata": {"$setElementOrder/finalizers": ["b", "a", "c"], "finalizers": ["c"]}}), POD)
            .unwrap();
    assert_eq!(patched["metadata"]["finalizers"], json!(["b", "a", "c"]));
}

#[test]
fn owner_references_merge_by_uid() {
    let original = json!({"metadata": {"name": "p", "ownerReferences": [
        {"uid": "1", "name": "x", "kind": "ReplicaSet"},
        {"uid": "2", "name": "y", "kind": "ReplicaSet"}
    ]}});
    let patched = smp(
        &original,
        json!({"metadata": {"ownerReferences": [
            {"uid": "2", "controller": true},
            {"uid": "1", "$patch": "delete"}
        ]}}),
        POD,
    )
    .unwrap();
    assert_eq!(
        patched["metadata"]["ownerReferences"],
        json!([{"uid": "2", "name": "y", "kind": "ReplicaSet", "controller": true}])
    );
}

#[test]
fn labels_null_deletes_and_maps_merge() {
    let original = json!({"metadata": {"name": "p", "labels": {"a": "1", "b": "2"}}});
    let patched = smp(&original, json!({"metadata": {"labels": {"a": null, "c": "3", "never": null}}}), POD).unwrap();
    assert_eq!(patched["metadata"]["labels"], json!({"b": "2", "c": "3"}));

    // Null for an absent field, and nested nulls in new values, are dropped.
    let patched =
        smp(&original, json!({"metadata": {"annotations": {"x": "1", "y": null}}, "spec": null}), POD).unwrap();
    assert_eq!(patched["metadata"]["annotations"], json!({"x": "1"}));
    assert!(patched.get("spec").is_none());
}

#[test]
fn lists_without_strategy_are_replaced() {
    let original = pod(json!({"tolerations": [{"key": "a"}, {"key": "b"}]}));
    let patched = smp(&original, json!({"spec": {"tolerations": [{"key": "c"}]}}), POD).unwrap();
    assert_eq!(patched["spec"]["tolerations"], json!([{"key": "c"}]));
}

#[test]
fn replace_and_delete_directives() {
    let original = pod(json!({
        "containers": [{"name": "a", "image": "a"}, {"name": "b", "image": "b"}],
        "nodeSelector": {"x": "1", "y": "2"},
        "securityContext": {"runAsUser": 1}
    }));
    let patched = smp(
        &original,
        json!({"spec": {
            "containers": [{"$patch": "replace"}, {"name": "only", "image": "o"}],
            "nodeSelector": {"$patch": "replace", "z": "3"},
            "securityContext": {"$patch": "delete"}
        }}),
        POD,
    )
    .unwrap();
    assert_eq!(patched["spec"]["containers"], json!([{"name": "only", "image": "o"}]));
    assert_eq!(patched["spec"]["nodeSelector"], json!({"z": "3"}));
    // Upstream's mergeMap answers `$patch: delete` with an empty map.
    assert_eq!(patched["spec"]["securityContext"], json!({}));

    // A whole-object replace at the top.
    let patched = smp(&original, json!({"$patch": "replace", "kind": "Pod", "metadata": {"name": "q"}}), POD).unwrap();
    assert_eq!(patched, json!({"kind": "Pod", "metadata": {"name": "q"}}));

    // A directive map for a field the server does not have is dropped.
    let patched = smp(&original, json!({"spec": {"affinity": {"$patch": "delete"}}}), POD).unwrap();
    assert!(patched["spec"].get("affinity").is_none());
}

#[test]
fn invalid_directives_are_rejected() {
    let original = pod(json!({"containers": [{"name": "a"}], "nodeSelector": {"x": "1"}}));
    let cases = [
        json!({"spec": {"$foo": 1}}),
        json!({"spec": {"nodeSelector": {"$patch": "frobnicate"}}}),
        json!({"spec": {"nodeSelector": {"$patch": "merge"}}}),
        json!({"spec": {"containers": [{"$patch": "merge"}]}}),
        json!({"spec": {"containers": [{"image": "no-name"}]}}),
        json!({"spec": {"$setElementOrder": [{"name": "a"}]}}),
        json!({"spec": {"$deleteFromPrimitiveListcontainers": ["a"]}}),
        json!({"spec": {"containers": [{"name": "a", "$retainKeys": "name"}]}}),
    ];
    for patch in cases {
        let err = smp(&original, patch.clone(), POD).unwrap_err();
        assert_eq!(err.code(), 400, "{patch}: {err}");
    }
}

#[test]
fn lists_of_lists_are_invalid() {
    let original = json!({"metadata": {"name": "p", "finalizers": []}});
    let err = smp(&original, json!({"metadata": {"finalizers": [["a"]]}}), POD).unwrap_err();
    assert_eq!(err, PatchError::Invalid("lists of lists are not supported".into()));
}

#[test]
fn dollar_properties_of_the_schema_are_fields() {
    // JSONSchemaProps declares `$ref` and `$schema`.
    let crd = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps";
    let original = json!({"type": "object"});
    let patched = smp(&original, json!({"$schema": "x"}), crd).unwrap();
    assert_eq!(patched, json!({"type": "object", "$schema": "x"}));
}
