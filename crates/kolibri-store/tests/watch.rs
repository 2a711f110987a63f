//! Watches: live fan-out, replay from memory and from the log, ordering guarantees.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kolibri_store::{Event, EventType, SqliteOptions, SqliteStore, Store, StoreError, Watch};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

async fn open_with(dir: &tempfile::TempDir, opts: SqliteOptions) -> Arc<SqliteStore> {
    SqliteStore::open(&dir.path().join("state.db"), opts).await.unwrap()
}

async fn open(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    open_with(dir, SqliteOptions { auto_compact: false, ..Default::default() }).await
}

/// A store whose in-memory history only holds the last few events.
fn tiny_history() -> SqliteOptions {
    SqliteOptions { auto_compact: false, retention: Duration::ZERO, history_min_events: 5, ..Default::default() }
}

async fn next(w: &mut Watch) -> Arc<Event> {
    match tokio::time::timeout(Duration::from_secs(5), w.next()).await {
        Ok(Some(Ok(e))) => e,
        other => panic!("expected an event, got {:?}", other.map(|o| o.map(|r| r.map(|e| e.kv.mod_revision)))),
    }
}

async fn assert_idle(w: &mut Watch) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(100), w.next()).await {
        panic!("unexpected item {:?}", item.map(|r| r.map(|e| e.kv.mod_revision)));
    }
}

#[tokio::test]
async fn live_events_with_prefix_filter_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    let mut w = s.watch("/pods/", s.current_revision()).await.unwrap();
    s.create("/pods/a", b("1")).await.unwrap(); // 1
    s.create("/services/a", b("x")).await.unwrap(); // 2
    s.create("/podsx", b("x")).await.unwrap(); // 3
    s.update("/pods/a", b("2"), 1).await.unwrap(); // 4
    s.delete("/pods/a", None).await.unwrap(); // 5

    let e = next(&mut w).await;
    assert_eq!((e.event_type, e.kv.key.as_str(), e.kv.mod_revision), (EventType::Created, "/pods/a", 1));
    assert_eq!(e.prev_value, None);
    let e = next(&mut w).await;
    assert_eq!(
        (e.event_type, e.kv.value.clone(), e.kv.mod_revision, e.kv.create_revision),
        (EventType::Updated, b("2"), 4, 1)
    );
    assert_eq!(e.prev_value, Some(b("1")));
    let e = next(&mut w).await;
    assert_eq!(e.event_type, EventType::Deleted);
    assert_eq!((e.kv.value.clone(), e.kv.mod_revision, e.kv.create_revision), (b("2"), 5, 1));
    assert_eq!(e.prev_value, Some(b("2")));
    assert_idle(&mut w).await;
    s.close().await;
}

/// Checks one replayed sequence of a key written as create, update, delete.
async fn assert_life_of_a(w: &mut Watch, revs: [i64; 3]) {
    let e = next(w).await;
    assert_eq!((e.event_type, e.kv.mod_revision, e.prev_value.clone()), (EventType::Created, revs[0], None));
    let e = next(w).await;
    assert_eq!((e.event_type, e.kv.mod_revision, e.prev_value.clone()), (EventType::Updated, revs[1], Some(b("1"))));
    assert_eq!(e.kv.value, b("2"));
    let e = next(w).await;
    assert_eq!((e.event_type, e.kv.mod_revision, e.prev_value.clone()), (EventType::Deleted, revs[2], Some(b("2"))));
    assert_eq!((e.kv.value.clone(), e.kv.create_revision), (b("2"), revs[0]));
}

#[tokio::test]
async fn replay_from_memory_history() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    s.create("/other", b("x")).await.unwrap(); // 1
    s.create("/a", b("1")).await.unwrap(); // 2
    s.update("/a", b("2"), 2).await.unwrap(); // 3
    s.delete("/a", None).await.unwrap(); // 4
    assert_eq!(s.stats().await.unwrap().history_start, 0);

    let mut w = s.watch("/a", 1).await.unwrap();
    assert_life_of_a(&mut w, [2, 3, 4]).await;
    let mut from3 = s.watch("/a", 3).await.unwrap();
    assert_eq!(next(&mut from3).await.kv.mod_revision, 4);
    s.create("/a", b("3")).await.unwrap(); // 5, live after replay
    assert_eq!(next(&mut w).await.kv.mod_revision, 5);
    assert_eq!(next(&mut from3).await.kv.mod_revision, 5);
    assert_idle(&mut w).await;
    s.close().await;
}

