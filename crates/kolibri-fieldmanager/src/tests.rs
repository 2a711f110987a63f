//! Expected values are written by hand in the shape upstream's API server produces.

use serde_json::{json, Value};

use crate::managed::{Managed, Operation};
use crate::manager::FieldManager;
use crate::schema::TypeRef;
use crate::{Error, Set};

const NOW: &str = "2026-11-29T09:00:00Z";
const LATER: &str = "2026-11-29T09:05:00Z";

fn deployments() -> FieldManager {
    FieldManager::new(
        TypeRef::builtin("io.k8s.api.apps.v1.Deployment").expect("Deployment type"),
        "apps/v1",
        None,
        true,
    )
}

fn deployment(replicas: i64, containers: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": containers}},
        },
    })
}

fn fields_of(managed: &Managed, manager: &str, op: Operation) -> Value {
    managed.find(manager, op, "apps/v1", "").map(|e| e.fields.to_fields_v1()).unwrap_or(Value::Null)
}

#[test]
fn fields_v1_round_trip() {
    let v = json!({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}, "f:finalizers": {".": {}, "v:\"example.com/x\"": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                ".": {}, "f:image": {}, "f:name": {},
                "f:ports": {".": {}, "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}},
            }}}},
            "f:args": {"i:0": {}},
        },
    });
    let set = Set::from_fields_v1(&v).expect("decodes");
    assert_eq!(set.to_fields_v1(), v);
    let paths: Vec<String> = set.paths().iter().map(ToString::to_string).collect();
    assert!(paths
        .contains(&".spec.template.spec.containers[name=\"nginx\"].ports[containerPort=80,protocol=\"TCP\"]".into()));
    assert!(paths.contains(&".metadata.finalizers[=\"example.com/x\"]".into()));
    assert!(paths.contains(&".spec.args[0]".into()));
    assert!(!paths.contains(&".spec".into()), "a parent only is not a member: {paths:?}");
}

#[test]
fn fields_v1_rejects_garbage() {
    for bad in [json!({"x:foo": {}}), json!({"k:notjson": {}}), json!({"f:a": 1}), json!([])] {
        assert!(Set::from_fields_v1(&bad).is_err(), "{bad}");
    }
}

