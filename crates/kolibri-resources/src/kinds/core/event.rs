//! Event (core/v1): field selectors of `pkg/registry/core/event/strategy.go`.

use k8s_openapi::api::core::v1::Event;
use serde_json::Value;

use crate::field_error::{FieldError, FieldPath};
use crate::typed::{str_at, Kind};

impl Kind for Event {
    const FIELDS: &'static [&'static str] = &[
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ];

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let ns = self.metadata.namespace.clone().unwrap_or_default();
        let involved_ns = self.involved_object.namespace.clone().unwrap_or_default();
        // Events about namespaced objects live in the object's namespace.
        if !involved_ns.is_empty() && involved_ns != ns {
            errs.push(FieldError::invalid(
                &FieldPath::new("involvedObject").child("namespace"),
                involved_ns,
                "does not match event.namespace",
            ));
        }
        errs
    }

    fn field_value(obj: &Value, field: &str) -> Option<String> {
        Some(match field {
            "source" => str_at(obj, "source.component"),
            other => str_at(obj, other),
        })
    }
}
