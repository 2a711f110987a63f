//! WATCH of a collection: newline-delimited events streamed as they commit.

use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use kolibri_store::{Event, EventType, KeyValue, ListOptions, Revision, StoreError};
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::list::{parse_rv, Filter};
use super::Ctx;
use crate::negotiate::Shape;
use crate::response::Body;
use crate::status::{ApiError, ApiResult};
use crate::{encoding, keys, ApiServer};

/// Upstream's `--min-request-timeout`: watches without `timeoutSeconds` end after
/// between one and two of these, so load spreads when clients reconnect.
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often a bookmark is sent to watchers that asked for them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

/// Where the stream starts.
enum Start {
    /// Synthetic ADDED events for the state at the revision, then changes after it.
    Snapshot { initial_end_bookmark: bool },
    /// Changes after the given revision.
    After(Revision),
}

pub async fn watch(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let q = &ctx.query;
    let filter = Filter::from_query(ctx)?;
    let bookmarks = q.flag("allowWatchBookmarks");
    let send_initial = q.get("sendInitialEvents").map(|v| v == "true");
    let rv = q.get("resourceVersion");
    let start = match send_initial {
        Some(true) => {
            if q.get("resourceVersionMatch") != Some("NotOlderThan") {
                return Err(list_options_invalid(
                    "resourceVersionMatch: Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
            if !bookmarks {
                return Err(list_options_invalid(
                    "allowWatchBookmarks: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                ));
            }
            if let Some(rv) = rv {
                if parse_rv(rv)? > server.store.current_revision() {
                    return Err(ApiError::resource_version_too_large());
                }
            }
            Start::Snapshot { initial_end_bookmark: true }
        }
        _ => match rv {
            None | Some("0") => Start::Snapshot { initial_end_bookmark: false },
            Some(rv) => {
                let rev = parse_rv(rv)?;
                if rev > server.store.current_revision() {
                    return Err(ApiError::resource_version_too_large());
                }
                Start::After(rev)
            }
        },
    };
    let timeout = match q.get("timeoutSeconds") {
        Some(t) => Duration::from_secs(
            t.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid timeoutSeconds \"{t}\"")))?,
        ),
        None => MIN_REQUEST_TIMEOUT.mul_f64(1.0 + rand::thread_rng().gen::<f64>()),
    };
    let prefix = keys::collection(&ctx.def, ctx.namespace());

    // Snapshot and subscription at one revision, so nothing falls between them.
    let (initial, watch, initial_end) = match start {
        Start::Snapshot { initial_end_bookmark } => {
            let list = server.store.list(&prefix, ListOptions::default()).await.map_err(ApiError::internal)?;
            let watch = server.store.watch(&prefix, list.revision).await;
            (list.items, watch, initial_end_bookmark.then_some(list.revision))
        }
        Start::After(rev) => (Vec::new(), server.store.watch(&prefix, rev).await, None),
    };

    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(64);
    let mut writer = Writer {
        def: ctx.def.clone(),
        api_version: crate::encoding::served_api_version(&ctx.def),
        filter,
        shape: ctx.format.shape,
        // Parsed once: tables are built for every event.
        table_query: super::Query::parse(
            ctx.query.get("includeObject").map(|i| format!("includeObject={i}")).as_deref(),
        ),
        first_table: true,
        last_rv: 0,
    };
    let mut shutdown = server.shutdown.clone();
    tokio::spawn(async move {
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        for kv in &initial {
            if let Some(line) = writer.event_line("ADDED", kv, None) {
                if tx.send(Ok(Frame::data(line))).await.is_err() {
                    return;
                }
            }
        }
        if let Some(rev) = initial_end {
            writer.last_rv = writer.last_rv.max(rev);
            let line = writer.bookmark(true);
            if tx.send(Ok(Frame::data(line))).await.is_err() {
                return;
            }
        }
        let mut watch = match watch {
            Ok(w) => w,
            Err(e) => {
                let _ = tx.send(Ok(Frame::data(error_line(&e)))).await;
                return;
            }
        };
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + BOOKMARK_INTERVAL, BOOKMARK_INTERVAL);
        loop {
            tokio::select! {
                event = watch.next() => {
                    let line = match event {
                        Some(Ok(event)) => writer.event(&event),
                        Some(Err(e)) => {
                            let _ = tx.send(Ok(Frame::data(error_line(&e)))).await;
                            return;
                        }
                        None => return,
                    };
                    if let Some(line) = line {
                        if tx.send(Ok(Frame::data(line))).await.is_err() {
                            return;
                        }
                    }
                }
                _ = ticker.tick(), if bookmarks => {
                    if writer.last_rv > 0 && tx.send(Ok(Frame::data(writer.bookmark(false)))).await.is_err() {
                        return;
                    }
                }
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                _ = shutdown.changed() => return,
            }
        }
    });

    let body = StreamBody::new(ReceiverStream::new(rx)).boxed();
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::OK;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
    Ok(resp)
}

fn list_options_invalid(message: &str) -> ApiError {
    let mut err = ApiError::bad_request(format!("ListOptions.meta.k8s.io \"\" is invalid: {message}"));
    err.code = StatusCode::UNPROCESSABLE_ENTITY;
    err.reason = "Invalid";
    err
}

/// An ERROR event ending the stream (410 Expired for compacted revisions).
fn error_line(err: &StoreError) -> Bytes {
    let api_error = match err {
        StoreError::Compacted { requested, compacted } => {
            ApiError::gone(format!("too old resource version: {requested} ({compacted})"))
        }
        StoreError::WatcherTooSlow => ApiError::gone("the watch fell behind; please restart it"),
        other => ApiError::internal(other),
    };
    let line = json!({ "type": "ERROR", "object": api_error.to_status() });
    let mut out = serde_json::to_vec(&line).unwrap_or_default();
    out.push(b'\n');
    Bytes::from(out)
}

/// Turns store events into event lines for one watcher.
struct Writer {
    def: Arc<kolibri_resources::ResourceDef>,
    /// For custom resources: the apiVersion objects are shown in.
    api_version: Option<String>,
    filter: Filter,
    shape: Shape,
    table_query: super::Query,
    first_table: bool,
    last_rv: Revision,
}

impl Writer {
    fn event(&mut self, event: &Event) -> Option<Bytes> {
        self.last_rv = self.last_rv.max(event.kv.mod_revision);
        if self.filter.is_empty() {
            let kind = match event.event_type {
                EventType::Created => "ADDED",
                EventType::Updated => "MODIFIED",
                EventType::Deleted => "DELETED",
            };
            return self.event_line(kind, &event.kv, None);
        }
        let now = serde_json::from_slice::<Value>(&event.kv.value).ok()?;
        let matches_now = self.filter.matches(&now);
        let matched_before = event
            .prev_value
            .as_ref()
            .and_then(|p| serde_json::from_slice::<Value>(p).ok())
            .is_some_and(|prev| self.filter.matches(&prev));
        let kind = match (event.event_type, matches_now, matched_before) {
            (EventType::Deleted, true, _) => "DELETED",
            (EventType::Deleted, false, _) => return None,
            (EventType::Created, true, _) => "ADDED",
            (EventType::Updated, true, true) => "MODIFIED",
            (EventType::Updated, true, false) => "ADDED",
            (EventType::Updated, false, true) => "DELETED",
            _ => return None,
        };
        self.event_line(kind, &event.kv, Some(now))
    }

    fn event_line(&mut self, kind: &str, kv: &KeyValue, parsed: Option<Value>) -> Option<Bytes> {
        self.last_rv = self.last_rv.max(kv.mod_revision);
        if parsed.is_none() && !self.filter.is_empty() {
            let obj = serde_json::from_slice::<Value>(&kv.value).ok()?;
            if !self.filter.matches(&obj) {
                return None;
            }
        }
        let mut out = BytesMut::with_capacity(kv.value.len() + 64);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b"\",\"object\":");
        let stored = encoding::as_version(&kv.value, self.api_version.as_deref());
        match self.shape {
            Shape::Object => encoding::put_with_resource_version(&mut out, &stored, kv.mod_revision),
            Shape::Table | Shape::Metadata => {
                let obj = encoding::decode_stored(&stored, kv.mod_revision).ok()?;
                let converted = if self.shape == Shape::Table {
                    let mut t = crate::table::table(&self.def, &[obj], None, &self.table_query, false);
                    if !self.first_table {
                        if let Some(m) = t.as_object_mut() {
                            m.insert("columnDefinitions".into(), json!([]));
                        }
                    }
                    self.first_table = false;
                    t
                } else {
                    crate::table::partial_metadata(&obj)
                };
                out.extend_from_slice(&serde_json::to_vec(&converted).ok()?);
            }
        }
        out.extend_from_slice(b"}\n");
        Some(out.freeze())
    }

    fn bookmark(&self, initial_end: bool) -> Bytes {
        let mut metadata = json!({ "resourceVersion": self.last_rv.to_string() });
        if initial_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let (kind, api_version) = match self.shape {
            Shape::Object => (self.def.kind.clone(), self.def.api_version()),
            Shape::Table => ("Table".to_string(), "meta.k8s.io/v1".to_string()),
            Shape::Metadata => ("PartialObjectMetadata".to_string(), "meta.k8s.io/v1".to_string()),
        };
        let line =
            json!({ "type": "BOOKMARK", "object": { "kind": kind, "apiVersion": api_version, "metadata": metadata } });
        let mut out = serde_json::to_vec(&line).unwrap_or_default();
        out.put_u8(b'\n');
        Bytes::from(out)
    }
}
