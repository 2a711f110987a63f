//! LIST of a collection: selectors, resourceVersion semantics, pagination.

use std::sync::Arc;

use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};
use http::{Response, StatusCode};
use kolibri_resources::ResourceDef;
use kolibri_store::{KeyValue, ListOptions, Revision, StoreError};
use serde_json::{json, Value};

use super::{meta, Ctx};
use crate::negotiate::Shape;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::status::{ApiError, ApiResult};
use crate::{encoding, keys, response, ApiServer};

/// Selectors of a list or watch, checked against the kind's selectable fields.
pub struct Filter {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    def: Arc<ResourceDef>,
}

impl Filter {
    pub fn from_query(ctx: &Ctx) -> ApiResult<Self> {
        let labels = LabelSelector::parse(ctx.query.get("labelSelector").unwrap_or_default())?;
        let fields = FieldSelector::parse(ctx.query.get("fieldSelector").unwrap_or_default())?;
        let selectable = ctx.def.strategy.selectable_fields();
        for term in &fields.terms {
            let known = matches!(term.field.as_str(), "metadata.name" | "metadata.namespace")
                || selectable.contains(&term.field.as_str());
            if !known {
                // Kinds with their own field labels answer like upstream's conversion
                // functions; the others like the default one.
                return Err(ApiError::bad_request(if selectable.is_empty() {
                    format!(
                        "\"{}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"",
                        term.field
                    )
                } else {
                    format!("field label not supported: {}", term.field)
                }));
            }
        }
        Ok(Self { labels, fields, def: ctx.def.clone() })
    }

    /// Whether anything must be parsed to decide a match.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.fields.is_empty()
    }

    pub fn matches(&self, obj: &Value) -> bool {
        self.labels.matches(crate::selectors::labels(obj))
            && self.fields.matches(|field| match field {
                "metadata.name" => Some(meta::name(obj).to_string()),
                "metadata.namespace" => meta::meta_str(obj, "namespace").map(str::to_string),
                other => self.def.strategy.field_value(obj, other),
            })
    }
}

/// The opaque `continue` token: where the next page starts and at which revision.
#[derive(serde::Serialize, serde::Deserialize)]
struct Continue {
    v: String,
    rv: Revision,
    start: String,
}

fn encode_continue(rv: Revision, last_key: &str) -> String {
    let token = Continue { v: "meta.k8s.io/v1".into(), rv, start: last_key.to_string() };
    base64::engine::general_purpose::URL_SAFE.encode(serde_json::to_vec(&token).unwrap_or_default())
}

fn decode_continue(token: &str, prefix: &str) -> ApiResult<Continue> {
    let bad = || ApiError::bad_request(format!("continue key is not valid: {token}"));
    let raw = base64::engine::general_purpose::URL_SAFE.decode(token).map_err(|_| bad())?;
    let c: Continue = serde_json::from_slice(&raw).map_err(|_| bad())?;
    if c.v != "meta.k8s.io/v1" || !c.start.starts_with(prefix) || c.rv <= 0 {
        return Err(bad());
    }
    Ok(c)
}

/// Parses a resourceVersion parameter.
pub fn parse_rv(rv: &str) -> ApiResult<Revision> {
    rv.parse::<Revision>().map_err(|_| {
        ApiError::bad_request(format!(
            "resourceVersion: Invalid value: \"{rv}\": strconv.ParseUint: parsing \"{rv}\": invalid syntax"
        ))
    })
}

/// One page of matching items, in wire-ready stored form.
struct Page {
    items: Vec<KeyValue>,
    revision: Revision,
    continue_token: Option<String>,
    remaining: Option<u64>,
}

