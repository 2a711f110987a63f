//! `POST .../serviceaccounts/<name>/token` (TokenRequest, `kubectl create token`).

use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::{json, Value};

use super::token::{Claims, Private, Ref};
use crate::handlers::{decode_body, meta, read_current, Ctx};
use crate::response::{self, Body};
use crate::status::{ApiError, ApiResult};
use crate::{encoding, keys, ApiServer};

/// Upstream's bounds on `spec.expirationSeconds`.
const MIN_EXPIRATION: i64 = 600;
const MAX_EXPIRATION: i64 = 1 << 32;
const DEFAULT_EXPIRATION: i64 = 3600;

fn invalid(name: &str, field: &str, value: impl Into<kolibri_resources::BadValue>, detail: &str) -> ApiError {
    let path = field.split('.').fold(None::<kolibri_resources::FieldPath>, |p, part| {
        Some(match p {
            None => kolibri_resources::FieldPath::new(part),
            Some(p) => p.child(part),
        })
    });
    let err = kolibri_resources::FieldError::invalid(
        &path.unwrap_or_else(|| kolibri_resources::FieldPath::new(field)),
        value,
        detail,
    );
    ApiError::invalid("authentication.k8s.io", "TokenRequest", name, &[err])
}

pub(crate) async fn create(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let name = ctx.name().to_string();
    let namespace = ctx.namespace().unwrap_or_default().to_string();
    let body = decode_body(ctx)?;
    let spec = body.get("spec").cloned().unwrap_or_else(|| json!({}));
    let expiration = spec.get("expirationSeconds").and_then(Value::as_i64).unwrap_or(DEFAULT_EXPIRATION);
    if expiration < MIN_EXPIRATION {
        return Err(invalid(
            &name,
            "spec.expirationSeconds",
            expiration,
            "may not specify a duration less than 10 minutes",
        ));
    }
    if expiration > MAX_EXPIRATION {
        return Err(invalid(
            &name,
            "spec.expirationSeconds",
            expiration,
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let audiences: Vec<String> = match spec.get("audiences").and_then(Value::as_array) {
        Some(list) if !list.is_empty() => list.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => vec![server.tokens.issuer().to_string()],
    };

    let sa_key = keys::object(&ctx.def, Some(&namespace), &name);
    let sa_kv = read_current(server, &ctx.def, &sa_key, &name).await?;
    let sa = encoding::decode_stored(&sa_kv.value, sa_kv.mod_revision).map_err(ApiError::internal)?;
    let sa_uid = meta::meta_str(&sa, "uid").unwrap_or_default().to_string();

    let mut private = Private {
        namespace: namespace.clone(),
        serviceaccount: Ref { name: name.clone(), uid: sa_uid },
        ..Default::default()
    };
    let bound = spec.get("boundObjectRef").filter(|b| b.is_object()).cloned();
    if let Some(bound) = &bound {
        let kind = bound.get("kind").and_then(Value::as_str).unwrap_or_default();
        let obj_name = bound.get("name").and_then(Value::as_str).unwrap_or_default();
        let (plural, namespaced) = match kind {
            "Pod" => ("pods", true),
            "Secret" => ("secrets", true),
            "Node" => ("nodes", false),
            other => {
                return Err(invalid(
                    &name,
                    "spec.boundObjectRef.kind",
                    other,
                    "supported values: \"Pod\", \"Secret\", \"Node\"",
                ))
            }
        };
        let registry = server.registry();
        let def = registry.get("", "v1", plural).cloned().ok_or_else(ApiError::not_found_path)?;
        let key = keys::object(&def, namespaced.then_some(namespace.as_str()), obj_name);
        let kv = read_current(server, &def, &key, obj_name).await?;
        let obj = encoding::decode_stored(&kv.value, kv.mod_revision).map_err(ApiError::internal)?;
        let uid = meta::meta_str(&obj, "uid").unwrap_or_default().to_string();
        if let Some(want) = bound.get("uid").and_then(Value::as_str).filter(|u| !u.is_empty()) {
            if want != uid {
                return Err(ApiError::conflict(
                    "",
                    plural,
                    obj_name,
                    &format!(
                        "the UID in the bound object reference ({want}) does not match the UID in record. The object might have been deleted and then recreated"
                    ),
                ));
            }
        }
        let r = Some(Ref { name: obj_name.to_string(), uid });
        match kind {
            "Pod" => {
                private.pod = r;
                if let Some(node) = obj.pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                    private.node = Some(Ref { name: node.to_string(), uid: String::new() });
                }
            }
            "Secret" => private.secret = r,
            _ => private.node = r,
        }
    }

    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        aud: audiences.clone(),
        exp: now + expiration,
        iat: now,
        iss: server.tokens.issuer().to_string(),
        jti: uuid::Uuid::new_v4().to_string(),
        kubernetes: private,
        nbf: now,
        sub: format!("system:serviceaccount:{namespace}:{name}"),
    };
    let token = server.tokens.sign(&claims).map_err(ApiError::internal)?;
    let expires = chrono::DateTime::from_timestamp(now + expiration, 0).unwrap_or_default();
    let mut out_spec = json!({ "audiences": audiences, "expirationSeconds": expiration, "boundObjectRef": null });
    match bound {
        Some(b) => out_spec["boundObjectRef"] = b,
        None => {
            if let Some(m) = out_spec.as_object_mut() {
                m.remove("boundObjectRef");
            }
        }
    }
    let out = json!({
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": { "name": name, "namespace": namespace, "creationTimestamp": null },
        "spec": out_spec,
        "status": { "token": token, "expirationTimestamp": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string() },
    });
    Ok(response::json_value(StatusCode::CREATED, &out))
}
