//! GET of one object (or its `status`).

use std::sync::Arc;

use http::{Response, StatusCode};

use super::Ctx;
use crate::encoding;
use crate::keys;
use crate::response::Body;
use crate::status::ApiResult;
use crate::ApiServer;

pub async fn get(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    let def = &ctx.def;
    let key = keys::object(def, ctx.namespace(), ctx.name());
    let kv = super::read_current(server, def, &key, ctx.name()).await?;
    let stored = encoding::as_version(&kv.value, encoding::served_api_version(def).as_deref());
    let wire = encoding::with_resource_version(&stored, kv.mod_revision);
    super::object_response(ctx, StatusCode::OK, wire)
}