async fn read(server: &Arc<ApiServer>, ctx: &Ctx, filter: &Filter) -> ApiResult<Page> {
    let q = &ctx.query;
    let limit: usize = match q.get("limit") {
        Some(l) => {
            l.parse::<i64>().map_err(|_| ApiError::bad_request(format!("invalid limit \"{l}\"")))?.max(0) as usize
        }
        None => 0,
    };
    // Narrow the read by namespace when a field selector pins it.
    let namespace = ctx.namespace().map(str::to_string).or_else(|| {
        ctx.def.namespaced.then(|| filter.fields.required("metadata.namespace").map(str::to_string)).flatten()
    });
    let prefix = keys::collection(&ctx.def, namespace.as_deref());

    let current = server.store.current_revision();
    let mut revision = None;
    let mut start_after = None;
    if let Some(token) = q.get("continue") {
        if q.get("resourceVersion").is_some_and(|rv| rv != "0") {
            return Err(ApiError::bad_request("specifying resource version is not allowed when using continue"));
        }
        let c = decode_continue(token, &prefix)?;
        revision = Some(c.rv);
        start_after = Some(c.start);
    } else {
        let rv = q.get("resourceVersion");
        match (q.get("resourceVersionMatch"), rv) {
            (Some("Exact"), Some(rv)) => revision = Some(parse_rv(rv)?),
            (Some("NotOlderThan"), Some(rv)) | (None, Some(rv)) => {
                if parse_rv(rv)? > current {
                    return Err(ApiError::resource_version_too_large());
                }
            }
            (Some(m @ ("Exact" | "NotOlderThan")), None) => {
                return Err(list_options_invalid(&format!(
                    "resourceVersionMatch: Forbidden: resourceVersionMatch \"{m}\" is forbidden for list if resourceVersion is unset"
                )))
            }
            (Some(other), _) => {
                return Err(list_options_invalid(&format!(
                    "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\", \"\""
                )))
            }
            (None, None) => {}
        }
    }

    // A pinned name is a single read.
    if let (Some(name), None) = (filter.fields.required("metadata.name"), revision) {
        if ctx.namespace().is_some() || !ctx.def.namespaced {
            let key = keys::object(&ctx.def, ctx.namespace(), name);
            let kv = server.store.get(&key).await.map_err(ApiError::internal)?;
            let items = kv.into_iter().filter(|kv| keep(filter, kv)).collect();
            return Ok(Page { items, revision: current, continue_token: None, remaining: None });
        }
    }

    let mut items = Vec::new();
    let mut read_rev = revision;
    loop {
        let want = if limit == 0 { None } else { Some(limit - items.len()) };
        let page = server
            .store
            .list(&prefix, ListOptions { revision: read_rev, start_after: start_after.clone(), limit: want })
            .await
            .map_err(|e| match e {
                StoreError::Compacted { .. } if q.get("continue").is_some() => ApiError::gone(
                    "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
                ),
                StoreError::Compacted { requested, compacted } => {
                    ApiError::gone(format!("too old resource version: {requested} ({compacted})"))
                }
                StoreError::FutureRevision { .. } => ApiError::resource_version_too_large(),
                other => ApiError::internal(other),
            })?;
        read_rev = Some(page.revision);
        let last_key = page.items.last().map(|kv| kv.key.clone());
        items.extend(page.items.into_iter().filter(|kv| keep(filter, kv)));
        if !page.more {
            return Ok(Page { items, revision: page.revision, continue_token: None, remaining: None });
        }
        if limit > 0 && items.len() >= limit {
            let last = items.last().map(|kv| kv.key.clone()).or(last_key).unwrap_or_default();
            let remaining = if filter.is_empty() { page.remaining } else { None };
            return Ok(Page {
                items,
                revision: page.revision,
                continue_token: Some(encode_continue(page.revision, &last)),
                remaining,
            });
        }
        start_after = last_key;
    }
}

fn list_options_invalid(message: &str) -> ApiError {
    let mut err = ApiError::bad_request(format!("ListOptions.meta.k8s.io \"\" is invalid: {message}"));
    err.code = StatusCode::UNPROCESSABLE_ENTITY;
    err.reason = "Invalid";
    err
}

fn keep(filter: &Filter, kv: &KeyValue) -> bool {
    if filter.is_empty() {
        return true;
    }
    serde_json::from_slice::<Value>(&kv.value).is_ok_and(|obj| filter.matches(&obj))
}

/// Every matching object, parsed (for deletecollection).
pub async fn matching(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Vec<(KeyValue, Value)>> {
    let filter = Filter::from_query(ctx)?;
    let page = read(server, ctx, &filter).await?;
    page.items
        .into_iter()
        .map(|kv| {
            let obj = encoding::decode_stored(&kv.value, kv.mod_revision).map_err(ApiError::internal)?;
            Ok((kv, obj))
        })
        .collect()
}

pub async fn list(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let filter = Filter::from_query(ctx)?;
    let page = read(server, ctx, &filter).await?;
    let mut list_meta = json!({ "resourceVersion": page.revision.to_string() });
    if let Some(c) = &page.continue_token {
        list_meta["continue"] = json!(c);
    }
    if let Some(r) = page.remaining.filter(|r| *r > 0) {
        list_meta["remainingItemCount"] = json!(r);
    }
    let version = encoding::served_api_version(&ctx.def);
    let version = version.as_deref();
    if ctx.format.shape != Shape::Object {
        let objs: Vec<Value> = page
            .items
            .iter()
            .map(|kv| encoding::decode_stored(&encoding::as_version(&kv.value, version), kv.mod_revision))
            .collect::<Result<_, _>>()
            .map_err(ApiError::internal)?;
        let out = match ctx.format.shape {
            Shape::Table => crate::table::table(&ctx.def, &objs, Some(list_meta), &ctx.query, false),
            _ => crate::table::partial_metadata_list(&objs, list_meta),
        };
        return Ok(response::json_value(StatusCode::OK, &out));
    }
    let total: usize = page.items.iter().map(|kv| kv.value.len() + 32).sum();
    let mut out = BytesMut::with_capacity(total + 256);
    out.extend_from_slice(b"{\"kind\":");
    out.extend_from_slice(&serde_json::to_vec(&ctx.def.list_kind).unwrap_or_default());
    out.extend_from_slice(b",\"apiVersion\":");
    out.extend_from_slice(&serde_json::to_vec(&ctx.def.api_version()).unwrap_or_default());
    out.extend_from_slice(b",\"metadata\":");
    out.extend_from_slice(&serde_json::to_vec(&list_meta).unwrap_or_default());
    out.extend_from_slice(b",\"items\":[");
    for (i, kv) in page.items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        encoding::put_with_resource_version(&mut out, &encoding::as_version(&kv.value, version), kv.mod_revision);
    }
    out.extend_from_slice(b"]}");
    Ok(response::encoded(StatusCode::OK, ctx.format, Bytes::from(out)))
}

use crate::response::Body;
