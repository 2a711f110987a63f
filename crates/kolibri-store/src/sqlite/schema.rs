//! The on-disk format: connection setup, schema, and the read queries.
//!
//! One kine-style log table holds every write; a row's id is its revision.
//! `UNIQUE(name, prev_revision)` makes a lost update impossible even if the
//! in-memory checks were wrong: two writes can never succeed the same row.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::Bytes;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Transaction};

use super::packed::Packed;
use crate::{Event, EventType, KeyValue, Revision, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    create_revision INTEGER NOT NULL,
    prev_revision INTEGER NOT NULL,
    lease INTEGER NOT NULL DEFAULT 0,
    value BLOB NOT NULL,
    old_value BLOB,
    UNIQUE (name, prev_revision)
);
CREATE INDEX IF NOT EXISTS log_name_id ON log (name, id);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
";

/// Meta key: reads and watches at revisions below this fail as compacted.
pub(super) const META_COMPACT_REV: &str = "compact_revision";
/// Meta key: rows at or below this revision have been compacted.
pub(super) const META_COMPACT_DONE: &str = "compact_done";

/// Maps a SQLite error to a [`StoreError::Database`] naming the file.
pub(super) fn db_err(path: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Database { path: path.to_owned(), message: e.to_string() }
}

/// Opens the writer connection, creating file and schema when missing.
pub(super) fn open_writer(path: &Path, journal_size_limit: u64) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // auto_vacuum only takes effect before the first table exists; later it is a no-op.
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL;")?;
    // WAL + FULL: every commit is fsync'ed before it returns, i.e. before we acknowledge.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
            Some(format!("cannot enable WAL (journal_mode is {mode})")),
        ));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = FULL;
         PRAGMA journal_size_limit = {journal_size_limit};
         PRAGMA busy_timeout = 5000;
         PRAGMA foreign_keys = OFF;"
    ))?;
    conn.execute_batch(SCHEMA)?;
    Ok(conn)
}

/// Opens a read-only connection for old-revision reads and log replays.
pub(super) fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.execute_batch("PRAGMA busy_timeout = 5000;")?;
    Ok(conn)
}

pub(super) fn meta_get(conn: &Connection, key: &str) -> rusqlite::Result<Revision> {
    Ok(conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional()?.unwrap_or(0))
}

pub(super) fn meta_set(tx: &Transaction<'_>, key: &str, value: Revision) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// The newest revision ever assigned (rows may have been compacted away since).
pub(super) fn current_revision(conn: &Connection) -> rusqlite::Result<Revision> {
    let seq: Option<Revision> =
        conn.query_row("SELECT seq FROM sqlite_sequence WHERE name = 'log'", [], |r| r.get(0)).optional()?;
    let max: Option<Revision> = conn.query_row("SELECT MAX(id) FROM log", [], |r| r.get(0))?;
    Ok(seq.unwrap_or(0).max(max.unwrap_or(0)))
}

/// Newest live row of every key at `revision`, with keys `>= from` (a lower bound for
/// the index scan; callers filter by prefix).
fn live_rows(
    conn: &Connection,
    from: &str,
    revision: Revision,
    mut each: impl FnMut(KeyValue) -> bool,
) -> rusqlite::Result<()> {
    let mut stmt = conn.prepare_cached(
        "SELECT l.id, l.name, l.create_revision, l.value
         FROM log l JOIN (SELECT MAX(id) AS id FROM log WHERE name >= ?1 AND id <= ?2 GROUP BY name) m
           ON l.id = m.id
         WHERE l.deleted = 0
         ORDER BY l.name",
    )?;
    let mut rows = stmt.query(params![from, revision])?;
    while let Some(row) = rows.next()? {
        let kv = KeyValue {
            mod_revision: row.get(0)?,
            key: row.get(1)?,
            create_revision: row.get(2)?,
            value: Bytes::from(row.get::<_, Vec<u8>>(3)?),
        };
        if !each(kv) {
            break;
        }
    }
    Ok(())
}

/// Loads the newest value of every live key (the in-memory index).
pub(super) fn load_index(conn: &Connection, revision: Revision) -> rusqlite::Result<BTreeMap<String, Packed>> {
    let mut index = BTreeMap::new();
    live_rows(conn, "", revision, |kv| {
        index.insert(kv.key.clone(), Packed::new(&kv));
        true
    })?;
    Ok(index)
}

/// Keys under `prefix` at `revision`, in key order, after `start_after`.
pub(super) fn list_at(
    conn: &Connection,
    prefix: &str,
    start_after: Option<&str>,
    revision: Revision,
) -> rusqlite::Result<Vec<KeyValue>> {
    let from = match start_after {
        Some(s) if s > prefix => s,
        _ => prefix,
    };
    let mut items = Vec::new();
    live_rows(conn, from, revision, |kv| {
        if !kv.key.starts_with(prefix) {
            return false;
        }
        if start_after.is_none_or(|s| kv.key.as_str() > s) {
            items.push(kv);
        }
        true
    })?;
    Ok(items)
}

/// Events with `after < revision <= upto` under `prefix`, in revision order.
pub(super) fn events_between(
    conn: &Connection,
    prefix: &str,
    after: Revision,
    upto: Revision,
) -> rusqlite::Result<Vec<Event>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, name, created, deleted, create_revision, value, old_value
         FROM log WHERE id > ?1 AND id <= ?2 ORDER BY id",
    )?;
    let mut rows = stmt.query(params![after, upto])?;
    let mut events = Vec::new();
    while let Some(row) = rows.next()? {
        let key: String = row.get(1)?;
        if !key.starts_with(prefix) {
            continue;
        }
        let created: bool = row.get(2)?;
        let deleted: bool = row.get(3)?;
        let event_type = if deleted {
            EventType::Deleted
        } else if created {
            EventType::Created
        } else {
            EventType::Updated
        };
        let prev_value = match event_type {
            EventType::Created => None,
            _ => row.get::<_, Option<Vec<u8>>>(6)?.map(Bytes::from),
        };
        events.push(Event {
            event_type,
            kv: KeyValue {
                key,
                value: Bytes::from(row.get::<_, Vec<u8>>(5)?),
                create_revision: row.get(4)?,
                mod_revision: row.get(0)?,
            },
            prev_value,
        });
    }
    Ok(events)
}

/// Number of rows in the log.
pub(super) fn row_count(conn: &Connection) -> rusqlite::Result<u64> {
    conn.query_row("SELECT COUNT(*) FROM log", [], |r| r.get(0))
}
