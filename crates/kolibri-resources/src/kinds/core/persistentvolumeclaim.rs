//! PersistentVolumeClaim (`SetDefaults_PersistentVolumeClaim`, `ValidatePersistentVolumeClaim`).

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PersistentVolumeClaimStatus};

use super::persistentvolume::validate_access_modes;
use crate::defaults;
use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::pod::{check_list, validate_quantities};

impl Kind for PersistentVolumeClaim {
    fn default(&mut self) {
        defaults::pod::pvc_spec(self.spec.get_or_insert_with(Default::default));
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(PersistentVolumeClaimStatus { phase: Some("Pending".into()), ..Default::default() });
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        validate_access_modes(spec.access_modes.as_deref(), &path.child("accessModes"), &mut errs);
        let requests = spec.resources.as_ref().and_then(|r| r.requests.clone()).unwrap_or_default();
        match requests.get("storage") {
            None => errs.push(FieldError::required(&path.child("resources").key("storage"), "")),
            Some(_) => validate_quantities(&requests, &path.child("resources").child("requests"), &mut errs),
        }
        if let Some(selector) = &spec.selector {
            crate::validation::selector::validate(selector, &path.child("selector"), &mut errs);
        }
        if let Some(mode) = spec.volume_mode.as_deref() {
            if !["Block", "Filesystem"].contains(&mode) {
                errs.push(FieldError::not_supported(&path.child("volumeMode"), mode, &["Block", "Filesystem"]));
            }
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        // Only the storage request, an unset volumeName and the volume attributes class may change.
        let mut munged = self.spec.clone().unwrap_or_default();
        let old_spec = old.spec.clone().unwrap_or_default();
        munged.resources.clone_from(&old_spec.resources);
        munged.volume_attributes_class_name.clone_from(&old_spec.volume_attributes_class_name);
        if old_spec.volume_name.as_deref().is_none_or(str::is_empty) {
            munged.volume_name.clone_from(&old_spec.volume_name);
        }
        if munged != old_spec {
            errs.push(FieldError::forbidden(
                &FieldPath::new("spec"),
                "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
            ));
        }
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        let resources = self.spec.as_ref().and_then(|s| s.resources.as_ref());
        check_list(resources.and_then(|r| r.requests.as_ref()))?;
        check_list(resources.and_then(|r| r.limits.as_ref()))
    }
}
