//! SQLite backend: a kine-style revision log in one embedded database file.
//!
//! - one writer thread owns the writable connection and commits concurrent writes
//!   together (group commit); a write is acknowledged only after its commit was
//!   fsync'ed (WAL, `synchronous = FULL`);
//! - the newest value of every live key is held in memory (compressed, [`packed`]), so `get`, `count` and
//!   `list` at the newest revision never touch SQLite; reads at older revisions use a
//!   separate read-only connection;
//! - committed events go to the [`Hub`](crate::hub) right after the commit;
//! - a background task compacts the log so it cannot outgrow the live data.

mod compactor;
mod packed;
mod schema;
mod writer;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot, Notify};

use crate::hub::{EventReceiver, Hub, HubOptions, Subscription};
use crate::{Event, KeyValue, ListOptions, ListResult, Revision, Store, StoreError, Watch};
use compactor::Retention;
use packed::Packed;
use writer::{Op, Request, Writer};

/// Tuning of a [`SqliteStore`]. The defaults suit a production server.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// History younger than this is never compacted and stays in the watch history
    /// ring (memory permitting), so watches can resume within this window.
    pub retention: Duration,
    /// The newest this-many revisions are never compacted either.
    pub keep_revisions: i64,
    /// Events the in-memory history keeps at least (memory permitting).
    pub history_min_events: usize,
    /// Upper bound of the in-memory history, in key and value bytes.
    pub history_max_bytes: usize,
    /// Events a watcher may have queued before it is ended as too slow.
    pub watcher_buffer: usize,
    /// Automatic compaction runs at least this often...
    pub compact_interval: Duration,
    /// ...and after this many writes (0: only on the timer).
    pub compact_every_writes: u64,
    /// Revisions compacted per writer transaction.
    pub compact_batch: i64,
    /// `PRAGMA journal_size_limit`: the WAL is truncated to this size after checkpoints.
    pub journal_size_limit: u64,
    /// Whether the background compaction task runs at all.
    pub auto_compact: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        let hub = HubOptions::default();
        Self {
            retention: hub.history_min_age,
            keep_revisions: 1000,
            history_min_events: hub.history_min_events,
            history_max_bytes: hub.history_max_bytes,
            watcher_buffer: hub.watcher_buffer,
            compact_interval: Duration::from_secs(5 * 60),
            compact_every_writes: 10_000,
            compact_batch: 1000,
            journal_size_limit: 64 << 20,
            auto_compact: true,
        }
    }
}

/// Sizes and counters of a store, for tests, benchmarks and metrics.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreStats {
    /// Size of the database file in bytes.
    pub db_bytes: u64,
    /// Size of the write-ahead log in bytes.
    pub wal_bytes: u64,
    /// Rows in the log table (live values plus uncompacted history).
    pub rows: u64,
    /// Live keys.
    pub keys: u64,
    pub revision: Revision,
    pub compacted_revision: Revision,
    /// Committed write transactions (each one fsync).
    pub transactions: u64,
    /// Committed writes.
    pub writes: u64,
    pub watchers: usize,
    /// Watches after this revision replay from memory; older ones read the log.
    pub history_start: Revision,
}

/// The state served from memory.
struct State {
    index: BTreeMap<String, Packed>,
    /// Revision the index reflects.
    current: Revision,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    writes: AtomicU64,
}

/// What the store, the writer thread and the compactor share.
struct Shared {
    path: String,
    state: RwLock<State>,
    current: AtomicI64,
    compacted: AtomicI64,
    closed: AtomicBool,
    hub: Hub,
    requests: std_mpsc::Sender<Request>,
    compact_wakeup: Arc<Notify>,
    retention: Retention,
    stats: Counters,
    reader: Mutex<Connection>,
}

impl Shared {
    // Lock poisoning would need a panic inside a few lines of map updates; the data
    // stays consistent per entry, so serving on is better than failing every call.
    fn read_state(&self) -> RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn send(&self, request: Request) -> Result<(), StoreError> {
        if self.is_closed() {
            return Err(StoreError::Closed);
        }
        self.requests.send(request).map_err(|_| StoreError::Closed)
    }

