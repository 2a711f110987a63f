//! Reads and writes against a real SQLite file.

use std::sync::Arc;

use bytes::Bytes;
use kolibri_store::{ListOptions, SqliteOptions, SqliteStore, Store, StoreError};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn open(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    SqliteStore::open(&dir.path().join("state.db"), SqliteOptions { auto_compact: false, ..Default::default() })
        .await
        .unwrap()
}

#[tokio::test]
async fn create_get_update_delete() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    assert_eq!(s.current_revision(), 0);

    let kv = s.create("/a", b("1")).await.unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision), (1, 1));
    assert!(matches!(s.create("/a", b("x")).await, Err(StoreError::AlreadyExists(k)) if k == "/a"));
    assert_eq!(s.get("/a").await.unwrap().unwrap().value, b("1"));
    assert_eq!(s.get("/missing").await.unwrap(), None);

    let kv = s.update("/a", b("2"), 1).await.unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision), (1, 2));
    match s.update("/a", b("3"), 1).await {
        Err(StoreError::Conflict { key, expected: 1, found: 2 }) => assert_eq!(key, "/a"),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert!(matches!(s.update("/nope", b("3"), 1).await, Err(StoreError::NotFound(_))));
    assert!(matches!(s.delete("/a", Some(1)).await, Err(StoreError::Conflict { found: 2, .. })));

    let del = s.delete("/a", Some(2)).await.unwrap();
    assert_eq!((del.value.clone(), del.create_revision, del.mod_revision), (b("2"), 1, 3));
    assert_eq!(s.get("/a").await.unwrap(), None);
    assert!(matches!(s.delete("/a", None).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.current_revision(), 3);

    // Re-creation starts a new life of the key.
    let kv = s.create("/a", b("again")).await.unwrap();
    assert_eq!((kv.create_revision, kv.mod_revision), (4, 4));
    s.close().await;
}

#[tokio::test]
async fn state_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    s.create("/a", b("1")).await.unwrap();
    s.create("/b", b("1")).await.unwrap();
    s.update("/a", b("2"), 1).await.unwrap();
    s.delete("/b", None).await.unwrap();
    s.close().await;

    let s = open(&dir).await;
    assert_eq!(s.current_revision(), 4);
    let a = s.get("/a").await.unwrap().unwrap();
    assert_eq!((a.value, a.create_revision, a.mod_revision), (b("2"), 1, 3));
    assert_eq!(s.get("/b").await.unwrap(), None);
    assert_eq!(s.create("/c", b("1")).await.unwrap().mod_revision, 5);
    // The re-created key must not collide with its old rows (UNIQUE(name, prev_revision)).
    assert_eq!(s.create("/b", b("new")).await.unwrap().mod_revision, 6);
    s.close().await;
}

#[tokio::test]
async fn list_prefix_and_pagination() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    for i in 0..10 {
        s.create(&format!("/pods/ns/p{i}"), b("v")).await.unwrap();
    }
    s.create("/pods/other/x", b("v")).await.unwrap();
    s.create("/pods/nsx", b("v")).await.unwrap();
    s.create("/services/ns/s", b("v")).await.unwrap();

    let all = s.list("/pods/ns/", ListOptions::default()).await.unwrap();
    assert_eq!(all.items.len(), 10);
    assert_eq!(all.revision, 13);
    assert!(!all.more);
    assert_eq!(all.remaining, Some(0));
    assert_eq!(s.count("/pods/").await.unwrap(), 12);
    assert_eq!(s.count("").await.unwrap(), 13);

    let p1 = s.list("/pods/ns/", ListOptions { limit: Some(4), ..Default::default() }).await.unwrap();
    let keys: Vec<_> = p1.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(keys, ["/pods/ns/p0", "/pods/ns/p1", "/pods/ns/p2", "/pods/ns/p3"]);
    assert!(p1.more);
    assert_eq!(p1.remaining, Some(6));

    let p2 = s
        .list(
            "/pods/ns/",
            ListOptions { limit: Some(4), start_after: Some("/pods/ns/p3".into()), revision: Some(p1.revision) },
        )
        .await
        .unwrap();
    assert_eq!(p2.items[0].key, "/pods/ns/p4");
    assert_eq!(p2.remaining, Some(2));
    let p3 = s
        .list("/pods/ns/", ListOptions { limit: Some(4), start_after: Some("/pods/ns/p7".into()), revision: None })
        .await
        .unwrap();
    assert_eq!(p3.items.len(), 2);
    assert!(!p3.more);
    s.close().await;
}

