//! Paths that are not resources: version, health checks, OpenAPI, metrics.

use std::sync::Arc;

use http::{header, HeaderValue, Method, Response, StatusCode};
use serde_json::json;

use super::Query;
use crate::negotiate::MediaRange;
use crate::response::{self, Body};
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

pub async fn serve(
    server: &Arc<ApiServer>,
    method: &Method,
    path: &str,
    query: &Query,
    _accept: &[MediaRange],
    if_none_match: Option<&str>,
) -> ApiResult<Response<Body>> {
    if method != Method::GET && method != Method::HEAD {
        return Err(ApiError::not_found_path());
    }
    match path {
        "/version" | "/version/" => Ok(response::json_value(StatusCode::OK, &version(server))),
        "/healthz" | "/livez" => Ok(response::text(StatusCode::OK, "ok")),
        "/readyz" => readyz(server, query).await,
        "/healthz/ping" | "/livez/ping" | "/readyz/ping" => Ok(response::text(StatusCode::OK, "ok")),
        "/openapi/v3" | "/openapi/v3/" => {
            let mut resp = response::json(StatusCode::OK, bytes::Bytes::copy_from_slice(server.openapi().index()));
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, private"));
            Ok(resp)
        }
        p if p.starts_with("/openapi/v3/") => {
            let gv = p.trim_start_matches("/openapi/v3/").trim_end_matches('/');
            let docs = server.openapi();
            let (doc, hash) = docs.document(gv).ok_or_else(ApiError::not_found_path)?;
            let etag = format!("\"{hash}\"");
            if if_none_match == Some(etag.as_str()) {
                let mut resp = response::text(StatusCode::NOT_MODIFIED, "");
                resp.headers_mut().insert(header::ETAG, HeaderValue::from_str(&etag).map_err(ApiError::internal)?);
                return Ok(resp);
            }
            let mut resp = response::json(StatusCode::OK, bytes::Bytes::copy_from_slice(doc));
            let headers = resp.headers_mut();
            headers.insert(header::ETAG, HeaderValue::from_str(&etag).map_err(ApiError::internal)?);
            // A request naming the current hash may be cached for good.
            let cache = if query.get("hash") == Some(hash) { "public, immutable" } else { "no-cache, private" };
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            if query.get("hash") == Some(hash) {
                headers.insert(header::EXPIRES, HeaderValue::from_static("Fri, 01 Jan 2100 00:00:00 GMT"));
            }
            Ok(resp)
        }
        "/openapi/v2" | "/swagger.json" => Ok(openapi_v2()),
        "/.well-known/openid-configuration" => {
            let jwks_uri = format!(
                "https://{}/openid/v1/jwks",
                std::net::SocketAddr::new(server.config.advertise_address, server.config.advertise_port)
            );
            Ok(response::json_value(StatusCode::OK, &server.tokens.openid_configuration(&jwks_uri)))
        }
        "/openid/v1/jwks" => {
            let mut resp = response::json_value(StatusCode::OK, &server.tokens.jwks());
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
            Ok(resp)
        }
        "/metrics" => Ok(metrics(server)),
        _ => Err(ApiError::not_found_path()),
    }
}

/// A Swagger 2.0 document without definitions, in the protobuf form kubectl reads.
///
/// kubectl asks OpenAPI v2 only to validate a `kind: List` on the client side, and it
/// skips kinds the document does not define; the items of the List are then validated
/// by the server (`fieldValidation`), whose schemas are in the OpenAPI v3 documents.
fn openapi_v2() -> Response<Body> {
    fn field(tag: u8, bytes: &[u8]) -> Vec<u8> {
        // Length-delimited field; every length here is below 128, one varint byte.
        let mut out = vec![(tag << 3) | 2, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }
    let info = [field(1, b"Kubernetes"), field(2, b"v1.33.0")].concat();
    let document = [field(1, b"2.0"), field(2, &info)].concat();
    let mut resp = response::text(StatusCode::OK, document);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
    );
    resp
}

fn version(server: &ApiServer) -> serde_json::Value {
    json!({
        "major": "1",
        "minor": "33",
        "emulationMajor": "1",
        "emulationMinor": "33",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "32",
        "gitVersion": server.config.git_version,
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

async fn readyz(server: &Arc<ApiServer>, query: &Query) -> ApiResult<Response<Body>> {
    let ready = server.ready.load(std::sync::atomic::Ordering::SeqCst);
    let shutting_down = *server.shutdown.borrow();
    let checks = [("ping", true), ("etcd", true), ("bootstrap-objects", ready), ("shutdown", !shutting_down)];
    let ok = checks.iter().all(|(_, ok)| *ok);
    let code = if ok { StatusCode::OK } else { StatusCode::INTERNAL_SERVER_ERROR };
    if query.get("verbose").is_some() || !ok {
        let mut out = String::new();
        for (name, pass) in checks {
            out.push_str(&format!(
                "[{}]{name} {}\n",
                if pass { "+" } else { "-" },
                if pass { "ok" } else { "failed: not ready" }
            ));
        }
        out.push_str(if ok { "readyz check passed\n" } else { "readyz check failed\n" });
        return Ok(response::text(code, out));
    }
    Ok(response::text(code, "ok"))
}

fn metrics(server: &ApiServer) -> Response<Body> {
    let mut out = String::new();
    out.push_str("# HELP kolibri_store_revision The newest committed store revision.\n");
    out.push_str("# TYPE kolibri_store_revision gauge\n");
    out.push_str(&format!("kolibri_store_revision {}\n", server.store.current_revision()));
    out.push_str("# HELP kolibri_store_compacted_revision The oldest revision still readable.\n");
    out.push_str("# TYPE kolibri_store_compacted_revision gauge\n");
    out.push_str(&format!("kolibri_store_compacted_revision {}\n", server.store.compacted_revision()));
    let mut resp = response::text(StatusCode::OK, out);
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    resp
}