#[test]
fn apply_creates_with_upstream_field_set() {
    let fm = deployments();
    let config = deployment(2, json!([{"name": "nginx", "image": "nginx:1.25", "ports": [{"containerPort": 80}]}]));
    let mut managed = Managed::default();
    let obj = fm.apply(&json!({}), &config, &mut managed, "kubectl", false, NOW).expect("applies");
    assert_eq!(obj["spec"]["replicas"], json!(2));
    assert_eq!(
        fields_of(&managed, "kubectl", Operation::Apply),
        json!({
            "f:metadata": {"f:labels": {"f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:template": {
                    "f:metadata": {"f:labels": {"f:app": {}}},
                    "f:spec": {"f:containers": {"k:{\"name\":\"nginx\"}": {
                        ".": {}, "f:image": {}, "f:name": {},
                        "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                    }}},
                },
            },
        })
    );
    let encoded = managed.encode();
    assert_eq!(encoded[0]["manager"], "kubectl");
    assert_eq!(encoded[0]["operation"], "Apply");
    assert_eq!(encoded[0]["apiVersion"], "apps/v1");
    assert_eq!(encoded[0]["fieldsType"], "FieldsV1");
    assert_eq!(encoded[0]["time"], NOW);
}

#[test]
fn update_on_create_owns_what_the_zero_value_lacks() {
    let fm = deployments();
    let mut obj = deployment(1, json!([{"name": "nginx", "image": "nginx"}]));
    obj["spec"]["strategy"] = json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%"}});
    obj["spec"]["template"]["spec"]["securityContext"] = json!({});
    let mut managed = Managed::default();
    assert!(fm.update(&fm.zero_object(), &obj, &mut managed, "kubectl-create", NOW));
    assert_eq!(
        fields_of(&managed, "kubectl-create", Operation::Update),
        json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {
                "f:replicas": {},
                "f:selector": {},
                "f:strategy": {"f:rollingUpdate": {".": {}, "f:maxSurge": {}}, "f:type": {}},
                "f:template": {
                    "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                    "f:spec": {
                        "f:containers": {"k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}},
                        "f:securityContext": {},
                    },
                },
            },
        })
    );
}

#[test]
fn conflicts_name_the_owner_and_force_takes_over() {
    let fm = deployments();
    let mut managed = Managed::default();
    let live = fm
        .apply(&json!({}), &deployment(1, json!([{"name": "a", "image": "x"}])), &mut managed, "alice", false, NOW)
        .unwrap();

    // An updater changes replicas: it takes the field from alice.
    let mut edited = live.clone();
    edited["spec"]["replicas"] = json!(5);
    assert!(fm.update(&live, &edited, &mut managed, "kubectl-edit", NOW));

    let err = fm
        .apply(
            &edited,
            &deployment(3, json!([{"name": "a", "image": "x"}])),
            &mut managed.clone(),
            "alice",
            false,
            LATER,
        )
        .unwrap_err();
    let Error::Conflicts(c) = err else { panic!("expected conflicts, got {err:?}") };
    assert_eq!(
        c.message(),
        "Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        c.causes(),
        vec![("conflict with \"kubectl-edit\" using apps/v1".to_string(), ".spec.replicas".to_string())]
    );

    // Another applier changing two of alice's fields.
    let err = fm
        .apply(
            &live,
            &deployment(7, json!([{"name": "a", "image": "y"}])),
            &mut Managed::default().clone(),
            "bob",
            false,
            LATER,
        )
        .map(|_| ());
    assert!(err.is_ok(), "no owners, no conflicts");
    let mut m2 = Managed::default();
    let live2 = fm
        .apply(&json!({}), &deployment(1, json!([{"name": "a", "image": "x"}])), &mut m2, "alice", false, NOW)
        .unwrap();
    let Err(Error::Conflicts(c)) =
        fm.apply(&live2, &deployment(7, json!([{"name": "a", "image": "y"}])), &mut m2.clone(), "bob", false, LATER)
    else {
        panic!("expected conflicts")
    };
    assert_eq!(
        c.message(),
        "Apply failed with 2 conflicts: conflicts with \"alice\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"a\"].image"
    );

    // Forced: bob owns them now, alice keeps the rest.
    let out =
        fm.apply(&live2, &deployment(7, json!([{"name": "a", "image": "y"}])), &mut m2, "bob", true, LATER).unwrap();
    assert_eq!(out["spec"]["replicas"], json!(7));
    let alice = m2.find("alice", Operation::Apply, "apps/v1", "").expect("alice stays");
    assert!(!alice.fields.has(&crate::Path::fields(&["spec", "replicas"]).0));
    assert!(alice.fields.has(&crate::Path::fields(&["spec", "selector"]).0));
}

#[test]
fn list_map_items_are_shared_and_removed_only_when_unowned() {
    let fm = deployments();
    let mut managed = Managed::default();
    let a = json!({"name": "a", "image": "a:1"});
    let b = json!({"name": "b", "image": "b:1"});
    let live = fm.apply(&json!({}), &deployment(1, json!([a])), &mut managed, "alice", false, NOW).unwrap();
    let mut bob_cfg = deployment(1, json!([b]));
    bob_cfg["spec"].as_object_mut().unwrap().remove("replicas");
    let live = fm.apply(&live, &bob_cfg, &mut managed, "bob", false, NOW).unwrap();
    let names: Vec<&str> = live["spec"]["template"]["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a", "b"]);

    // Alice drops her container: it goes, bob's stays; the shared selector stays.
    let mut alice_cfg = deployment(1, json!([]));
    alice_cfg["spec"]["template"]["spec"].as_object_mut().unwrap().remove("containers");
    let live = fm.apply(&live, &alice_cfg, &mut managed, "alice", false, LATER).unwrap();
    assert_eq!(live["spec"]["template"]["spec"]["containers"], json!([b]));
    assert_eq!(live["spec"]["selector"], json!({"matchLabels": {"app": "web"}}));
}

#[test]
fn removed_fields_leave_the_object_unless_someone_else_owns_them() {
    let fm = FieldManager::new(TypeRef::builtin("io.k8s.api.core.v1.ConfigMap").unwrap(), "v1", None, false);
    let cm = |data: Value| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data});
    let mut managed = Managed::default();
    let live =
        fm.apply(&json!({}), &cm(json!({"a": "1", "b": "2", "c": "3"})), &mut managed, "alice", false, NOW).unwrap();
    // Someone updates c: it is theirs now.
    let mut edited = live.clone();
    edited["data"]["c"] = json!("30");
    fm.update(&live, &edited, &mut managed, "editor", NOW);
    let live = fm.apply(&edited, &cm(json!({"a": "1"})), &mut managed, "alice", false, LATER).unwrap();
    assert_eq!(live["data"], json!({"a": "1", "c": "30"}));
    assert_eq!(
        managed.encode(),
        json!([
            {"manager": "alice", "operation": "Apply", "apiVersion": "v1", "time": LATER, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:a": {}}}},
            {"manager": "editor", "operation": "Update", "apiVersion": "v1", "time": NOW, "fieldsType": "FieldsV1",
             "fieldsV1": {"f:data": {"f:c": {}}}},
        ])
    );
}

