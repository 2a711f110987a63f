//! kube-rs against a real `kolibri server`: conflicts, pagination, watch resume, 410.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Server;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, ObjectMeta, PostParams, WatchEvent, WatchParams};

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
    let server = Server::start();
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

    let stream = api.watch(&WatchParams::default().timeout(10), &from).await.unwrap();
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
    let server = Server::start();
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
