//! Group commit: concurrent writes share transactions, and every one is acknowledged.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use kolibri_store::{ListOptions, SqliteOptions, SqliteStore, Store};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_share_transactions() {
    const TASKS: usize = 32;
    const PER_TASK: usize = 40;
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("state.db"), SqliteOptions::default()).await.unwrap();

    let tasks: Vec<_> = (0..TASKS)
        .map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                let mut revs = Vec::new();
                for i in 0..PER_TASK {
                    let kv = s.create(&format!("/t{t}/k{i}"), Bytes::from(vec![t as u8; 64])).await.unwrap();
                    revs.push(kv.mod_revision);
                }
                revs
            })
        })
        .collect();
    let mut revs = HashSet::new();
    for t in tasks {
        for r in t.await.unwrap() {
            assert!(revs.insert(r), "revision {r} acknowledged twice");
        }
    }
    let writes = (TASKS * PER_TASK) as u64;
    assert_eq!(revs.len() as u64, writes);
    assert_eq!(s.current_revision(), writes as i64);

    let stats = s.stats().await.unwrap();
    assert_eq!(stats.writes, writes);
    assert_eq!(stats.rows, writes);
    assert!(
        stats.transactions < writes / 2,
        "group commit did not batch: {} transactions for {writes} writes",
        stats.transactions
    );
    println!("{writes} writes in {} transactions", stats.transactions);

    assert_eq!(s.list("/", ListOptions::default()).await.unwrap().items.len() as u64, writes);
    s.close().await;
}

#[tokio::test]
async fn failed_writes_in_a_batch_do_not_affect_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("state.db"), SqliteOptions::default()).await.unwrap();
    // All 20 race to create the same key: exactly one wins, the rest see AlreadyExists.
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.create("/same", Bytes::from(format!("{i}"))).await })
        })
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(kv) => {
                ok += 1;
                assert_eq!(kv.mod_revision, 1);
            }
            Err(kolibri_store::StoreError::AlreadyExists(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(s.current_revision(), 1);
    assert_eq!(s.stats().await.unwrap().rows, 1);
    s.close().await;
}
