//! PATCH of an object or its `status`: JSON patch, merge patch, strategic merge patch.

use std::sync::Arc;

use http::Response;

use super::write::{prepare_decoded, update_object};
use super::Ctx;
use crate::patch::{self, PatchError, PatchType};
use crate::response::Body;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

pub async fn patch(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let patch_type = PatchType::from_content_type(&ctx.content_type).ok_or_else(|| {
        ApiError::unsupported_media_type(format!(
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
            if def.protobuf { ", application/strategic-merge-patch+json" } else { "" }
        ))
    })?;
    let definition = if def.protobuf {
        kolibri_resources::schema::definition_name(&def.group, &def.version, &def.kind)
    } else {
        None
    };
    update_object(server, ctx, |old| {
        let patched = patch::apply(patch_type, old, &ctx.body, definition).map_err(|e| patch_error(ctx, e))?;
        prepare_decoded(ctx, patched)
    })
    .await
}

fn patch_error(ctx: &Ctx, err: PatchError) -> ApiError {
    match err {
        PatchError::BadRequest(m) => ApiError::bad_request(m),
        PatchError::Invalid(m) => {
            tracing::debug!(error = %m, "patch rejected");
            let mut e = ApiError::bad_request("the server rejected our request due to an error in our request");
            e.code = http::StatusCode::UNPROCESSABLE_ENTITY;
            e.reason = "Invalid";
            e
        }
        PatchError::Unsupported(m) => ApiError::unsupported_media_type(if m.is_empty() {
            format!("the body of the request was in an unknown format for {}", ctx.def.plural)
        } else {
            m
        }),
    }
}
