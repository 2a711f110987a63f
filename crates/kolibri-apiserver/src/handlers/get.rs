//! GET of one object (or its `status`).

use std::sync::Arc;

use http::{Response, StatusCode};

use super::Ctx;
use crate::encoding;
use crate::keys;
use crate::response::Body;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

pub async fn get(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let key = keys::object(def, ctx.namespace(), ctx.name());
    let kv = server
        .store
        .get(&key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(|| ApiError::not_found(&def.group, &def.plural, ctx.name()))?;
    let wire = encoding::with_resource_version(&kv.value, kv.mod_revision);
    super::object_response(ctx, StatusCode::OK, wire)
}
