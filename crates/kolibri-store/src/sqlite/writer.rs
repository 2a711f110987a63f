//! The single writer: a thread that owns the writable connection.
//!
//! Requests arrive over a channel. All writes waiting at that moment are applied in
//! one transaction (group commit); only after the commit has been fsync'ed are the
//! in-memory index and the watch hub updated and the callers answered. Compaction
//! runs here too, one bounded batch per request, so it interleaves with writes and
//! never needs a second writer.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension};
use tokio::sync::oneshot;

use super::packed::Packed;
use super::schema::{self, META_COMPACT_DONE, META_COMPACT_REV};
use super::Shared;
use crate::{Event, EventType, KeyValue, Revision, StoreError};

/// Upper bound of writes per transaction, so one commit cannot grow without limit.
const MAX_BATCH: usize = 4096;
/// At most one revision/time sample per this interval (used for time-based retention).
const SAMPLE_EVERY: Duration = Duration::from_secs(1);

pub(super) enum Op {
    Create { key: String, value: Bytes },
    Update { key: String, value: Bytes, expected: Revision },
    Delete { key: String, expected: Option<Revision> },
}

impl Op {
    fn key(&self) -> &str {
        match self {
            Op::Create { key, .. } | Op::Update { key, .. } | Op::Delete { key, .. } => key,
        }
    }
}

pub(super) enum Request {
    Write {
        op: Op,
        reply: oneshot::Sender<Result<KeyValue, StoreError>>,
    },
    /// Raise the compacted revision to `target` (if higher) and delete one batch of
    /// obsolete rows; answers `true` once nothing is left to delete.
    Compact {
        target: Revision,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    /// Stop after everything queued before this request.
    Shutdown,
}

pub(super) struct Writer {
    conn: Connection,
    shared: Arc<Shared>,
    /// Newest committed revision (the writer is the only one assigning them).
    rev: Revision,
    compact_done: Revision,
    compact_batch: i64,
    writes_since_compact: u64,
    compact_every_writes: u64,
    last_sample: Option<Instant>,
}

/// One validated write waiting for the commit.
struct Pending {
    reply: oneshot::Sender<Result<KeyValue, StoreError>>,
    result: Result<KeyValue, StoreError>,
}

impl Writer {
    pub(super) fn new(
        conn: Connection,
        shared: Arc<Shared>,
        rev: Revision,
        compact_done: Revision,
        compact_batch: i64,
        compact_every_writes: u64,
    ) -> Self {
        Self {
            conn,
            shared,
            rev,
            compact_done,
            compact_batch: compact_batch.max(1),
            writes_since_compact: 0,
            compact_every_writes,
            last_sample: None,
        }
    }

    pub(super) fn run(mut self, rx: Receiver<Request>) {
        let mut carry = None;
        loop {
            let request = match carry.take() {
                Some(r) => r,
                None => match rx.recv() {
                    Ok(r) => r,
                    Err(_) => break,
                },
            };
            match request {
                Request::Write { op, reply } => {
                    let mut batch = vec![(op, reply)];
                    while batch.len() < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(Request::Write { op, reply }) => batch.push((op, reply)),
                            Ok(other) => {
                                carry = Some(other);
                                break;
                            }
                            Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
                        }
                    }
                    self.commit_batch(batch);
                }
                Request::Compact { target, reply } => {
                    let _ = reply.send(self.compact_step(target));
                }
                Request::Shutdown => break,
            }
        }
        if let Err((_, e)) = self.conn.close() {
            tracing::warn!(path = %self.shared.path, error = %e, "closing the database");
        }
    }

    fn commit_batch(&mut self, batch: Vec<(Op, oneshot::Sender<Result<KeyValue, StoreError>>)>) {
        let mut pending = Vec::with_capacity(batch.len());
        let mut events = Vec::with_capacity(batch.len());
        // Keys written earlier in this batch: their state is not in the index yet.
        let mut overlay: HashMap<String, Option<KeyValue>> = HashMap::new();
        let mut next = self.rev;

        let outcome = (|| -> rusqlite::Result<()> {
            let tx = self.conn.transaction()?;
            {
                let index = self.shared.read_state();
                for (op, reply) in batch {
                    let current = match overlay.get(op.key()) {
                        Some(state) => state.clone(),
                        None => index.index.get(op.key()).map(|packed| packed.unpack(op.key())),
                    };
                    let result = apply(&tx, &self.shared.path, op, current, next + 1);
                    let result = match result {
                        Ok((kv, event)) => {
                            next += 1;
                            let live = (event.event_type != EventType::Deleted).then(|| kv.clone());
                            overlay.insert(kv.key.clone(), live);
                            events.push(Arc::new(event));
                            Ok(kv)
                        }
                        Err(e) => Err(e),
                    };
                    pending.push(Pending { reply, result });
                }
            }
            tx.commit()
        })();

        if let Err(e) = outcome {
            // Nothing was committed: fail every write of the batch, keep all state.
            let err = schema::db_err(&self.shared.path, e);
            for p in pending {
                let _ = p.reply.send(p.result.and(Err(err.clone())));
            }
            return;
        }

        let written = events.len() as u64;
        if written > 0 {
            self.rev = next;
            // Compressed before the lock is taken: readers wait only for the inserts.
            let packed: Vec<(String, Option<Packed>)> =
                overlay.into_iter().map(|(key, kv)| (key, kv.as_ref().map(Packed::new))).collect();
            {
                let mut state = self.shared.write_state();
                for (key, value) in packed {
                    match value {
                        Some(p) => state.index.insert(key, p),
                        None => state.index.remove(&key),
                    };
                }
                state.current = next;
            }
            self.shared.current.store(next, Ordering::Release);
            self.shared.hub.publish(&events);
            self.shared.stats.transactions.fetch_add(1, Ordering::Relaxed);
            self.shared.stats.writes.fetch_add(written, Ordering::Relaxed);
            self.record_sample();
            self.writes_since_compact += written;
            if self.compact_every_writes > 0 && self.writes_since_compact >= self.compact_every_writes {
                self.writes_since_compact = 0;
                self.shared.compact_wakeup.notify_one();
            }
        }
        for p in pending {
            let _ = p.reply.send(p.result);
        }
    }

    fn record_sample(&mut self) {
        let now = Instant::now();
        if self.last_sample.is_some_and(|t| now.duration_since(t) < SAMPLE_EVERY) {
            return;
        }
        self.last_sample = Some(now);
        self.shared.retention.record(now, self.rev);
    }

    fn compact_step(&mut self, target: Revision) -> Result<bool, StoreError> {
        let path = self.shared.path.clone();
        self.compact_step_inner(target).map_err(|e| schema::db_err(&path, e))
    }

    fn compact_step_inner(&mut self, target: Revision) -> rusqlite::Result<bool> {
        let target = target.min(self.rev);
        let mut compacted = self.shared.compacted.load(Ordering::Acquire);
        if target > compacted {
            // Publish the new bound before deleting anything, so that no reader is
            // ever served from a revision whose rows are being removed.
            let tx = self.conn.transaction()?;
            schema::meta_set(&tx, META_COMPACT_REV, target)?;
            tx.commit()?;
            self.shared.compacted.store(target, Ordering::Release);
            compacted = target;
        }
        if self.compact_done >= compacted {
            return Ok(true);
        }
        let lo = self.compact_done;
        let hi = (lo + self.compact_batch).min(compacted);
        let tx = self.conn.transaction()?;
        // Rows replaced by a newer row at or below the compacted revision...
        tx.execute(
            "DELETE FROM log WHERE id IN
               (SELECT prev_revision FROM log WHERE id > ?1 AND id <= ?2 AND prev_revision != 0)",
            params![lo, hi],
        )?;
        // ...and deletion markers at or below it: the key no longer exists there.
        tx.execute("DELETE FROM log WHERE id > ?1 AND id <= ?2 AND deleted = 1", params![lo, hi])?;
        schema::meta_set(&tx, META_COMPACT_DONE, hi)?;
        tx.commit()?;
        self.compact_done = hi;
        if hi < compacted {
            return Ok(false);
        }
        // Give the space back: truncate the WAL and release freed pages.
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        self.conn.execute_batch("PRAGMA incremental_vacuum;")?;
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(true)
    }
}

