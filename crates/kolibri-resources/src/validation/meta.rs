//! `ObjectMeta` validation (`apimachinery/pkg/api/validation/objectmeta.go`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::names::{self, NameRule};
use super::{json_value, non_negative, push_msgs, IMMUTABLE};
use crate::field_error::{FieldError, FieldPath};

/// Upstream's `TotalAnnotationSizeLimitB`.
pub const TOTAL_ANNOTATION_SIZE: usize = 256 * 1024;

/// `ValidateObjectMeta`.
pub fn validate(meta: &ObjectMeta, namespaced: bool, rule: NameRule) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = Vec::new();
    if let Some(generate_name) = meta.generate_name.as_deref().filter(|g| !g.is_empty()) {
        push_msgs(&mut errs, &path.child("generateName"), generate_name, rule.check(generate_name, true));
    }
    match meta.name.as_deref().filter(|n| !n.is_empty()) {
        None => errs.push(FieldError::required(&path.child("name"), "name or generateName is required")),
        Some(name) => push_msgs(&mut errs, &path.child("name"), name, rule.check(name, false)),
    }
    let namespace = meta.namespace.as_deref().unwrap_or_default();
    if namespaced {
        if namespace.is_empty() {
            errs.push(FieldError::required(&path.child("namespace"), ""));
        } else {
            push_msgs(&mut errs, &path.child("namespace"), namespace, names::dns1123_label(namespace));
        }
    } else if !namespace.is_empty() {
        errs.push(FieldError::forbidden(&path.child("namespace"), "not allowed on this type"));
    }
    non_negative(meta.generation.unwrap_or(0), &path.child("generation"), &mut errs);
    common(meta, &path, &mut errs);
    if let Some(finalizers) = &meta.finalizers {
        validate_finalizers(finalizers, &path.child("finalizers"), &mut errs);
    }
    errs
}

/// `ValidateObjectMetaUpdate`, less what the API server itself keeps (uid, timestamps,
/// resourceVersion).
pub fn validate_update(new: &ObjectMeta, old: &ObjectMeta) -> Vec<FieldError> {
    let path = FieldPath::new("metadata");
    let mut errs = Vec::new();
    if old.deletion_timestamp.is_some() {
        let old_f = old.finalizers.clone().unwrap_or_default();
        let mut extra: Vec<&String> = new.finalizers.iter().flatten().filter(|f| !old_f.contains(f)).collect();
        extra.sort();
        extra.dedup();
        if !extra.is_empty() {
            let list: Vec<String> = extra.iter().map(|f| crate::field_error::go_quote(f)).collect();
            errs.push(FieldError::forbidden(
                &path.child("finalizers"),
                &format!(
                    "no new finalizers can be added if the object is being deleted, found new finalizers []string{{{}}}",
                    list.join(", ")
                ),
            ));
        }
    }
    if new.generation.unwrap_or(0) < old.generation.unwrap_or(0) {
        errs.push(FieldError::invalid(
            &path.child("generation"),
            new.generation.unwrap_or(0),
            "must not be decremented",
        ));
    }
    let new_name = new.name.clone().unwrap_or_default();
    if new_name != old.name.clone().unwrap_or_default() {
        errs.push(FieldError::invalid(&path.child("name"), new_name, IMMUTABLE));
    }
    let new_ns = new.namespace.clone().unwrap_or_default();
    if new_ns != old.namespace.clone().unwrap_or_default() {
        errs.push(FieldError::invalid(&path.child("namespace"), new_ns, IMMUTABLE));
    }
    common(new, &path, &mut errs);
    if let Some(finalizers) = &new.finalizers {
        validate_finalizers(finalizers, &path.child("finalizers"), &mut errs);
    }
    errs
}

fn common(meta: &ObjectMeta, path: &FieldPath, errs: &mut Vec<FieldError>) {
    if let Some(labels) = &meta.labels {
        validate_labels(labels, &path.child("labels"), errs);
    }
    if let Some(annotations) = &meta.annotations {
        validate_annotations(annotations, &path.child("annotations"), errs);
    }
    if let Some(refs) = &meta.owner_references {
        validate_owner_references(refs, &path.child("ownerReferences"), errs);
    }
}

