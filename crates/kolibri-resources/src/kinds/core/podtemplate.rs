//! PodTemplate: template defaults and validation.

use k8s_openapi::api::core::v1::PodTemplate;

use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::{defaults, validation};

impl Kind for PodTemplate {
    fn default(&mut self) {
        if let Some(t) = self.template.as_mut() {
            defaults::pod::template(t);
        }
    }

    fn validate(&self) -> Vec<FieldError> {
        self.template
            .as_ref()
            .map_or_else(Vec::new, |t| validation::pod::validate_template(t, &FieldPath::new("template")))
    }

    fn check_decoded(&self) -> Result<(), String> {
        let spec = self.template.as_ref().and_then(|t| t.spec.as_ref());
        spec.map_or(Ok(()), validation::pod::check_quantities)
    }
}