/// Validates one write against the key's current state and inserts its log row.
fn apply(
    tx: &rusqlite::Transaction<'_>,
    path: &str,
    op: Op,
    current: Option<KeyValue>,
    rev: Revision,
) -> Result<(KeyValue, Event), StoreError> {
    let insert = |key: &str,
                  created: bool,
                  deleted: bool,
                  create_rev: Revision,
                  prev_rev: Revision,
                  value: &Bytes,
                  old: Option<&Bytes>| {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO log (id, name, created, deleted, create_revision, prev_revision, lease, value, old_value)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?8)",
        )?;
        stmt.execute(params![rev, key, created, deleted, create_rev, prev_rev, &value[..], old.map(|v| &v[..])])
    };
    let db = |e: rusqlite::Error| schema::db_err(path, e);

    match op {
        Op::Create { key, value } => {
            if current.is_some() {
                return Err(StoreError::AlreadyExists(key));
            }
            // A re-created key continues from its deletion marker (kine does the same),
            // which keeps UNIQUE(name, prev_revision) meaningful across re-creation.
            let prev: Option<Revision> = tx
                .prepare_cached("SELECT id FROM log WHERE name = ?1 ORDER BY id DESC LIMIT 1")
                .and_then(|mut s| s.query_row([&key], |r| r.get(0)).optional())
                .map_err(db)?;
            insert(&key, true, false, rev, prev.unwrap_or(0), &value, None).map_err(db)?;
            let kv = KeyValue { key, value, create_revision: rev, mod_revision: rev };
            let event = Event { event_type: EventType::Created, kv: kv.clone(), prev_value: None };
            Ok((kv, event))
        }
        Op::Update { key, value, expected } => {
            let Some(cur) = current else {
                return Err(StoreError::NotFound(key));
            };
            if cur.mod_revision != expected {
                return Err(StoreError::Conflict { key, expected, found: cur.mod_revision });
            }
            insert(&key, false, false, cur.create_revision, cur.mod_revision, &value, Some(&cur.value)).map_err(db)?;
            let kv = KeyValue { key, value, create_revision: cur.create_revision, mod_revision: rev };
            let event = Event { event_type: EventType::Updated, kv: kv.clone(), prev_value: Some(cur.value) };
            Ok((kv, event))
        }
        Op::Delete { key, expected } => {
            let Some(cur) = current else {
                return Err(StoreError::NotFound(key));
            };
            if let Some(expected) = expected.filter(|e| *e != cur.mod_revision) {
                return Err(StoreError::Conflict { key, expected, found: cur.mod_revision });
            }
            insert(&key, false, true, cur.create_revision, cur.mod_revision, &cur.value, Some(&cur.value))
                .map_err(db)?;
            let kv =
                KeyValue { key, value: cur.value.clone(), create_revision: cur.create_revision, mod_revision: rev };
            let event = Event { event_type: EventType::Deleted, kv: kv.clone(), prev_value: Some(cur.value) };
            Ok((kv, event))
        }
    }
}