    fn db_err(&self, e: impl std::fmt::Display) -> StoreError {
        schema::db_err(&self.path, e)
    }
}

/// Runs `f` with the read connection on the blocking pool.
async fn with_reader<T: Send + 'static>(
    shared: &Arc<Shared>,
    f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let shared = Arc::clone(shared);
    tokio::task::spawn_blocking(move || {
        let mut conn = shared.reader.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
    })
    .await
    .map_err(|e| StoreError::Database { path: String::new(), message: format!("read task failed: {e}") })?
}

/// The SQLite implementation of [`Store`].
pub struct SqliteStore {
    shared: Arc<Shared>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    compactor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

struct Loaded {
    writer: Connection,
    reader: Connection,
    index: BTreeMap<String, Packed>,
    current: Revision,
    compacted: Revision,
    compact_done: Revision,
}

fn load(path: &Path, opts: &SqliteOptions) -> rusqlite::Result<Loaded> {
    let writer = schema::open_writer(path, opts.journal_size_limit)?;
    let reader = schema::open_reader(path)?;
    let current = schema::current_revision(&writer)?;
    let index = schema::load_index(&writer, current)?;
    let compacted = schema::meta_get(&writer, schema::META_COMPACT_REV)?;
    let compact_done = schema::meta_get(&writer, schema::META_COMPACT_DONE)?;
    Ok(Loaded { writer, reader, index, current, compacted, compact_done })
}

impl SqliteStore {
    /// Opens (or creates) the database file at `path` and starts the writer thread and,
    /// if enabled, the compaction task. Must be called inside a tokio runtime.
    ///
    /// An unreadable or corrupt file fails with [`StoreError::Database`] naming it.
    pub async fn open(path: &Path, options: SqliteOptions) -> Result<Arc<Self>, StoreError> {
        let display = path.display().to_string();
        let path: PathBuf = path.to_path_buf();
        let opts = options.clone();
        let err_path = display.clone();
        let loaded = tokio::task::spawn_blocking(move || {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| schema::db_err(&err_path, e))?;
            }
            load(&path, &opts).map_err(|e| schema::db_err(&err_path, e))
        })
        .await
        .map_err(|e| schema::db_err(&display, e))??;

