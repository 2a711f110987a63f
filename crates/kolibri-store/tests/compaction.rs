//! Compaction keeps the database bounded and removes old history.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kolibri_store::{ListOptions, SqliteOptions, SqliteStore, Store, StoreError};

async fn churn(s: &Arc<SqliteStore>, keys: usize, rounds: usize, value: &Bytes, every: usize, explicit: bool) {
    let mut revs = vec![0; keys];
    for (k, rev) in revs.iter_mut().enumerate() {
        *rev = s.create(&format!("/churn/{k}"), value.clone()).await.unwrap().mod_revision;
    }
    for round in 0..rounds {
        // 100 concurrent updates per round, as an API server under load would issue.
        let updates: Vec<_> = revs
            .iter()
            .enumerate()
            .map(|(k, rev)| {
                let (s, value, rev) = (Arc::clone(s), value.clone(), *rev);
                tokio::spawn(async move { s.update(&format!("/churn/{k}"), value, rev).await.unwrap().mod_revision })
            })
            .collect();
        for (k, u) in updates.into_iter().enumerate() {
            revs[k] = u.await.unwrap();
        }
        if explicit && (round + 1) % every == 0 {
            s.compact(s.current_revision() - 500).await.unwrap();
        }
    }
}

/// Continues a churn on keys created by [`churn`].
async fn churn_more(s: &Arc<SqliteStore>, keys: usize, rounds: usize, value: &Bytes, every: usize) {
    for round in 0..rounds {
        let updates: Vec<_> = (0..keys)
            .map(|k| {
                let (s, value) = (Arc::clone(s), value.clone());
                tokio::spawn(async move {
                    let key = format!("/churn/{k}");
                    let rev = s.get(&key).await.unwrap().unwrap().mod_revision;
                    s.update(&key, value, rev).await.unwrap();
                })
            })
            .collect();
        for u in updates {
            u.await.unwrap();
        }
        if (round + 1) % every == 0 {
            s.compact(s.current_revision() - 500).await.unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn churn_with_explicit_compaction_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions { auto_compact: false, journal_size_limit: 4 << 20, ..Default::default() };
    let s = SqliteStore::open(&dir.path().join("state.db"), opts).await.unwrap();
    let value = Bytes::from(vec![7u8; 512]);
    // 100 keys updated 100 times each (10,000 updates), twice. Were the size not
    // bounded, the second half would grow the files as much as the first.
    churn(&s, 100, 100, &value, 20, true).await;
    s.compact(s.current_revision() - 500).await.unwrap();
    let half = s.stats().await.unwrap();
    churn_more(&s, 100, 100, &value, 20).await;
    s.compact(s.current_revision() - 500).await.unwrap();
    let stats = s.stats().await.unwrap();
    println!("after 10k updates: {half:?}\nafter 20k updates: {stats:?}");
    assert_eq!(stats.revision, 20_100);
    assert_eq!(stats.keys, 100);
    // Live rows plus at most the 500 kept revisions.
    assert!(stats.rows <= 100 + 500, "rows not compacted: {}", stats.rows);
    // 20,100 rows of ~1 KiB (value + old value) would be > 20 MB uncompacted.
    assert!(stats.db_bytes + stats.wal_bytes < 6 << 20, "db too large: {stats:?}");
    assert!(
        stats.db_bytes + stats.wal_bytes <= (half.db_bytes + half.wal_bytes) * 5 / 4,
        "db keeps growing: {half:?} -> {stats:?}"
    );

    // History before the compacted revision is gone...
    let compacted = s.compacted_revision();
    assert_eq!(compacted, 20_100 - 500);
    assert!(matches!(
        s.list("/churn/", ListOptions { revision: Some(compacted - 1), ..Default::default() }).await,
        Err(StoreError::Compacted { .. })
    ));
    assert!(matches!(s.watch("/churn/", 100).await, Err(StoreError::Compacted { .. })));
    // ...while the compacted revision and everything after it can be read.
    let at = s.list("/churn/", ListOptions { revision: Some(compacted), ..Default::default() }).await.unwrap();
    assert_eq!(at.items.len(), 100);
    let mut w = s.watch("/churn/", compacted).await.unwrap();
    assert_eq!(w.next().await.unwrap().unwrap().kv.mod_revision, compacted + 1);
    s.close().await;

    // Reopen: all live values are still there.
    let s = SqliteStore::open(&dir.path().join("state.db"), SqliteOptions::default()).await.unwrap();
    assert_eq!(s.count("/churn/").await.unwrap(), 100);
    assert_eq!(s.get("/churn/0").await.unwrap().unwrap().value, value);
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn automatic_compaction_after_n_writes() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions {
        retention: Duration::ZERO,
        keep_revisions: 200,
        compact_every_writes: 1000,
        compact_interval: Duration::from_secs(3600),
        ..Default::default()
    };
    let s = SqliteStore::open(&dir.path().join("state.db"), opts).await.unwrap();
    let value = Bytes::from(vec![1u8; 256]);
    churn(&s, 100, 50, &value, usize::MAX, false).await;
    // The compactor runs in the background; give it a moment to catch up.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let stats = s.stats().await.unwrap();
        if stats.compacted_revision >= 4000 && stats.rows <= 100 + 1000 + 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no automatic compaction: {stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    s.close().await;
}

#[tokio::test]
async fn retention_window_prevents_compaction_of_recent_history() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions {
        retention: Duration::from_secs(300),
        keep_revisions: 0,
        compact_every_writes: 10,
        ..Default::default()
    };
    let s = SqliteStore::open(&dir.path().join("state.db"), opts).await.unwrap();
    for i in 0..100 {
        s.create(&format!("/k{i}"), Bytes::from_static(b"v")).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Everything is younger than five minutes: nothing may be compacted.
    assert_eq!(s.compacted_revision(), 0);
    let mut w = s.watch("", 0).await.unwrap();
    assert_eq!(w.next().await.unwrap().unwrap().kv.mod_revision, 1);
    s.close().await;
}

#[tokio::test]
async fn compaction_removes_deleted_keys_and_allows_recreate() {
    let dir = tempfile::tempdir().unwrap();
    let opts = SqliteOptions { auto_compact: false, ..Default::default() };
    let s = SqliteStore::open(&dir.path().join("state.db"), opts).await.unwrap();
    s.create("/a", Bytes::from_static(b"1")).await.unwrap(); // 1
    s.update("/a", Bytes::from_static(b"2"), 1).await.unwrap(); // 2
    s.delete("/a", None).await.unwrap(); // 3
    s.create("/b", Bytes::from_static(b"1")).await.unwrap(); // 4
    assert!(matches!(s.compact(5).await, Err(StoreError::FutureRevision { .. })));
    s.compact(4).await.unwrap();
    assert_eq!(s.stats().await.unwrap().rows, 1);
    // Compacting to an older revision is a no-op.
    s.compact(2).await.unwrap();
    assert_eq!(s.compacted_revision(), 4);
    assert_eq!(s.create("/a", Bytes::from_static(b"3")).await.unwrap().mod_revision, 5);
    s.close().await;
}
