//! Building HTTP responses.

use std::convert::Infallible;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use serde_json::Value;

use crate::negotiate::{Encoding, Format, Shape};
use crate::status::ApiError;

/// Every response body: whole or streamed.
pub type Body = BoxBody<Bytes, Infallible>;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A response with a JSON body.
pub fn json(code: StatusCode, bytes: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(full(bytes));
    *resp.status_mut() = code;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// A response with a JSON value.
pub fn json_value(code: StatusCode, value: &Value) -> Response<Body> {
    json(code, serde_json::to_vec(value).unwrap_or_default())
}

/// A plain-text response (health checks).
pub fn text(code: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = code;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    resp.headers_mut().insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    resp
}

/// The `Status` response of an error.
pub fn error(err: &ApiError) -> Response<Body> {
    let mut resp = json_value(err.code, &err.to_status());
    if let Some(secs) = err.retry_after {
        if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
    }
    resp
}

/// Encodes a JSON document (already in wire form) in the negotiated encoding.
pub fn encoded(code: StatusCode, format: Format, wire_json: Bytes) -> Response<Body> {
    match format.encoding {
        Encoding::Json => json(code, wire_json),
        Encoding::Yaml => match serde_json::from_slice::<Value>(&wire_json).map(|v| serde_yaml::to_string(&v)) {
            Ok(Ok(yaml)) => {
                let mut resp = Response::new(full(yaml));
                *resp.status_mut() = code;
                resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/yaml"));
                resp
            }
            _ => error(&ApiError::internal("cannot encode the response as YAML")),
        },
        Encoding::Protobuf => match serde_json::from_slice::<Value>(&wire_json)
            .map_err(|e| e.to_string())
            .and_then(|v| crate::protobuf::encode(&v).map_err(|e| e.to_string()))
        {
            Ok(bytes) => {
                let mut resp = Response::new(full(bytes));
                *resp.status_mut() = code;
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/vnd.kubernetes.protobuf"));
                resp
            }
            Err(_) if format.shape == Shape::Object => json(code, wire_json),
            Err(e) => error(&ApiError::internal(e)),
        },
    }
}

/// Adds `Warning` headers (`299 - "<text>"`).
pub fn add_warnings(resp: &mut Response<Body>, warnings: &[String]) {
    for w in warnings {
        let escaped = w.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(v) = HeaderValue::from_str(&format!("299 - \"{escaped}\"")) {
            resp.headers_mut().append(header::WARNING, v);
        }
    }
}
