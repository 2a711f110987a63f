//! Benchmark of the SQLite store: durable write throughput, read latencies and watch
//! fan-out. Run with `cargo run -p kolibri-store --release --example store_bench`.
//! Set `STORE_BENCH_DIR` to put the database on a specific disk.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kolibri_store::{ListOptions, SqliteOptions, SqliteStore, Store};

const WRITERS: usize = 32;
const WRITES_PER_WRITER: usize = 500;
const FANOUT_WATCHERS: usize = 100;
const FANOUT_EVENTS: usize = 500;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{name:<34} p50 {:>9.1?}  p99 {:>9.1?}  max {:>9.1?}  (n={})",
        pct(&samples, 0.50),
        pct(&samples, 0.99),
        samples[samples.len() - 1],
        samples.len()
    );
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let base = std::env::var_os("STORE_BENCH_DIR").map_or_else(std::env::temp_dir, Into::into);
    let dir = tempfile::tempdir_in(base)?;
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path, SqliteOptions::default()).await?;
    println!("database: {}", path.display());

    // 1. Durable creates, 32 concurrent writers, 1 KiB values.
    let value = Bytes::from(vec![b'x'; 1024]);
    let start = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (s, value) = (Arc::clone(&store), value.clone());
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(WRITES_PER_WRITER);
                for i in 0..WRITES_PER_WRITER {
                    let t = Instant::now();
                    s.create(&format!("/bench/w{w:02}/k{i:05}"), value.clone()).await?;
                    lat.push(t.elapsed());
                }
                Ok::<_, kolibri_store::StoreError>(lat)
            })
        })
        .collect();
    let mut create_lat = Vec::new();
    for t in tasks {
        create_lat.extend(t.await??);
    }
    let elapsed = start.elapsed();
    let stats = store.stats().await?;
    let writes = WRITERS * WRITES_PER_WRITER;
    println!(
        "durable creates ({WRITERS} writers, 1 KiB): {:.0}/s ({writes} in {elapsed:.2?}, {} transactions, {:.1} writes/commit)",
        writes as f64 / elapsed.as_secs_f64(),
        stats.transactions,
        stats.writes as f64 / stats.transactions.max(1) as f64
    );
    report("create latency (32 writers)", create_lat);

    // 2. Get latency (served from memory).
    let mut get_lat = Vec::with_capacity(100_000);
    for i in 0..100_000usize {
        let key = format!("/bench/w{:02}/k{:05}", i % WRITERS, (i * 7919) % WRITES_PER_WRITER);
        let t = Instant::now();
        let kv = store.get(&key).await?;
        get_lat.push(t.elapsed());
        assert!(kv.is_some());
    }
    report("get", get_lat);

    // 3. List of 1000 keys (newest revision, from memory) and at an older revision (SQLite).
    for i in 0..1000 {
        store.create(&format!("/list/k{i:04}"), value.clone()).await?;
    }
    let old_rev = store.current_revision();
    store.create("/list/zzz", value.clone()).await?;
    let mut list_lat = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        let r = store.list("/list/", ListOptions { limit: Some(1000), ..Default::default() }).await?;
        list_lat.push(t.elapsed());
        assert_eq!(r.items.len(), 1000);
    }
    report("list 1000 keys (newest)", list_lat);
    let mut old_lat = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let r = store.list("/list/", ListOptions { revision: Some(old_rev), ..Default::default() }).await?;
        old_lat.push(t.elapsed());
        assert_eq!(r.items.len(), 1000);
    }
    report("list 1000 keys (old revision)", old_lat);

    // 4. Watch fan-out: one write, 100 watchers. Latency = from the create call to the
    // moment each watcher holds the event (so it includes the fsync'ed commit); the
    // commit alone is the create latency reported next to it.
    let epoch = Instant::now();
    let first = store.current_revision();
    let mut watchers = Vec::new();
    for _ in 0..FANOUT_WATCHERS {
        let mut w = store.watch("/fan/", first).await?;
        watchers.push(tokio::spawn(async move {
            let mut seen = Vec::with_capacity(FANOUT_EVENTS);
            while seen.len() < FANOUT_EVENTS {
                match w.next().await {
                    Some(Ok(e)) => seen.push((e.kv.mod_revision, epoch.elapsed())),
                    _ => break,
                }
            }
            seen
        }));
    }
    let mut sent = std::collections::HashMap::new();
    let mut commit_lat = Vec::new();
    for i in 0..FANOUT_EVENTS {
        let t = epoch.elapsed();
        let kv = store.create(&format!("/fan/k{i}"), value.clone()).await?;
        commit_lat.push(epoch.elapsed() - t);
        sent.insert(kv.mod_revision, t);
    }
    let mut fan_lat = Vec::new();
    let mut last_lat: std::collections::HashMap<i64, Duration> = Default::default();
    for w in watchers {
        for (rev, at) in w.await? {
            let d = at.saturating_sub(sent[&rev]);
            fan_lat.push(d);
            let e = last_lat.entry(rev).or_default();
            *e = (*e).max(d);
        }
    }
    report("create -> commit ack (sequential)", commit_lat);
    report("create -> each of 100 watchers", fan_lat);
    report("create -> last of 100 watchers", last_lat.into_values().collect());

    let stats = store.stats().await?;
    println!(
        "db {:.1} MiB, wal {:.1} MiB, {} rows, {} keys",
        stats.db_bytes as f64 / 1048576.0,
        stats.wal_bytes as f64 / 1048576.0,
        stats.rows,
        stats.keys
    );
    store.close().await;

    // 5. Open time with the keys written above.
    let t = Instant::now();
    let store = SqliteStore::open(&path, SqliteOptions::default()).await?;
    println!("reopen with {} keys: {:.1?}", store.count("").await?, t.elapsed());
    store.close().await;
    Ok(())
}
