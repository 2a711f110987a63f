//! `storage.k8s.io` defaults (`pkg/apis/storage/v1/defaults.go`).

use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass};

use crate::defaults::str_default;
use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::{names, push_msgs};

impl Kind for StorageClass {
    fn default(&mut self) {
        str_default(&mut self.reclaim_policy, "Delete");
        str_default(&mut self.volume_binding_mode, "Immediate");
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let path = FieldPath::new("provisioner");
        if self.provisioner.is_empty() {
            errs.push(FieldError::required(&path, ""));
        } else {
            push_msgs(&mut errs, &path, &self.provisioner, names::qualified_name(&self.provisioner.to_lowercase()));
        }
        if let Some(policy) = self.reclaim_policy.as_deref() {
            if !["Delete", "Retain"].contains(&policy) {
                errs.push(FieldError::not_supported(&FieldPath::new("reclaimPolicy"), policy, &["Delete", "Retain"]));
            }
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        if self.parameters != old.parameters {
            errs.push(FieldError::forbidden(&FieldPath::new("parameters"), "updates to parameters are forbidden."));
        }
        if self.provisioner != old.provisioner {
            errs.push(FieldError::forbidden(&FieldPath::new("provisioner"), "updates to provisioner are forbidden."));
        }
        if self.reclaim_policy != old.reclaim_policy {
            errs.push(FieldError::forbidden(
                &FieldPath::new("reclaimPolicy"),
                "updates to reclaimPolicy are forbidden.",
            ));
        }
        errs
    }
}

impl Kind for CSIDriver {
    fn default(&mut self) {
        let spec = &mut self.spec;
        spec.attach_required.get_or_insert(true);
        spec.pod_info_on_mount.get_or_insert(false);
        spec.storage_capacity.get_or_insert(false);
        str_default(&mut spec.fs_group_policy, "ReadWriteOnceWithFSType");
        if spec.volume_lifecycle_modes.as_ref().is_none_or(Vec::is_empty) {
            spec.volume_lifecycle_modes = Some(vec!["Persistent".into()]);
        }
        spec.requires_republish.get_or_insert(false);
        spec.se_linux_mount.get_or_insert(false);
    }
}
