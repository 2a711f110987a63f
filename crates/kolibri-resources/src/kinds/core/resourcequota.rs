//! ResourceQuota: quantities of `spec.hard`.

use k8s_openapi::api::core::v1::ResourceQuota;

use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::pod::{check_list, validate_quantities};

impl Kind for ResourceQuota {
    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        if let Some(hard) = self.spec.as_ref().and_then(|s| s.hard.as_ref()) {
            let path = FieldPath::new("spec").child("hard");
            for name in hard.keys().filter(|n| !crate::quota::is_standard_resource(n)) {
                errs.push(FieldError::invalid(&path.key(name), name.as_str(), "must be a standard resource for quota"));
            }
            validate_quantities(hard, &path, &mut errs);
        }
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        check_list(self.spec.as_ref().and_then(|s| s.hard.as_ref()))
    }
}
