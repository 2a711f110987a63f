//! Create-only review kinds answered from the request alone (`kubectl auth whoami`).

use std::sync::Arc;

use http::{Response, StatusCode};
use kolibri_resources::ResourceDef;
use serde_json::json;

use super::{decode_body, Ctx};
use crate::response::{self, Body};
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

pub fn is_review(def: &ResourceDef) -> bool {
    matches!(
        (def.group.as_str(), def.plural.as_str()),
        ("authentication.k8s.io", "selfsubjectreviews")
            | ("authorization.k8s.io", "selfsubjectaccessreviews" | "selfsubjectrulesreviews")
    )
}

pub fn create(_server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let mut obj = decode_body(ctx)?;
    if !obj.is_object() {
        return Err(ApiError::bad_request("the body of the request must be a JSON object"));
    }
    obj["apiVersion"] = json!(ctx.def.api_version());
    obj["kind"] = json!(ctx.def.kind);
    if !obj.get("metadata").is_some_and(|m| m.is_object()) {
        obj["metadata"] = json!({});
    }
    obj["metadata"]["creationTimestamp"] = serde_json::Value::Null;
    let privileged = ctx.user.groups.iter().any(|g| g == "system:masters");
    match ctx.def.plural.as_str() {
        "selfsubjectreviews" => obj["status"] = json!({ "userInfo": ctx.user.to_json() }),
        "selfsubjectaccessreviews" => {
            obj["status"] = if privileged { json!({ "allowed": true }) } else { json!({ "allowed": false }) }
        }
        _ => {
            obj["status"] = if privileged {
                json!({ "resourceRules": [{ "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"] }],
                        "nonResourceRules": [{ "verbs": ["*"], "nonResourceURLs": ["*"] }], "incomplete": false })
            } else {
                json!({ "resourceRules": [], "nonResourceRules": [], "incomplete": false })
            }
        }
    }
    Ok(response::json_value(StatusCode::CREATED, &obj))
}
