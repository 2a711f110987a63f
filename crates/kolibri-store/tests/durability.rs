//! Durability: every acknowledged write is fsync'ed and survives `kill -9`.
//!
//! The writing side runs in a child process: this test binary re-executed with
//! `KOLIBRI_STORE_CHILD_DB` set, running only `child_process_entry`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;

use bytes::Bytes;
use kolibri_store::{SqliteOptions, SqliteStore, Store};

const ENV_DB: &str = "KOLIBRI_STORE_CHILD_DB";
const ENV_WRITES: &str = "KOLIBRI_STORE_CHILD_WRITES";
const ENV_TASKS: &str = "KOLIBRI_STORE_CHILD_TASKS";

/// Prints one acknowledged write; flushed so the parent sees it before a kill.
fn ack(key: &str, rev: i64) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "ACK {key} {rev}");
    let _ = out.flush();
}

/// Entry point of the child process; does nothing in a normal test run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_process_entry() {
    let Ok(db) = std::env::var(ENV_DB) else {
        return;
    };
    let writes: usize = std::env::var(ENV_WRITES).map_or(usize::MAX, |w| w.parse().unwrap());
    let tasks: usize = std::env::var(ENV_TASKS).map_or(1, |t| t.parse().unwrap());
    let s = SqliteStore::open(Path::new(&db), SqliteOptions::default()).await.unwrap();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let s = Arc::clone(&s);
            tokio::spawn(async move {
                for i in 0..writes / tasks {
                    let key = format!("/k/{t}/{i}");
                    let kv = s.create(&key, Bytes::from(format!("value-{t}-{i}"))).await.unwrap();
                    ack(&key, kv.mod_revision);
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    s.close().await;
}

fn child(db: &Path, writes: Option<usize>, tasks: usize) -> Command {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child_process_entry", "--nocapture", "--test-threads=1"])
        .env(ENV_DB, db)
        .env(ENV_TASKS, tasks.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(w) = writes {
        cmd.env(ENV_WRITES, w.to_string());
    }
    cmd
}

fn acks(stdout: &str) -> Vec<(String, i64)> {
    stdout
        .lines()
        // The harness may print "test child_process_entry ... " on the same line.
        .filter_map(|l| l.find("ACK ").map(|i| &l[i + 4..]))
        .map(|l| {
            let (key, rev) = l.split_once(' ').unwrap();
            (key.to_owned(), rev.parse().unwrap())
        })
        .collect()
}

#[test]
fn every_acknowledged_sequential_write_is_fsynced() {
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("SKIPPED: strace is not installed (apt-get install -y strace)");
        return;
    }
    const WRITES: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let trace = dir.path().join("strace.out");
    let inner = child(&db, Some(WRITES), 1);
    let mut cmd = Command::new("strace");
    cmd.args(["-f", "-e", "trace=fsync,fdatasync", "-o"]).arg(&trace).arg(inner.get_program());
    cmd.args(inner.get_args());
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd.stdout(Stdio::piped()).output().unwrap();
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    let acked = acks(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(acked.len(), WRITES);

    let trace = std::fs::read_to_string(&trace).unwrap();
    let syncs = trace.lines().filter(|l| l.contains("fsync(") || l.contains("fdatasync(")).count();
    println!("{} acknowledged sequential writes, {syncs} fsync/fdatasync calls", acked.len());
    assert!(syncs >= WRITES, "only {syncs} sync calls for {WRITES} acknowledged writes");
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("state.db");
    let mut proc = child(&db, None, 8).spawn().unwrap();
    let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
    let mut acked = Vec::new();
    while acked.len() < 400 {
        let line = lines.next().expect("child ended early").unwrap();
        acked.extend(acks(&line));
    }
    proc.kill().unwrap(); // SIGKILL
                          // Acknowledgements already printed before the kill count too.
    for line in lines {
        acked.extend(acks(&line.unwrap()));
    }
    proc.wait().unwrap();

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s = SqliteStore::open(&db, SqliteOptions::default()).await.unwrap();
        for (key, rev) in &acked {
            let kv = s.get(key).await.unwrap().unwrap_or_else(|| panic!("acknowledged {key} lost"));
            assert_eq!(kv.mod_revision, *rev);
            let (_, rest) = key.split_once("/k/").unwrap();
            let (t, i) = rest.split_once('/').unwrap();
            assert_eq!(kv.value, Bytes::from(format!("value-{t}-{i}")));
        }
        println!("{} acknowledged writes, {} keys after kill -9", acked.len(), s.count("/k/").await.unwrap());
        assert!(s.count("/k/").await.unwrap() >= acked.len() as u64);
        s.close().await;
    });
}
