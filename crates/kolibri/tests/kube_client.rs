//! kube-rs against a real `kolibri server`: conflicts, pagination, watch resume, 410,
//! server-side apply.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Server;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, ObjectMeta, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::{json, Value};

fn configmap(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        data: Some(BTreeMap::from([("k".to_string(), value.to_string())])),
        ..Default::default()
    }
}

fn api_code(err: kube::Error) -> (u16, String, String) {
    match err {
        kube::Error::Api(s) => (s.code, s.reason.clone(), s.message.clone()),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn update_with_stale_resource_version_conflicts() {
    let server = Server::start();
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let created = api.create(&PostParams::default(), &configmap("c", "1")).await.unwrap();
    let mut first = created.clone();
    first.data = Some(BTreeMap::from([("k".into(), "2".into())]));
    let updated = api.replace("c", &PostParams::default(), &first).await.unwrap();
    assert_ne!(updated.metadata.resource_version, created.metadata.resource_version);

    // The same stale object again: 409 with upstream's message.
    let mut stale = created.clone();
    stale.data = Some(BTreeMap::from([("k".into(), "3".into())]));
    let (code, reason, message) = api_code(api.replace("c", &PostParams::default(), &stale).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert_eq!(
        message,
        "Operation cannot be fulfilled on configmaps \"c\": the object has been modified; please apply your changes to the latest version and try again"
    );
    // Creating it twice: 409 AlreadyExists.
    let (code, reason, message) = api_code(api.create(&PostParams::default(), &configmap("c", "x")).await.unwrap_err());
    assert_eq!((code, reason.as_str(), message.as_str()), (409, "AlreadyExists", "configmaps \"c\" already exists"));
    // Nothing stored changed.
    assert_eq!(api.get("c").await.unwrap().data.unwrap()["k"], "2");
}

#[tokio::test]
async fn pagination_returns_every_item_once_at_one_revision() {
    // The counts below are of every ConfigMap in `default`: no kube-root-ca.crt there.
    let server = Server::start_with(&["--disable-controllers", "root-ca-cert-publisher"]);
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    for i in 0..23 {
        api.create(&PostParams::default(), &configmap(&format!("p{i:02}"), "v")).await.unwrap();
    }
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    let mut revision = None;
    loop {
        let mut lp = ListParams::default().limit(5);
        if let Some(t) = &token {
            lp = lp.continue_token(t);
        }
        let page = api.list(&lp).await.unwrap();
        pages += 1;
        // A write between pages does not show up: the list is read at one revision.
        if pages == 2 {
            api.create(&PostParams::default(), &configmap("p00a", "late")).await.unwrap();
        }
        let rv = page.metadata.resource_version.clone();
        if let Some(first) = &revision {
            assert_eq!(Some(first), rv.as_ref(), "every page is read at the first page's revision");
        }
        revision.get_or_insert(rv.unwrap());
        names.extend(page.items.iter().map(|c| c.metadata.name.clone().unwrap()));
        match page.metadata.continue_ {
            Some(t) if !t.is_empty() => {
                if pages == 1 {
                    assert_eq!(page.metadata.remaining_item_count, Some(18));
                }
                token = Some(t)
            }
            _ => break,
        }
    }
    let expected: Vec<String> = (0..23).map(|i| format!("p{i:02}")).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with('p') && n.len() == 3).cloned().collect::<Vec<_>>(), expected);
    assert!(!names.contains(&"p00a".to_string()));
    assert_eq!(pages, 5);
}

#[tokio::test]
async fn watch_resumes_from_a_resource_version() {
    let server = Server::start();
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let created = api.create(&PostParams::default(), &configmap("w", "0")).await.unwrap();
    let from = created.metadata.resource_version.clone().unwrap();
    let mut versions = Vec::new();
    for v in 1..=3 {
        let mut cm = api.get("w").await.unwrap();
        cm.data = Some(BTreeMap::from([("k".into(), v.to_string())]));
        versions.push(api.replace("w", &PostParams::default(), &cm).await.unwrap().metadata.resource_version.unwrap());
    }
    api.delete("w", &Default::default()).await.unwrap();

    // Only this ConfigMap: controllers may add others to the namespace meanwhile.
    let stream = api.watch(&WatchParams::default().fields("metadata.name=w").timeout(10), &from).await.unwrap();
    futures::pin_mut!(stream);
    let mut seen = Vec::new();
    while let Some(event) = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.unwrap() {
        match event.unwrap() {
            WatchEvent::Modified(cm) => {
                seen.push(("MODIFIED", cm.data.unwrap()["k"].clone(), cm.metadata.resource_version.unwrap()))
            }
            WatchEvent::Deleted(cm) => seen.push(("DELETED", cm.data.unwrap()["k"].clone(), String::new())),
            other => panic!("unexpected event {other:?}"),
        }
        if seen.len() == 4 {
            break;
        }
    }
    let kinds: Vec<_> = seen.iter().map(|(t, v, _)| (*t, v.as_str())).collect();
    assert_eq!(kinds, [("MODIFIED", "1"), ("MODIFIED", "2"), ("MODIFIED", "3"), ("DELETED", "3")]);
    let rvs: Vec<String> = seen.iter().take(3).map(|(_, _, rv)| rv.clone()).collect();
    assert_eq!(rvs, versions);
}

#[tokio::test]
async fn watch_from_a_compacted_revision_is_expired() {
    let server = Server::start_with(&[
        "--datastore-retention",
        "0",
        "--datastore-keep-revisions",
        "0",
        "--datastore-compact-interval",
        "1",
    ]);
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    let first = api.create(&PostParams::default(), &configmap("old", "0")).await.unwrap();
    let old_rv = first.metadata.resource_version.unwrap();
    for v in 1..=5 {
        let mut cm = api.get("old").await.unwrap();
        cm.data = Some(BTreeMap::from([("k".into(), v.to_string())]));
        api.replace("old", &PostParams::default(), &cm).await.unwrap();
    }
    // Wait for a compaction past the first revision (the interval is one second).
    let mut expired = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let stream = api.watch(&WatchParams::default().timeout(2), &old_rv).await.unwrap();
        futures::pin_mut!(stream);
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap() {
            Some(Ok(WatchEvent::Error(e))) => {
                assert_eq!((e.code, e.reason.as_str()), (410, "Expired"));
                assert!(e.message.starts_with(&format!("too old resource version: {old_rv} (")), "{}", e.message);
                expired = true;
                break;
            }
            Some(Err(kube::Error::Api(e))) if e.code == 410 => {
                expired = true;
                break;
            }
            _ => continue,
        }
    }
    assert!(expired, "a watch from a compacted revision must end with 410 Expired");
    // A list at the compacted revision is refused the same way.
    let (code, reason, _) = api_code(
        api.list(&ListParams::default().at(&old_rv).matching(kube::api::VersionMatch::Exact)).await.unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (410, "Expired"));
}

