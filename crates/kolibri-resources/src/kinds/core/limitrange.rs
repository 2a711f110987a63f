//! LimitRange (`SetDefaults_LimitRangeItem`).

use k8s_openapi::api::core::v1::LimitRange;

use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::pod::{check_list, validate_quantities};

impl Kind for LimitRange {
    fn default(&mut self) {
        for item in self.spec.iter_mut().flat_map(|s| s.limits.iter_mut()) {
            if item.type_ != "Container" {
                continue;
            }
            let default = item.default.get_or_insert_with(Default::default);
            // An unset default limit is the max; an unset default request the default limit, else the min.
            for (k, v) in item.max.iter().flatten() {
                default.entry(k.clone()).or_insert_with(|| v.clone());
            }
            let request = item.default_request.get_or_insert_with(Default::default);
            for (k, v) in default.iter() {
                request.entry(k.clone()).or_insert_with(|| v.clone());
            }
            for (k, v) in item.min.iter().flatten() {
                request.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        for (i, item) in self.spec.iter().flat_map(|s| s.limits.iter()).enumerate() {
            let p = FieldPath::new("spec").child("limits").index(i);
            for (name, list) in [
                ("max", &item.max),
                ("min", &item.min),
                ("default", &item.default),
                ("defaultRequest", &item.default_request),
            ] {
                if let Some(list) = list {
                    validate_quantities(list, &p.child(name), &mut errs);
                }
            }
        }
        errs
    }

    fn check_decoded(&self) -> Result<(), String> {
        for item in self.spec.iter().flat_map(|s| s.limits.iter()) {
            for list in [&item.max, &item.min, &item.default, &item.default_request, &item.max_limit_request_ratio] {
                check_list(list.as_ref())?;
            }
        }
        Ok(())
    }
}