/// `ValidateLabels`: errors are reported at the map's path, not the key's.
pub fn validate_labels(labels: &BTreeMap<String, String>, path: &FieldPath, errs: &mut Vec<FieldError>) {
    for (k, v) in labels {
        push_msgs(errs, path, k, names::qualified_name(k));
        push_msgs(errs, path, v, names::label_value(v));
    }
}

/// `ValidateAnnotations`: keys are qualified names (any case), total size bounded.
pub fn validate_annotations(annotations: &BTreeMap<String, String>, path: &FieldPath, errs: &mut Vec<FieldError>) {
    for k in annotations.keys() {
        push_msgs(errs, path, k, names::qualified_name(&k.to_lowercase()));
    }
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > TOTAL_ANNOTATION_SIZE {
        errs.push(FieldError::too_long(path, TOTAL_ANNOTATION_SIZE));
    }
}

fn validate_owner_references(refs: &[OwnerReference], path: &FieldPath, errs: &mut Vec<FieldError>) {
    let mut first_controller: Option<String> = None;
    for r in refs {
        let version = r.api_version.rsplit('/').next().unwrap_or_default();
        if version.is_empty() {
            errs.push(FieldError::invalid(&path.child("apiVersion"), &r.api_version, "version must not be empty"));
        }
        if r.kind.is_empty() {
            errs.push(FieldError::invalid(&path.child("kind"), &r.kind, "kind must not be empty"));
        }
        if r.name.is_empty() {
            errs.push(FieldError::invalid(&path.child("name"), &r.name, "name must not be empty"));
        }
        if r.uid.is_empty() {
            errs.push(FieldError::invalid(&path.child("uid"), &r.uid, "uid must not be empty"));
        }
        if r.api_version == "v1" && r.kind == "Event" {
            errs.push(FieldError::invalid(path, json_value(r), "/v1, Kind=Event is disallowed from being an owner"));
        }
        if r.controller == Some(true) {
            let current = format!("{}/{}", r.kind, r.name);
            match &first_controller {
                Some(first) => errs.push(FieldError::invalid(
                    path,
                    json_value(&refs),
                    &format!(
                        "Only one reference can have Controller set to true. Found \"true\" in references for {first} and {current}"
                    ),
                )),
                None => first_controller = Some(current),
            }
        }
    }
}

fn validate_finalizers(finalizers: &[String], path: &FieldPath, errs: &mut Vec<FieldError>) {
    for f in finalizers {
        push_msgs(errs, path, f, names::qualified_name(f));
    }
    if finalizers.iter().any(|f| f == "orphan") && finalizers.iter().any(|f| f == "foregroundDeletion") {
        errs.push(FieldError::invalid(
            path,
            json_value(&finalizers),
            "finalizer orphan and foregroundDeletion cannot be both set",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, ns: Option<&str>) -> ObjectMeta {
        ObjectMeta { name: Some(name.into()), namespace: ns.map(Into::into), ..Default::default() }
    }

    #[test]
    fn name_format_message_is_upstreams() {
        let errs = validate(&meta("Foo_bar", Some("default")), true, NameRule::Subdomain);
        assert_eq!(
            errs[0].message,
            "metadata.name: Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
        );
    }

    #[test]
    fn name_and_namespace_presence() {
        let errs = validate(&ObjectMeta::default(), true, NameRule::Subdomain);
        let msgs: Vec<&str> = errs.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            msgs,
            ["metadata.name: Required value: name or generateName is required", "metadata.namespace: Required value"]
        );
        let errs = validate(&meta("a", Some("x")), false, NameRule::Subdomain);
        assert_eq!(errs[0].message, "metadata.namespace: Forbidden: not allowed on this type");
    }

    #[test]
    fn labels_and_annotations() {
        let mut m = meta("a", Some("d"));
        m.labels = Some([("bad key".to_string(), "ok".to_string()), ("k".to_string(), "-bad".to_string())].into());
        m.annotations = Some([("big".to_string(), "x".repeat(TOTAL_ANNOTATION_SIZE))].into());
        let msgs: Vec<String> = validate(&m, true, NameRule::Subdomain).into_iter().map(|e| e.message).collect();
        assert!(msgs[0].starts_with(
            "metadata.labels: Invalid value: \"bad key\": name part must consist of alphanumeric characters"
        ));
        assert!(msgs[1].starts_with("metadata.labels: Invalid value: \"-bad\": a valid label must be an empty string"));
        assert_eq!(msgs[2], "metadata.annotations: Too long: may not be more than 262144 bytes");
    }
}