#[test]
fn sets_merge_and_atomic_lists_conflict() {
    let fm = deployments();
    let mut managed = Managed::default();
    let mut cfg = deployment(1, json!([{"name": "a", "image": "x"}]));
    cfg["metadata"]["finalizers"] = json!(["example.com/one"]);
    cfg["spec"]["template"]["spec"]["tolerations"] = json!([{"key": "k1", "operator": "Exists"}]);
    let live = fm.apply(&json!({}), &cfg, &mut managed, "alice", false, NOW).unwrap();

    let mut other = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "finalizers": ["example.com/two"]}});
    let live = fm.apply(&live, &other, &mut managed, "bob", false, NOW).unwrap();
    assert_eq!(live["metadata"]["finalizers"], json!(["example.com/one", "example.com/two"]));

    other["spec"] = json!({"template": {"spec": {"tolerations": [{"key": "k2", "operator": "Exists"}]}}});
    let Err(Error::Conflicts(c)) = fm.apply(&live, &other, &mut managed.clone(), "bob", false, NOW) else {
        panic!("an atomic list is owned as a whole")
    };
    assert_eq!(c.message(), "Apply failed with 1 conflict: conflict with \"alice\": .spec.template.spec.tolerations");
}

#[test]
fn unchanged_apply_changes_nothing() {
    let fm = deployments();
    let mut managed = Managed::default();
    let cfg = deployment(2, json!([{"name": "a", "image": "x"}]));
    let live = fm.apply(&json!({}), &cfg, &mut managed, "alice", false, NOW).unwrap();
    let before = managed.clone();
    let again = fm.apply(&live, &cfg, &mut managed, "alice", false, LATER).unwrap();
    assert_eq!(again, live);
    assert_eq!(managed, before, "no new time when nothing changed");
}