#[tokio::test]
async fn watch_with_initial_events_ends_with_a_bookmark() {
    // Counts every ConfigMap in `default`: no kube-root-ca.crt there.
    let server = Server::start_with(&["--disable-controllers", "root-ca-cert-publisher"]);
    let api: Api<ConfigMap> = Api::namespaced(server.client().await, "default");
    for i in 0..3 {
        api.create(&PostParams::default(), &configmap(&format!("i{i}"), "v")).await.unwrap();
    }
    let wp = WatchParams::default().initial_events().timeout(5);
    let stream = api.watch(&wp, "").await.unwrap();
    futures::pin_mut!(stream);
    let mut added = 0;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), stream.next()).await.unwrap().unwrap().unwrap() {
            WatchEvent::Added(_) => added += 1,
            WatchEvent::Bookmark(b) => {
                assert_eq!(b.metadata.annotations.get("k8s.io/initial-events-end").map(String::as_str), Some("true"));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(added, 3);
}

/// The managedFields of an object as JSON (manager, operation, subresource, fieldsV1).
fn managed(meta: &ObjectMeta) -> Vec<Value> {
    meta.managed_fields
        .iter()
        .flatten()
        .map(|e| {
            json!({"manager": e.manager, "operation": e.operation, "subresource": e.subresource,
                   "apiVersion": e.api_version, "fieldsV1": e.fields_v1.as_ref().map(|f| f.0.clone())})
        })
        .collect()
}

#[tokio::test]
async fn server_side_apply_with_patch_apply() {
    let server = Server::start();
    let client = server.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let config = |a: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": a, "b": "x"}});

    // Apply to a missing object creates it.
    let created = api.patch("ssa", &PatchParams::apply("kube-rs-test"), &Patch::Apply(config("1"))).await.unwrap();
    assert_eq!(created.data.as_ref().unwrap()["a"], "1");
    assert_eq!(
        managed(&created.metadata),
        vec![json!({"manager": "kube-rs-test", "operation": "Apply", "subresource": null, "apiVersion": "v1",
                    "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}})]
    );

    // Another applier changing `a` conflicts, and nothing changes.
    let other = PatchParams::apply("other");
    let (code, reason, message) = api_code(api.patch("ssa", &other, &Patch::Apply(config("2"))).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (409, "Conflict"));
    assert_eq!(message, "Apply failed with 1 conflict: conflict with \"kube-rs-test\": .data.a");
    let unchanged = api.get("ssa").await.unwrap();
    assert_eq!(unchanged.metadata.resource_version, created.metadata.resource_version);

    // The causes carry the reason, the owner and the field.
    let body = serde_json::to_vec(&config("2")).unwrap();
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/ssa?fieldManager=other")
        .header("Content-Type", "application/apply-patch+yaml")
        .body(body)
        .unwrap();
    let status = raw_status(&client, req).await;
    assert_eq!(
        status["details"],
        json!({"causes": [{"reason": "FieldManagerConflict", "message": "conflict with \"kube-rs-test\"", "field": ".data.a"}]})
    );

    // Forced: `other` owns `a`, both own `b` (same value).
    let forced = api.patch("ssa", &other.clone().force(), &Patch::Apply(config("2"))).await.unwrap();
    assert_eq!(forced.data.as_ref().unwrap()["a"], "2");
    assert_eq!(
        managed(&forced.metadata),
        vec![
            json!({"manager": "kube-rs-test", "operation": "Apply", "subresource": null, "apiVersion": "v1",
                   "fieldsV1": {"f:data": {"f:b": {}}}}),
            json!({"manager": "other", "operation": "Apply", "subresource": null, "apiVersion": "v1",
                   "fieldsV1": {"f:data": {"f:a": {}, "f:b": {}}}}),
        ]
    );

    // No fieldManager: 422 on PatchOptions, as upstream.
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/ssa")
        .header("Content-Type", "application/apply-patch+yaml")
        .body(serde_json::to_vec(&config("3")).unwrap())
        .unwrap();
    let status = raw_status(&client, req).await;
    assert_eq!(status["code"], 422);
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch"
    );
    // force on a merge patch: 422 too.
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/ssa?force=true")
        .header("Content-Type", "application/merge-patch+json")
        .body(b"{}".to_vec())
        .unwrap();
    let status = raw_status(&client, req).await;
    assert_eq!(
        status["message"],
        "PatchOptions.meta.k8s.io \"\" is invalid: force: Forbidden: may not be specified for non-apply patch"
    );
    // A body of another kind: 400.
    let req = http::Request::patch("/api/v1/namespaces/default/configmaps/ssa?fieldManager=x")
        .header("Content-Type", "application/apply-patch+yaml")
        .body(b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: ssa\n".to_vec())
        .unwrap();
    let status = raw_status(&client, req).await;
    assert_eq!(
        (status["code"].clone(), status["message"].clone()),
        (json!(400), json!("invalid object type: /v1, Kind=Secret"))
    );
    assert_eq!(api.get("ssa").await.unwrap().data.unwrap()["a"], "2");

    // Status through apply: its own manager, on the status subresource.
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "default");
    let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}},
                 "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    deployments.patch("d", &PatchParams::apply("owner"), &Patch::Apply(d)).await.unwrap();
    let status =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "status": {"replicas": 1}});
    let after =
        deployments.patch_status("d", &PatchParams::apply("status-writer"), &Patch::Apply(status)).await.unwrap();
    assert_eq!(after.status.as_ref().and_then(|s| s.replicas), Some(1));
    let entries = managed(&after.metadata);
    let writer = entries.iter().find(|e| e["manager"] == "status-writer").expect("status manager");
    assert_eq!(
        writer,
        &json!({"manager": "status-writer", "operation": "Apply", "subresource": "status", "apiVersion": "apps/v1",
                "fieldsV1": {"f:status": {"f:replicas": {}}}})
    );
}

