//! Admission of new objects, in upstream's plugin order: LimitRanger (defaults and
//! bounds of pod resources), Priority (from the PriorityClass), ServiceAccount (the token
//! volume), DefaultTolerationSeconds, then what takes shared resources (Service
//! addresses), and ResourceQuota last
//! (`admit_quota`, once the object has its final shape). Namespace lifecycle runs before,
//! in the write path.

mod default_toleration_seconds;
mod limit_ranger;
mod priority;
mod resource_quota;
pub(crate) mod service_account;

use std::sync::Arc;

use kolibri_resources::ResourceDef;
use serde_json::Value;

use crate::allocator::Allocation;
use crate::status::{ApiError, ApiResult};
use crate::ApiServer;

fn is_pod(def: &ResourceDef) -> bool {
    def.group.is_empty() && def.plural == "pods"
}

impl ApiServer {
    /// ResourceQuota, the last admission of a new object (after its defaults): refuses it
    /// when a quota of its namespace has no room, else charges the quotas (not on dry run).
    pub(crate) async fn admit_quota(self: &Arc<Self>, def: &ResourceDef, obj: &Value, dry_run: bool) -> ApiResult<()> {
        resource_quota::admit(self, def, obj, None, dry_run).await
    }

    /// ResourceQuota on an update of an object (not of a subresource, as upstream):
    /// a Service or claim whose usage grew is charged the difference, or refused.
    pub(crate) async fn admit_quota_update(
        self: &Arc<Self>,
        def: &ResourceDef,
        obj: &Value,
        old: &Value,
        dry_run: bool,
    ) -> ApiResult<()> {
        if !resource_quota::handles_update(def) {
            return Ok(());
        }
        resource_quota::admit(self, def, obj, Some(old), dry_run).await
    }

    /// Mutates and checks a new object; what it allocated is returned so a failed or
    /// dry-run write can give it back.
    pub(crate) async fn admit_create(self: &Arc<Self>, def: &ResourceDef, obj: &mut Value) -> ApiResult<Allocation> {
        if is_pod(def) {
            limit_ranger::admit_pod(self, obj).await?;
            priority::admit_pod(self, obj).await?;
            service_account::admit_pod(obj);
            default_toleration_seconds::admit_pod(obj);
        }
        if !crate::allocator::is_service(def) {
            return Ok(Allocation::default());
        }
        let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_string();
        self.allocator.allocate(obj).map_err(|errors| ApiError::invalid("", "Service", &name, &errors))
    }
}