#[test]
fn invalid_configurations_are_type_errors() {
    let fm = deployments();
    let mut dup = deployment(1, json!([{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]));
    let err = fm.apply(&json!({}), &dup, &mut Managed::default(), "m", false, NOW).unwrap_err();
    assert_eq!(err.to_string(), ".spec.template.spec.containers: duplicate entries for key [name=\"a\"]");
    dup["spec"]["template"]["spec"]["containers"] = json!([{"image": "x"}]);
    let err = fm.apply(&json!({}), &dup, &mut Managed::default(), "m", false, NOW).unwrap_err();
    assert!(err.to_string().contains("omits key field \"name\""), "{err}");
    let mut unknown = deployment(1, json!([]));
    unknown["spec"]["bogus"] = json!(1);
    let err = fm.apply(&json!({}), &unknown, &mut Managed::default(), "m", false, NOW).unwrap_err();
    assert_eq!(err.to_string(), ".spec.bogus: field not declared in schema");
}

#[test]
fn status_subresource_owns_only_status() {
    let ty = TypeRef::builtin("io.k8s.api.apps.v1.Deployment").unwrap();
    let fm = FieldManager::new(ty, "apps/v1", Some("status"), true);
    let live = deployment(1, json!([{"name": "a", "image": "x"}]));
    let mut new = live.clone();
    new["status"] = json!({"replicas": 1});
    new["metadata"]["labels"]["x"] = json!("y");
    let mut managed = Managed::default();
    fm.update(&live, &new, &mut managed, "controller", NOW);
    assert_eq!(
        managed.encode(),
        json!([{"manager": "controller", "operation": "Update", "apiVersion": "apps/v1", "time": NOW,
                "fieldsType": "FieldsV1", "fieldsV1": {"f:status": {".": {}, "f:replicas": {}}}, "subresource": "status"}])
    );
}

#[test]
fn custom_resources_follow_their_schema_or_deduce() {
    let schema = json!({"type": "object", "properties": {
        "spec": {"type": "object", "properties": {
            "items": {"type": "array", "items": {"type": "string"}},
            "ports": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                      "items": {"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer"}}}},
            "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
        }},
    }});
    let fm = FieldManager::new(TypeRef::custom(Some(&schema)), "example.com/v1", None, false);
    let cfg = json!({"apiVersion": "example.com/v1", "kind": "W", "metadata": {"name": "w"},
                     "spec": {"items": ["a"], "ports": [{"name": "http", "port": 80}], "free": {"x": {"y": 1}}}});
    let mut managed = Managed::default();
    fm.apply(&json!({}), &cfg, &mut managed, "m", false, NOW).unwrap();
    assert_eq!(
        managed.entries[0].fields.to_fields_v1(),
        json!({"f:spec": {
            "f:items": {},
            "f:ports": {"k:{\"name\":\"http\"}": {".": {}, "f:name": {}, "f:port": {}}},
            "f:free": {"f:x": {".": {}, "f:y": {}}},
        }})
    );

    let fm = FieldManager::new(TypeRef::deduced(), "example.com/v1", None, false);
    let mut managed = Managed::default();
    fm.apply(&json!({}), &cfg, &mut managed, "m", false, NOW).unwrap();
    assert_eq!(
        managed.entries[0].fields.to_fields_v1(),
        json!({"f:spec": {".": {}, "f:items": {}, "f:ports": {}, "f:free": {".": {}, "f:x": {".": {}, "f:y": {}}}}})
    );
}

#[test]
fn update_managers_are_capped() {
    let fm = FieldManager::new(TypeRef::builtin("io.k8s.api.core.v1.ConfigMap").unwrap(), "v1", None, false);
    let mut managed = Managed::default();
    let mut live = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}});
    for i in 0..12 {
        let mut new = live.clone();
        new["data"][format!("k{i}")] = json!("v");
        fm.update(&live, &new, &mut managed, &format!("m{i:02}"), &format!("2026-11-29T09:00:{i:02}Z"));
        live = new;
    }
    let names: Vec<&str> = managed.entries.iter().map(|e| e.manager.as_str()).collect();
    assert_eq!(managed.entries.len(), 10, "{names:?}");
    let ancient = managed.find("ancient-changes", Operation::Update, "v1", "").expect("bucket");
    assert_eq!(ancient.fields.to_fields_v1(), json!({"f:data": {"f:k0": {}, "f:k1": {}, "f:k2": {}}}));
}

#[test]
fn reset_requests() {
    assert!(Managed::is_reset_request(Some(&json!([]))));
    assert!(Managed::is_reset_request(Some(&json!([{}]))));
    assert!(!Managed::is_reset_request(None));
    assert!(!Managed::is_reset_request(Some(&json!([{"manager": "x"}]))));
}
