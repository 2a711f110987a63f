//! The garbage collector against a real `kolibri server`, driven with kubectl: background,
//! foreground (`--cascade=foreground`, blockOwnerDeletion) and orphan (`--cascade=orphan`)
//! deletion, dangling owner references, owners of another kind, and
//! `--disable-controllers garbage-collector`.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::time::Duration;

use common::wait_for as eventually;

use kubectl_common::*;
use serde_json::{json, Value};

const K: &str = KUBECTL_133;

fn get_opt(server: &common::Server, args: &[&str]) -> Option<Value> {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    let out = kc(server, K, &full);
    if out.status.success() {
        Some(serde_json::from_slice(&out.stdout).expect("kubectl -o json"))
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("NotFound"), "kubectl get {args:?} failed: {stderr}");
        None
    }
}

fn create(server: &common::Server, doc: &Value) -> Value {
    let out = kc_stdin(server, K, &["create", "-o", "json", "-f", "-"], &doc.to_string());
    assert!(out.status.success(), "create {doc}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("created object")
}

/// The controllers the server logged it starts (the last start in the log).
fn started_controllers(log: &str) -> Option<Vec<String>> {
    let line = log.lines().rev().find(|l| l.contains("starting controllers controllers="))?;
    let list = &line[line.find("controllers=")? + "controllers=".len()..];
    Some(list.split_whitespace().next().unwrap_or_default().split(',').map(str::to_string).collect())
}

fn owner_ref(owner: &Value, block: bool) -> Value {
    json!({
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "blockOwnerDeletion": block,
    })
}

fn configmap(name: &str, owners: Vec<Value>, finalizers: &[&str]) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": name, "namespace": "default", "ownerReferences": owners, "finalizers": finalizers },
    })
}

fn gone(server: &common::Server, args: &[&str], within: Duration) {
    eventually(within, &format!("{args:?} to be deleted"), || get_opt(server, args).is_none().then_some(()));
}

#[test]
fn background_deletion_removes_dependents_of_any_kind() {
    let server = start_server();
    let owner = create(&server, &configmap("owner", vec![], &[]));
    create(&server, &configmap("dep-cm", vec![owner_ref(&owner, false)], &[]));
    create(
        &server,
        &json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": { "name": "dep-secret", "namespace": "default", "ownerReferences": [owner_ref(&owner, false)] },
        }),
    );
    // A dependent of a dependent goes too.
    let dep_cm = get_json(&server, K, &["configmap", "dep-cm"]);
    create(&server, &configmap("grandchild", vec![owner_ref(&dep_cm, false)], &[]));
    // An unrelated object stays.
    create(&server, &configmap("bystander", vec![], &[]));
    std::thread::sleep(Duration::from_millis(500));
    assert!(get_opt(&server, &["configmap", "dep-cm"]).is_some(), "a dependent of a live owner was deleted");

    assert_eq!(kc_ok(&server, K, &["delete", "configmap", "owner"]), "configmap \"owner\" deleted\n");
    for args in [["configmap", "dep-cm"], ["secret", "dep-secret"], ["configmap", "grandchild"]] {
        gone(&server, &args, Duration::from_secs(20));
    }
    assert!(get_opt(&server, &["configmap", "bystander"]).is_some());
}