        let (requests, rx) = std_mpsc::channel();
        let hub = Hub::new(
            loaded.current,
            HubOptions {
                history_min_age: options.retention,
                history_min_events: options.history_min_events,
                history_max_bytes: options.history_max_bytes,
                watcher_buffer: options.watcher_buffer,
            },
        );
        let shared = Arc::new(Shared {
            path: display,
            state: RwLock::new(State { index: loaded.index, current: loaded.current }),
            current: AtomicI64::new(loaded.current),
            compacted: AtomicI64::new(loaded.compacted),
            closed: AtomicBool::new(false),
            hub,
            requests,
            compact_wakeup: Arc::new(Notify::new()),
            retention: Retention::new(options.retention),
            stats: Counters::default(),
            reader: Mutex::new(loaded.reader),
        });
        let writer = Writer::new(
            loaded.writer,
            Arc::clone(&shared),
            loaded.current,
            loaded.compact_done,
            options.compact_batch,
            if options.auto_compact { options.compact_every_writes } else { 0 },
        );
        let writer = std::thread::Builder::new()
            .name("kolibri-store-writer".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| shared.db_err(format!("cannot start writer thread: {e}")))?;
        let compactor = options.auto_compact.then(|| {
            tokio::spawn(compactor::run(
                Arc::downgrade(&shared),
                options.compact_interval,
                options.keep_revisions.max(0),
            ))
        });
        Ok(Arc::new(Self { shared, writer: Mutex::new(Some(writer)), compactor: Mutex::new(compactor) }))
    }

    /// Sizes and counters (reads the file sizes and counts the log rows).
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.check_open()?;
        let rows = with_reader(&self.shared, |conn| schema::row_count(conn).map_err(read_err))
            .await
            .map_err(|e| self.fix_path(e))?;
        let size = |p: String| std::fs::metadata(p).map_or(0, |m| m.len());
        let s = &self.shared;
        Ok(StoreStats {
            db_bytes: size(s.path.clone()),
            wal_bytes: size(format!("{}-wal", s.path)),
            rows,
            keys: s.read_state().index.len() as u64,
            revision: s.current.load(Ordering::Acquire),
            compacted_revision: s.compacted.load(Ordering::Acquire),
            transactions: s.stats.transactions.load(Ordering::Relaxed),
            writes: s.stats.writes.load(Ordering::Relaxed),
            watchers: s.hub.watcher_count(),
            history_start: s.hub.history_floor(),
        })
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.shared.is_closed() {
            Err(StoreError::Closed)
        } else {
            Ok(())
        }
    }

    async fn write(&self, op: Op) -> Result<KeyValue, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.shared.send(Request::Write { op, reply })?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    fn list_memory(&self, prefix: &str, opts: &ListOptions) -> ListResult {
        let state = self.shared.read_state();
        let range = match opts.start_after.as_deref() {
            Some(s) if s >= prefix => state.index.range::<str, _>((Bound::Excluded(s), Bound::Unbounded)),
            _ => state.index.range::<str, _>((Bound::Included(prefix), Bound::Unbounded)),
        };
        let mut keys = range.take_while(|(k, _)| k.starts_with(prefix));
        let limit = opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let items: Vec<KeyValue> = keys.by_ref().take(limit).map(|(k, packed)| packed.unpack(k)).collect();
        let remaining = keys.count() as u64;
        ListResult { items, revision: state.current, more: remaining > 0, remaining: Some(remaining) }
    }

    async fn list_at(&self, prefix: &str, opts: &ListOptions, revision: Revision) -> Result<ListResult, StoreError> {
        let (prefix_owned, start_after) = (prefix.to_owned(), opts.start_after.clone());
        let mut items = with_reader(&self.shared, move |conn| {
            let tx = conn.transaction().map_err(read_err)?;
            // Checked inside the read snapshot: compaction raises the bound before it
            // deletes, so a passing check guarantees the rows we read are complete.
            check_compacted(&tx, revision)?;
            schema::list_at(&tx, &prefix_owned, start_after.as_deref(), revision).map_err(read_err)
        })
        .await?;
        let limit = opts.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let remaining = items.len().saturating_sub(limit) as u64;
        items.truncate(limit);
        Ok(ListResult { items, revision, more: remaining > 0, remaining: Some(remaining) })
    }

    /// Completes a watch whose start lies before the in-memory history.
    async fn watch_from_log(
        &self,
        prefix: &str,
        after: Revision,
        floor: Revision,
        history: Vec<Arc<Event>>,
        mut live: EventReceiver,
    ) -> Result<Watch, StoreError> {
        let prefix_owned = prefix.to_owned();
        let replay = with_reader(&self.shared, move |conn| {
            let tx = conn.transaction().map_err(read_err)?;
            check_compacted(&tx, after)?;
            schema::events_between(&tx, &prefix_owned, after, floor).map_err(read_err)
        })
        .await?;
        let (tx, rx) = mpsc::channel(self.shared.hub.watcher_capacity());
        tokio::spawn(async move {
            let mut last = after;
            let replayed = replay.into_iter().map(Arc::new).chain(history);
            for event in replayed {
                last = event.kv.mod_revision;
                if tx.send(Ok(event)).await.is_err() {
                    return;
                }
            }
            while let Some(item) = live.recv().await {
                let ended = item.is_err();
                // The hub already starts live events after the history; this guard
                // only makes "no duplicates" independent of that.
                if let Ok(event) = &item {
                    if event.kv.mod_revision <= last {
                        continue;
                    }
                    last = event.kv.mod_revision;
                }
                if tx.send(item).await.is_err() || ended {
                    return;
                }
            }
        });
        Ok(Watch::new(rx))
    }
}

