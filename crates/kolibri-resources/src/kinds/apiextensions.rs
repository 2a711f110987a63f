//! CustomResourceDefinition defaults, status preparation and validation
//! (`apiextensions-apiserver/pkg/apis/apiextensions/validation` and the CRD strategy).

use std::collections::BTreeSet;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceConversion, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionStatus, CustomResourceDefinitionVersion,
};

use crate::custom::structural;
use crate::field_error::{BadValue, FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::{immutable, names, push_msgs};

const COLUMN_TYPES: &[&str] = &["boolean", "date", "integer", "number", "string"];
const COLUMN_FORMATS: &[&str] = &["byte", "date", "date-time", "double", "float", "int32", "int64", "password"];

impl Kind for CustomResourceDefinition {
    const GENERATION: bool = true;

    fn default(&mut self) {
        let spec = &mut self.spec;
        if spec.conversion.is_none() {
            spec.conversion = Some(CustomResourceConversion { strategy: "None".into(), webhook: None });
        }
        if let Some(service) = spec
            .conversion
            .as_mut()
            .and_then(|c| c.webhook.as_mut())
            .and_then(|w| w.client_config.as_mut())
            .and_then(|c| c.service.as_mut())
        {
            service.port.get_or_insert(443);
        }
        if spec.names.singular.as_deref().is_none_or(str::is_empty) {
            spec.names.singular = Some(spec.names.kind.to_lowercase());
        }
        if spec.names.list_kind.as_deref().is_none_or(str::is_empty) && !spec.names.kind.is_empty() {
            spec.names.list_kind = Some(format!("{}List", spec.names.kind));
        }
    }

    fn prepare_for_create(&mut self) {
        self.status = Some(CustomResourceDefinitionStatus::default());
        self.record_storage_version();
    }

    fn prepare_for_update(&mut self, _old: &Self) {
        self.record_storage_version();
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = Vec::new();
        let spec = FieldPath::new("spec");
        let name = self.metadata.name.clone().unwrap_or_default();
        let expected = format!("{}.{}", self.spec.names.plural, self.spec.group);
        if !name.is_empty() && name != expected {
            errs.push(FieldError::invalid(
                &FieldPath::new("metadata").child("name"),
                name,
                "must be spec.names.plural+\".\"+spec.group",
            ));
        }
        validate_group(&self.spec.group, &spec.child("group"), &mut errs);
        match self.spec.scope.as_str() {
            "" => errs.push(FieldError::required(&spec.child("scope"), "")),
            "Cluster" | "Namespaced" => {}
            other => errs.push(FieldError::not_supported(&spec.child("scope"), other, &["Cluster", "Namespaced"])),
        }
        validate_names(&self.spec.names, &spec.child("names"), &mut errs);
        validate_versions(&self.spec.versions, &spec.child("versions"), &mut errs);
        if let Some(conversion) = &self.spec.conversion {
            if !matches!(conversion.strategy.as_str(), "None" | "Webhook") {
                errs.push(FieldError::not_supported(
                    &spec.child("conversion").child("strategy"),
                    conversion.strategy.as_str(),
                    &["None", "Webhook"],
                ));
            }
        }
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        let spec = FieldPath::new("spec");
        immutable(&self.spec.scope, &old.spec.scope, &spec.child("scope"), BadValue::from(&self.spec.scope), &mut errs);
        // A stored version may only leave the spec once it left status.storedVersions.
        let stored = old.status.as_ref().and_then(|s| s.stored_versions.clone()).unwrap_or_default();
        for version in stored {
            if !self.spec.versions.iter().any(|v| v.name == version) {
                errs.push(FieldError::invalid(
                    &FieldPath::new("status").child("storedVersions").index(0),
                    BadValue::from(&version),
                    "must appear in spec.versions",
                ));
            }
        }
        errs
    }
}

trait StorageVersion {
    fn record_storage_version(&mut self);
}

impl StorageVersion for CustomResourceDefinition {
    /// Upstream's strategy lists the storage version in `status.storedVersions`.
    fn record_storage_version(&mut self) {
        let Some(storage) = self.spec.versions.iter().find(|v| v.storage).map(|v| v.name.clone()) else {
            return;
        };
        let status = self.status.get_or_insert_with(Default::default);
        let stored = status.stored_versions.get_or_insert_with(Vec::new);
        if !stored.contains(&storage) {
            stored.push(storage);
        }
    }
}

fn validate_group(group: &str, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if group.is_empty() {
        errs.push(FieldError::required(path, ""));
        return;
    }
    push_msgs(errs, path, group, names::dns1123_subdomain(group));
    if !group.contains('.') {
        errs.push(FieldError::invalid(path, group, "should be a domain with at least one dot"));
    }
}

fn validate_names(n: &CustomResourceDefinitionNames, path: &FieldPath, errs: &mut Vec<FieldError>) {
    let label = |value: &str, field: &str, errs: &mut Vec<FieldError>| {
        let problems = names::dns1035_label(value);
        if !value.is_empty() && !problems.is_empty() {
            errs.push(FieldError::invalid(&path.child(field), value, &problems.join(",")));
        }
    };
    if n.plural.is_empty() {
        errs.push(FieldError::required(&path.child("plural"), ""));
    }
    label(&n.plural, "plural", errs);
    label(n.singular.as_deref().unwrap_or_default(), "singular", errs);
    if n.kind.is_empty() {
        errs.push(FieldError::required(&path.child("kind"), ""));
    }
    let kind_like = |value: &str, field: &str, errs: &mut Vec<FieldError>| {
        let problems = names::dns1035_label(&value.to_lowercase());
        if !value.is_empty() && !problems.is_empty() {
            errs.push(FieldError::invalid(
                &path.child(field),
                value,
                &format!("may have mixed case, but should otherwise match: {}", problems.join(",")),
            ));
        }
    };
    kind_like(&n.kind, "kind", errs);
    match n.list_kind.as_deref() {
        Some("") | None => errs.push(FieldError::required(&path.child("listKind"), "")),
        Some(list_kind) => {
            kind_like(list_kind, "listKind", errs);
            if list_kind == n.kind {
                errs.push(FieldError::invalid(
                    &path.child("listKind"),
                    list_kind,
                    "kind and listKind may not be the same",
                ));
            }
        }
    }
    for (i, short) in n.short_names.iter().flatten().enumerate() {
        let problems = names::dns1035_label(short);
        if !problems.is_empty() {
            errs.push(FieldError::invalid(&path.child("shortNames").index(i), short.as_str(), &problems.join(",")));
        }
    }
    for (i, category) in n.categories.iter().flatten().enumerate() {
        let problems = names::dns1035_label(category);
        if !problems.is_empty() {
            errs.push(FieldError::invalid(&path.child("categories").index(i), category.as_str(), &problems.join(",")));
        }
    }
}

fn validate_versions(versions: &[CustomResourceDefinitionVersion], path: &FieldPath, errs: &mut Vec<FieldError>) {
    if versions.is_empty() {
        errs.push(FieldError::invalid(
            path,
            BadValue::Raw("[]apiextensions.CustomResourceDefinitionVersion(nil)".into()),
            "must have exactly one version marked as storage version",
        ));
        return;
    }
    if versions.iter().filter(|v| v.storage).count() != 1 {
        errs.push(FieldError::invalid(
            path,
            crate::validation::json_value(&versions.iter().map(|v| &v.name).collect::<Vec<_>>()),
            "must have exactly one version marked as storage version",
        ));
    }
    if !versions.iter().any(|v| v.served) {
        errs.push(FieldError::invalid(
            path,
            crate::validation::json_value(&versions.iter().map(|v| &v.name).collect::<Vec<_>>()),
            "must have at least one served version",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, version) in versions.iter().enumerate() {
        let vpath = path.index(i);
        if !seen.insert(version.name.as_str()) {
            errs.push(FieldError::invalid(&vpath.child("name"), version.name.as_str(), "must be unique"));
        }
        if version.name.is_empty() {
            errs.push(FieldError::required(&vpath.child("name"), ""));
        } else {
            push_msgs(errs, &vpath.child("name"), &version.name, names::dns1035_label(&version.name));
        }
        let schema_path = vpath.child("schema").child("openAPIV3Schema");
        match version.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()) {
            None => errs.push(FieldError::required(&schema_path, "schemas are required")),
            Some(schema) => match serde_json::to_value(schema) {
                Ok(value) => errs.extend(structural::validate_schema(&value, &schema_path)),
                Err(e) => errs.push(FieldError::internal(&schema_path, &e.to_string())),
            },
        }
        for (j, column) in version.additional_printer_columns.iter().flatten().enumerate() {
            validate_column(column, &vpath.child("additionalPrinterColumns").index(j), errs);
        }
        if let Some(scale) = version.subresources.as_ref().and_then(|s| s.scale.as_ref()) {
            let spath = vpath.child("subresources").child("scale");
            let check = |value: &str, field: &str, prefix: &str, errs: &mut Vec<FieldError>| {
                if value.is_empty() {
                    errs.push(FieldError::required(&spath.child(field), ""));
                } else if !value.starts_with(prefix) {
                    errs.push(FieldError::invalid(
                        &spath.child(field),
                        value,
                        &format!("should be a json path under {prefix}"),
                    ));
                }
            };
            check(&scale.spec_replicas_path, "specReplicasPath", ".spec", errs);
            check(&scale.status_replicas_path, "statusReplicasPath", ".status", errs);
        }
    }
}

fn validate_column(c: &CustomResourceColumnDefinition, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if c.name.is_empty() {
        errs.push(FieldError::required(&path.child("name"), ""));
    }
    if c.type_.is_empty() {
        errs.push(FieldError::required(&path.child("type"), ""));
    } else if !COLUMN_TYPES.contains(&c.type_.as_str()) {
        errs.push(FieldError::not_supported(&path.child("type"), c.type_.as_str(), COLUMN_TYPES));
    }
    if let Some(format) = c.format.as_deref().filter(|f| !f.is_empty()) {
        if !COLUMN_FORMATS.contains(&format) {
            errs.push(FieldError::not_supported(&path.child("format"), format, COLUMN_FORMATS));
        }
    }
    if c.priority.is_some_and(|p| p < 0) {
        errs.push(FieldError::invalid(&path.child("priority"), c.priority.unwrap_or(0), "must be non-negative"));
    }
    if c.json_path.is_empty() {
        errs.push(FieldError::required(&path.child("JSONPath"), ""));
    }
}