#[tokio::test]
async fn list_at_old_revision_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    s.create("/k/a", b("a1")).await.unwrap(); // 1
    s.create("/k/b", b("b1")).await.unwrap(); // 2
    s.update("/k/a", b("a2"), 1).await.unwrap(); // 3
    s.delete("/k/b", None).await.unwrap(); // 4
    s.create("/k/c", b("c1")).await.unwrap(); // 5

    let at = |rev| ListOptions { revision: Some(rev), ..Default::default() };
    let vals = |r: kolibri_store::ListResult| -> Vec<(String, Bytes, i64)> {
        r.items.into_iter().map(|kv| (kv.key, kv.value, kv.mod_revision)).collect()
    };
    assert_eq!(vals(s.list("/k/", at(2)).await.unwrap()), [("/k/a".into(), b("a1"), 1), ("/k/b".into(), b("b1"), 2)]);
    assert_eq!(vals(s.list("/k/", at(4)).await.unwrap()), [("/k/a".into(), b("a2"), 3)]);
    let r5 = s.list("/k/", at(5)).await.unwrap();
    assert_eq!(r5.revision, 5);
    assert_eq!(r5.items.len(), 2);
    let paged = s.list("/k/", ListOptions { revision: Some(2), limit: Some(1), ..Default::default() }).await.unwrap();
    assert_eq!((paged.items.len(), paged.more, paged.remaining), (1, true, Some(1)));

    assert!(matches!(s.list("/k/", at(6)).await, Err(StoreError::FutureRevision { requested: 6, current: 5 })));

    s.compact(4).await.unwrap();
    assert_eq!(s.compacted_revision(), 4);
    assert!(matches!(s.list("/k/", at(3)).await, Err(StoreError::Compacted { requested: 3, compacted: 4 })));
    assert!(matches!(s.watch("/k/", 3).await, Err(StoreError::Compacted { .. })));
    // The compacted revision itself stays readable.
    assert_eq!(vals(s.list("/k/", at(4)).await.unwrap()), [("/k/a".into(), b("a2"), 3)]);
    s.close().await;

    // The compacted revision is persistent.
    let s = open(&dir).await;
    assert_eq!(s.compacted_revision(), 4);
    assert!(matches!(s.list("/k/", at(3)).await, Err(StoreError::Compacted { .. })));
    s.close().await;
}

#[tokio::test]
async fn calls_after_close_fail() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    s.create("/a", b("1")).await.unwrap();
    s.close().await;
    assert!(matches!(s.create("/b", b("1")).await, Err(StoreError::Closed)));
    assert!(matches!(s.get("/a").await, Err(StoreError::Closed)));
    assert!(matches!(s.list("", ListOptions::default()).await, Err(StoreError::Closed)));
    assert!(matches!(s.watch("", 0).await, Err(StoreError::Closed)));
    s.close().await; // idempotent
}

#[tokio::test]
async fn close_flushes_queued_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    let writers: Vec<_> = (0..50)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.create(&format!("/k{i}"), b("v")).await })
        })
        .collect();
    tokio::task::yield_now().await;
    s.close().await;
    let mut acked = Vec::new();
    for (i, w) in writers.into_iter().enumerate() {
        match w.await.unwrap() {
            Ok(_) => acked.push(i),
            Err(StoreError::Closed) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    let s = open(&dir).await;
    for i in acked {
        assert!(s.get(&format!("/k{i}")).await.unwrap().is_some(), "acknowledged /k{i} lost");
    }
    s.close().await;
}

#[tokio::test]
async fn corrupt_database_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    std::fs::write(&path, vec![0x5a; 64 * 1024]).unwrap();
    match SqliteStore::open(&path, SqliteOptions::default()).await {
        Err(StoreError::Database { path: p, message }) => {
            assert_eq!(p, path.display().to_string());
            assert!(!message.is_empty());
            let shown = StoreError::Database { path: p, message }.to_string();
            assert!(shown.contains("state.db"), "{shown}");
        }
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("corrupt file opened"),
    }
}

#[tokio::test]
async fn unreadable_path_is_a_database_error() {
    let dir = tempfile::tempdir().unwrap();
    // A directory where the file should be.
    let path = dir.path().join("state.db");
    std::fs::create_dir(&path).unwrap();
    assert!(matches!(
        SqliteStore::open(&path, SqliteOptions::default()).await,
        Err(StoreError::Database { path: p, .. }) if p.ends_with("state.db")
    ));
}

#[tokio::test]
async fn missing_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("server/db/state.db");
    let s = SqliteStore::open(&path, SqliteOptions::default()).await.unwrap();
    s.create("/a", b("1")).await.unwrap();
    s.close().await;
    assert!(path.exists());
}