/// Errors of the read connection; [`SqliteStore::fix_path`] adds the file name.
fn read_err(e: rusqlite::Error) -> StoreError {
    StoreError::Database { path: String::new(), message: e.to_string() }
}

fn check_compacted(conn: &Connection, revision: Revision) -> Result<(), StoreError> {
    let compacted = schema::meta_get(conn, schema::META_COMPACT_REV).map_err(read_err)?;
    if revision < compacted {
        return Err(StoreError::Compacted { requested: revision, compacted });
    }
    Ok(())
}

#[async_trait]
impl Store for SqliteStore {
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError> {
        self.write(Op::Create { key: key.to_owned(), value }).await
    }

    async fn update(&self, key: &str, value: Bytes, expected: Revision) -> Result<KeyValue, StoreError> {
        self.write(Op::Update { key: key.to_owned(), value, expected }).await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StoreError> {
        self.write(Op::Delete { key: key.to_owned(), expected }).await
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.check_open()?;
        Ok(self.shared.read_state().index.get(key).map(|packed| packed.unpack(key)))
    }

    /// A revision of 0 (or none) reads the newest state.
    async fn list(&self, prefix: &str, opts: ListOptions) -> Result<ListResult, StoreError> {
        self.check_open()?;
        let current = self.shared.current.load(Ordering::Acquire);
        match opts.revision.filter(|r| *r > 0) {
            None => Ok(self.list_memory(prefix, &opts)),
            Some(r) if r > current => Err(StoreError::FutureRevision { requested: r, current }),
            Some(r) => {
                let compacted = self.shared.compacted.load(Ordering::Acquire);
                if r < compacted {
                    return Err(StoreError::Compacted { requested: r, compacted });
                }
                let mem = self.list_memory(prefix, &opts);
                if mem.revision == r {
                    return Ok(mem);
                }
                self.list_at(prefix, &opts, r).await.map_err(|e| self.fix_path(e))
            }
        }
    }

    async fn count(&self, prefix: &str) -> Result<u64, StoreError> {
        self.check_open()?;
        let state = self.shared.read_state();
        let n = state
            .index
            .range::<str, _>((Bound::Included(prefix), Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .count();
        Ok(n as u64)
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<Watch, StoreError> {
        self.check_open()?;
        let compacted = self.shared.compacted.load(Ordering::Acquire);
        if after < compacted {
            return Err(StoreError::Compacted { requested: after, compacted });
        }
        match self.shared.hub.subscribe(prefix, after)? {
            Subscription::Ready(watch) => Ok(watch),
            Subscription::NeedsLog { floor, history, live } => {
                self.watch_from_log(prefix, after, floor, history, live).await.map_err(|e| self.fix_path(e))
            }
        }
    }

    fn current_revision(&self) -> Revision {
        self.shared.current.load(Ordering::Acquire)
    }

    fn compacted_revision(&self) -> Revision {
        self.shared.compacted.load(Ordering::Acquire)
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.check_open()?;
        let current = self.current_revision();
        if revision > current {
            return Err(StoreError::FutureRevision { requested: revision, current });
        }
        compactor::compact_to(&self.shared, revision).await
    }

    async fn close(&self) {
        let compactor = self.compactor.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(task) = compactor {
            task.abort();
        }
        if self.shared.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        // Everything queued before this is still committed and answered.
        let _ = self.shared.requests.send(Request::Shutdown);
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(thread) = writer {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        self.shared.hub.close();
    }
}

impl SqliteStore {
    /// Read-connection errors carry no path; name the database file.
    fn fix_path(&self, e: StoreError) -> StoreError {
        match e {
            StoreError::Database { path, message } if path.is_empty() => self.shared.db_err(message),
            other => other,
        }
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        // Without an explicit close, still stop the writer: it holds the last sender
        // otherwise and would wait forever.
        if !self.shared.closed.swap(true, Ordering::AcqRel) {
            let _ = self.shared.requests.send(Request::Shutdown);
            self.shared.hub.close();
        }
        if let Some(task) = self.compactor.lock().unwrap_or_else(|e| e.into_inner()).take() {
            task.abort();
        }
    }
}
