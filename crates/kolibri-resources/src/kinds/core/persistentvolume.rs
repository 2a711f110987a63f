//! PersistentVolume (`SetDefaults_PersistentVolume`, `ValidatePersistentVolume`).

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeStatus};

use crate::defaults::str_default;
use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::pod::{check_list, validate_quantities};

pub(crate) const ACCESS_MODES: &[&str] = &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"];

impl Kind for PersistentVolume {
    fn default(&mut self) {
        let spec = self.spec.get_or_insert_with(Default::default);
        str_default(&mut spec.persistent_volume_reclaim_policy, "Retain");
        str_default(&mut spec.volume_mode, "Filesystem");
        if let Some(h) = spec.host_path.as_mut() {
            h.type_.get_or_insert_with(String::new);
        }
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(PersistentVolumeStatus {
            phase: Some("Pending".into()),
            last_phase_transition_time: Some(crate::typed::now()),
            ..Default::default()
        });
    }

    fn validate(&self) -> Vec<FieldError> {
        let path = FieldPath::new("spec");
        let mut errs = Vec::new();
        let spec = self.spec.clone().unwrap_or_default();
        validate_access_modes(spec.access_modes.as_deref(), &path.child("accessModes"), &mut errs);
        match &spec.capacity {
            Some(c) if !c.is_empty() => {
                validate_quantities(c, &path.child("capacity"), &mut errs);
                if !c.contains_key("storage") {
                    errs.push(FieldError::required(&path.child("capacity").key("storage"), ""));
                }
            }
            _ => errs.push(FieldError::required(&path.child("capacity"), "")),
        }
        let sources = serde_json::to_value(&spec)
            .ok()
            .and_then(|v| {
                v.as_object().map(|o| {
                    const NOT_SOURCES: &[&str] = &[
                        "accessModes",
                        "capacity",
                        "claimRef",
                        "mountOptions",
                        "nodeAffinity",
                        "persistentVolumeReclaimPolicy",
                        "storageClassName",
                        "volumeAttributesClassName",
                        "volumeMode",
                    ];
                    o.keys().filter(|k| !NOT_SOURCES.contains(&k.as_str())).count()
                })
            })
            .unwrap_or(1);
        if sources == 0 {
            errs.push(FieldError::required(&path, "must specify a volume type"));
        } else if sources > 1 {
            errs.push(FieldError::forbidden(&path, "may not specify more than 1 volume type"));
        }
        if let Some(policy) = spec.persistent_volume_reclaim_policy.as_deref() {
            const POLICIES: &[&str] = &["Delete", "Recycle", "Retain"];
            if !POLICIES.contains(&policy) {
                errs.push(FieldError::not_supported(&path.child("persistentVolumeReclaimPolicy"), policy, POLICIES));
            }
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        let (new_mode, old_mode) = (
            self.spec.as_ref().and_then(|s| s.volume_mode.clone()),
            old.spec.as_ref().and_then(|s| s.volume_mode.clone()),
        );
        if new_mode != old_mode {
            errs.push(FieldError::invalid(
                &FieldPath::new("spec").child("volumeMode"),
                new_mode.unwrap_or_default(),
                crate::validation::IMMUTABLE,
            ));
        }
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        check_list(self.spec.as_ref().and_then(|s| s.capacity.as_ref()))
    }
}

pub(crate) fn validate_access_modes(modes: Option<&[String]>, path: &FieldPath, errs: &mut Vec<FieldError>) {
    let modes = modes.unwrap_or_default();
    if modes.is_empty() {
        errs.push(FieldError::required(path, "at least 1 access mode is required"));
    }
    for mode in modes {
        if !ACCESS_MODES.contains(&mode.as_str()) {
            errs.push(FieldError::not_supported(path, mode.as_str(), ACCESS_MODES));
        }
    }
}
