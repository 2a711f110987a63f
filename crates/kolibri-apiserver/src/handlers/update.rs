//! PUT of an object, its `status`, or a namespace's `finalize`.

use std::sync::Arc;

use http::Response;

use super::managed_fields;
use super::write::{decode_object, update_object};
use super::Ctx;
use crate::response::Body;
use crate::status::ApiResult;
use crate::ApiServer;

pub async fn update(server: &Arc<ApiServer>, ctx: &Ctx) -> ApiResult<Response<Body>> {
    managed_fields::validate_field_manager(ctx, "UpdateOptions", Vec::new())?;
    let (desired, warnings) = decode_object(ctx)?;
    update_object(server, ctx, |_old| Ok((desired.clone(), warnings.clone()))).await
}