/// The Status body of a request that fails.
async fn raw_status(client: &kube::Client, req: http::Request<Vec<u8>>) -> Value {
    match client.request_text(req).await {
        Ok(text) => panic!("expected a failure, got {text}"),
        Err(kube::Error::Api(s)) => serde_json::to_value(&s).unwrap(),
        Err(other) => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn binding_checks_the_pod_uid() {
    let server = Server::start_with(&["--disable-scheduler"]);
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(server.client().await, "default");
    let pod = serde_json::from_value(json!({
        "metadata": {"name": "b"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }))
    .unwrap();
    let pod = pods.create(&PostParams::default(), &pod).await.unwrap();
    let uid = pod.metadata.uid.clone().unwrap();
    let binding = |uid: &str| {
        json!({"apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": "b", "uid": uid}, "target": {"kind": "Node", "name": "n1"}})
    };
    let err = pods.create_subresource::<Value, Value>("binding", "b", &PostParams::default(), &binding("other")).await;
    match err {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409);
            assert_eq!(
                status.message,
                format!("Operation cannot be fulfilled on pods \"b\": Precondition failed: UID in precondition: other, UID in object meta: {uid}")
            );
        }
        other => panic!("a binding with another uid was accepted: {other:?}"),
    }
    pods.create_subresource::<Value, Value>("binding", "b", &PostParams::default(), &binding(&uid)).await.unwrap();
    let bound = pods.get("b").await.unwrap();
    assert_eq!(bound.spec.and_then(|s| s.node_name).as_deref(), Some("n1"));
}