#[tokio::test]
async fn replay_from_sqlite_after_history_eviction() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_with(&dir, tiny_history()).await;
    s.create("/a", b("1")).await.unwrap(); // 1
    s.update("/a", b("2"), 1).await.unwrap(); // 2
    s.delete("/a", None).await.unwrap(); // 3
    for i in 0..20 {
        s.create(&format!("/b/{i}"), b("v")).await.unwrap(); // 4..=23
    }
    let stats = s.stats().await.unwrap();
    assert!(stats.history_start >= 10, "history was not evicted: {stats:?}");

    let mut w = s.watch("/a", 0).await.unwrap();
    assert_life_of_a(&mut w, [1, 2, 3]).await;
    assert_idle(&mut w).await;

    // Spanning log and memory, with live events after.
    let mut all = s.watch("", 2).await.unwrap();
    for rev in 3..=23 {
        assert_eq!(next(&mut all).await.kv.mod_revision, rev);
    }
    s.create("/a", b("new")).await.unwrap();
    assert_eq!(next(&mut all).await.kv.mod_revision, 24);
    assert_idle(&mut all).await;

    // Also across a restart (empty memory history, everything from the log).
    s.close().await;
    let s = open(&dir).await;
    let mut w = s.watch("/a", 0).await.unwrap();
    assert_life_of_a(&mut w, [1, 2, 3]).await;
    assert_eq!(next(&mut w).await.kv.mod_revision, 24);
    s.close().await;
}

/// Many writers, watchers started at arbitrary moments from arbitrary revisions:
/// each must see every revision after its start exactly once, in order.
async fn no_gaps_no_duplicates(opts: SqliteOptions) {
    let dir = tempfile::tempdir().unwrap();
    let s = open_with(&dir, opts).await;
    const WRITERS: usize = 8;
    const PER_WRITER: usize = 150;
    let total = (WRITERS * PER_WRITER) as i64;

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    let key = format!("/k/{w}");
                    if i == 0 {
                        s.create(&key, b("0")).await.unwrap();
                    } else {
                        let cur = s.get(&key).await.unwrap().unwrap();
                        s.update(&key, Bytes::from(i.to_string()), cur.mod_revision).await.unwrap();
                    }
                }
            })
        })
        .collect();

    // Each watcher is consumed by its own task, like an API server's watch handler.
    let mut watchers = Vec::new();
    for i in 0..20 {
        tokio::time::sleep(Duration::from_millis(3)).await;
        let current = s.current_revision();
        let after = (current - (i * 37) % 200).max(0);
        let mut w = s.watch("/k/", after).await.unwrap();
        watchers.push(tokio::spawn(async move {
            let mut expected = after + 1;
            while expected <= total {
                let e = next(&mut w).await;
                assert_eq!(e.kv.mod_revision, expected, "watch after {after}");
                // The previous value of an update is the value written just before it.
                if e.event_type == EventType::Updated {
                    let n: usize = std::str::from_utf8(&e.kv.value).unwrap().parse().unwrap();
                    assert_eq!(e.prev_value.as_deref(), Some((n - 1).to_string().as_bytes()));
                }
                expected += 1;
            }
            assert_idle(&mut w).await;
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    assert_eq!(s.current_revision(), total);
    for w in watchers {
        w.await.unwrap();
    }
    s.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_no_gaps_no_duplicates_from_memory() {
    no_gaps_no_duplicates(SqliteOptions { auto_compact: false, ..Default::default() }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_no_gaps_no_duplicates_from_log() {
    no_gaps_no_duplicates(SqliteOptions { history_min_events: 20, ..tiny_history() }).await;
}

#[tokio::test]
async fn slow_watcher_is_ended_with_error() {
    let dir = tempfile::tempdir().unwrap();
    let s = open_with(&dir, SqliteOptions { watcher_buffer: 8, auto_compact: false, ..Default::default() }).await;
    let mut slow = s.watch("", 0).await.unwrap();
    let mut fast = s.watch("", 0).await.unwrap();
    let reader = tokio::spawn(async move {
        let mut n = 0;
        while let Some(item) = fast.next().await {
            item.unwrap();
            n += 1;
            if n == 50 {
                return n;
            }
        }
        n
    });
    for i in 0..50 {
        s.create(&format!("/k{i}"), b("v")).await.unwrap();
        tokio::task::yield_now().await;
    }
    assert_eq!(reader.await.unwrap(), 50);
    let mut got = 0;
    loop {
        match slow.next().await {
            Some(Ok(_)) => got += 1,
            Some(Err(StoreError::WatcherTooSlow)) => break,
            other => panic!("expected WatcherTooSlow, got {:?}", other.map(|r| r.map(|e| e.kv.mod_revision))),
        }
    }
    assert_eq!(got, 8);
    assert!(slow.next().await.is_none());
    s.close().await;
}

#[tokio::test]
async fn watches_end_on_close_and_dropped_watchers_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    let mut w = s.watch("", 0).await.unwrap();
    let dropped = s.watch("", 0).await.unwrap();
    drop(dropped);
    s.create("/a", b("1")).await.unwrap();
    assert_eq!(s.stats().await.unwrap().watchers, 1);
    assert_eq!(next(&mut w).await.kv.mod_revision, 1);
    s.close().await;
    assert!(tokio::time::timeout(Duration::from_secs(5), w.next()).await.unwrap().is_none());
}

#[tokio::test]
async fn watch_from_future_revision_starts_there() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(&dir).await;
    let mut w = s.watch("", 2).await.unwrap();
    for i in 0..3 {
        s.create(&format!("/k{i}"), b("v")).await.unwrap();
    }
    assert_eq!(next(&mut w).await.kv.mod_revision, 3);
    assert_idle(&mut w).await;
    s.close().await;
}