#[test]
fn foreground_deletion_waits_for_blocking_dependents() {
    let server = start_server();
    let owner = create(&server, &configmap("owner", vec![], &[]));
    create(&server, &configmap("blocking", vec![owner_ref(&owner, true)], &["example.com/hold"]));
    create(&server, &configmap("free", vec![owner_ref(&owner, false)], &[]));

    kc_ok(&server, K, &["delete", "configmap", "owner", "--cascade=foreground", "--wait=false"]);
    // The free dependent goes; the blocking one is being deleted but held by its finalizer,
    // and the owner waits for it.
    gone(&server, &["configmap", "free"], Duration::from_secs(20));
    let blocking = eventually(Duration::from_secs(20), "the blocking dependent to be deleted", || {
        let cm = get_json(&server, K, &["configmap", "blocking"]);
        cm["metadata"]["deletionTimestamp"].is_string().then_some(cm)
    });
    assert_eq!(blocking["metadata"]["finalizers"], json!(["example.com/hold"]));
    std::thread::sleep(Duration::from_secs(1));
    let waiting = get_json(&server, K, &["configmap", "owner"]);
    assert!(waiting["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(waiting["metadata"]["finalizers"], json!(["foregroundDeletion"]));

    kc_ok(&server, K, &["patch", "configmap", "blocking", "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#]);
    gone(&server, &["configmap", "blocking"], Duration::from_secs(10));
    gone(&server, &["configmap", "owner"], Duration::from_secs(20));

    // `kubectl delete --cascade=foreground` (waiting) returns once owner and dependents are gone.
    let owner = create(&server, &configmap("owner2", vec![], &[]));
    create(&server, &configmap("child2", vec![owner_ref(&owner, true)], &[]));
    kc_ok(&server, K, &["delete", "configmap", "owner2", "--cascade=foreground", "--timeout=30s"]);
    assert!(get_opt(&server, &["configmap", "owner2"]).is_none());
    assert!(get_opt(&server, &["configmap", "child2"]).is_none());
}

#[test]
fn orphan_deletion_keeps_dependents_without_the_reference() {
    let server = start_server();
    let owner = create(&server, &configmap("owner", vec![], &[]));
    let other = create(&server, &configmap("other-owner", vec![], &[]));
    create(&server, &configmap("only-child", vec![owner_ref(&owner, true)], &[]));
    create(&server, &configmap("shared-child", vec![owner_ref(&owner, false), owner_ref(&other, false)], &[]));

    kc_ok(&server, K, &["delete", "configmap", "owner", "--cascade=orphan", "--timeout=30s"]);
    gone(&server, &["configmap", "owner"], Duration::from_secs(20));
    let only = get_json(&server, K, &["configmap", "only-child"]);
    assert!(only["metadata"]["ownerReferences"].is_null(), "{only}");
    assert!(only["metadata"]["deletionTimestamp"].is_null());
    let shared = get_json(&server, K, &["configmap", "shared-child"]);
    assert_eq!(shared["metadata"]["ownerReferences"], json!([owner_ref(&other, false)]));
    // Still there a while later.
    std::thread::sleep(Duration::from_secs(1));
    assert!(get_opt(&server, &["configmap", "only-child"]).is_some());
    assert!(get_opt(&server, &["configmap", "shared-child"]).is_some());
}

#[test]
fn dangling_references_are_collected() {
    let server = start_server();
    let ghost = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "ghost", "uid": "00000000-0000-4000-8000-000000000001" },
    });
    create(&server, &configmap("no-owner", vec![owner_ref(&ghost, false)], &[]));
    // An owner of that name exists, but it is another object (uid).
    create(&server, &configmap("impostor", vec![], &[]));
    let wrong = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": "impostor", "uid": "00000000-0000-4000-8000-000000000002" },
    });
    create(&server, &configmap("wrong-uid", vec![owner_ref(&wrong, false)], &[]));
    // One owner gone, one alive: kept, and only the dangling reference is removed.
    let alive = create(&server, &configmap("alive", vec![], &[]));
    create(&server, &configmap("half", vec![owner_ref(&ghost, false), owner_ref(&alive, false)], &[]));
    gone(&server, &["configmap", "no-owner"], Duration::from_secs(20));
    gone(&server, &["configmap", "wrong-uid"], Duration::from_secs(20));
    let half = eventually(Duration::from_secs(20), "the dangling reference to be removed", || {
        let cm = get_json(&server, K, &["configmap", "half"]);
        (cm["metadata"]["ownerReferences"].as_array().map(Vec::len) == Some(1)).then_some(cm)
    });
    assert_eq!(half["metadata"]["ownerReferences"], json!([owner_ref(&alive, false)]));
    assert!(get_opt(&server, &["configmap", "impostor"]).is_some());
    assert!(get_opt(&server, &["configmap", "alive"]).is_some());
}

#[test]
fn disabled_garbage_collector_leaves_dependents() {
    let server = common::Server::start_with(&["--disable-controllers", "garbage-collector"]);
    let owner = create(&server, &configmap("owner", vec![], &[]));
    create(&server, &configmap("dep", vec![owner_ref(&owner, false)], &[]));
    kc_ok(&server, K, &["delete", "configmap", "owner"]);
    std::thread::sleep(Duration::from_secs(3));
    let dep = get_json(&server, K, &["configmap", "dep"]);
    assert_eq!(dep["metadata"]["ownerReferences"], json!([owner_ref(&owner, false)]));
    let log = server.server_log();
    let started = started_controllers(&log).unwrap_or_else(|| panic!("no start line in {log}"));
    assert!(started.iter().any(|c| c == "namespace"), "{started:?}");
    assert!(!started.iter().any(|c| c == "garbage-collector"), "{started:?}");
    assert!(!log.contains("controller=\"garbage-collector\""), "{log}");
}

/// With controllers running, SIGTERM still ends the server quickly.
#[test]
fn shutdown_stops_the_controllers_quickly() {
    let mut server = start_server();
    kc_ok(&server, K, &["create", "namespace", "busy"]);
    eventually(Duration::from_secs(20), "the default service account", || {
        get_opt(&server, &["serviceaccount", "default", "-n", "busy"])
    });
    let took = server.stop();
    assert!(took < Duration::from_secs(5), "stopping took {took:?}");
    let log = server.server_log();
    assert!(log.contains("controllers stopped"), "{log}");
    assert!(log.contains("stopped elapsed_ms"), "{log}");
}

/// A kind defined after the server started is watched too: a custom resource owned by a
/// ConfigMap is collected with it, and a ConfigMap owned by a custom resource.
#[test]
fn custom_resources_defined_later_are_collected() {
    let server = start_server();
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: sprockets.gc.example.com\nspec:\n  group: gc.example.com\n  scope: Namespaced\n  names:\n    plural: sprockets\n    singular: sprocket\n    kind: Sprocket\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n";
    let out = kc_stdin(&server, K, &["create", "-f", "-"], crd);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    kc_ok(&server, K, &["wait", "--for=condition=Established", "crd/sprockets.gc.example.com", "--timeout=30s"]);

    let owner = create(&server, &configmap("owner", vec![], &[]));
    let sprocket = create(
        &server,
        &json!({
            "apiVersion": "gc.example.com/v1", "kind": "Sprocket",
            "metadata": { "name": "s1", "namespace": "default", "ownerReferences": [owner_ref(&owner, false)] },
        }),
    );
    create(&server, &configmap("owned-by-sprocket", vec![owner_ref(&sprocket, false)], &[]));
    std::thread::sleep(Duration::from_millis(500));
    assert!(get_opt(&server, &["sprocket", "s1"]).is_some());

    kc_ok(&server, K, &["delete", "configmap", "owner"]);
    gone(&server, &["sprocket", "s1"], Duration::from_secs(20));
    gone(&server, &["configmap", "owned-by-sprocket"], Duration::from_secs(20));
}
