//! `rbac.authorization.k8s.io` (`pkg/apis/rbac/v1/defaults.go`, `pkg/apis/rbac/validation`).

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};

use crate::field_error::{FieldError, FieldPath};
use crate::typed::Kind;
use crate::validation::{json_value, names, push_msgs, NameRule};

const GROUP: &str = "rbac.authorization.k8s.io";

impl Kind for Role {
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn validate(&self) -> Vec<FieldError> {
        validate_rules(self.rules.as_deref().unwrap_or_default(), true)
    }
}

impl Kind for ClusterRole {
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn validate(&self) -> Vec<FieldError> {
        validate_rules(self.rules.as_deref().unwrap_or_default(), false)
    }
}

impl Kind for RoleBinding {
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn default(&mut self) {
        default_subjects(self.subjects.as_mut());
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = validate_role_ref(&self.role_ref, &["Role", "ClusterRole"]);
        validate_subjects(self.subjects.as_deref().unwrap_or_default(), true, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        role_ref_immutable(&self.role_ref, &old.role_ref, &mut errs);
        errs
    }
}

impl Kind for ClusterRoleBinding {
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn default(&mut self) {
        default_subjects(self.subjects.as_mut());
    }

    fn validate(&self) -> Vec<FieldError> {
        let mut errs = validate_role_ref(&self.role_ref, &["ClusterRole"]);
        validate_subjects(self.subjects.as_deref().unwrap_or_default(), false, &mut errs);
        errs
    }

    fn validate_update(&self, old: &Self) -> Vec<FieldError> {
        let mut errs = self.validate();
        role_ref_immutable(&self.role_ref, &old.role_ref, &mut errs);
        errs
    }
}

/// `SetDefaults_Subject`: users and groups are RBAC subjects.
fn default_subjects(subjects: Option<&mut Vec<Subject>>) {
    for s in subjects.into_iter().flatten() {
        if s.api_group.as_deref().is_none_or(str::is_empty) && (s.kind == "User" || s.kind == "Group") {
            s.api_group = Some(GROUP.into());
        }
    }
}

fn validate_rules(rules: &[PolicyRule], namespaced: bool) -> Vec<FieldError> {
    let mut errs = Vec::new();
    for (i, rule) in rules.iter().enumerate() {
        let p = FieldPath::new("rules").index(i);
        if rule.verbs.is_empty() {
            errs.push(FieldError::required(&p.child("verbs"), "verbs must contain at least one value"));
        }
        let urls = rule.non_resource_urls.clone().unwrap_or_default();
        if !urls.is_empty() {
            if namespaced {
                errs.push(FieldError::invalid(
                    &p.child("nonResourceURLs"),
                    json_value(&urls),
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if rule.api_groups.as_ref().is_some_and(|g| !g.is_empty())
                || rule.resources.as_ref().is_some_and(|r| !r.is_empty())
            {
                errs.push(FieldError::invalid(
                    &p.child("nonResourceURLs"),
                    json_value(&urls),
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if rule.api_groups.as_ref().is_none_or(Vec::is_empty) {
            errs.push(FieldError::required(&p.child("apiGroups"), "resource rules must supply at least one api group"));
        }
        if rule.resources.as_ref().is_none_or(Vec::is_empty) {
            errs.push(FieldError::required(&p.child("resources"), "resource rules must supply at least one resource"));
        }
    }
    errs
}

fn validate_role_ref(role_ref: &RoleRef, kinds: &[&str]) -> Vec<FieldError> {
    let p = FieldPath::new("roleRef");
    let mut errs = Vec::new();
    if role_ref.api_group != GROUP {
        errs.push(FieldError::not_supported(&p.child("apiGroup"), role_ref.api_group.as_str(), &[GROUP]));
    }
    if !kinds.contains(&role_ref.kind.as_str()) {
        errs.push(FieldError::not_supported(&p.child("kind"), role_ref.kind.as_str(), kinds));
    }
    if role_ref.name.is_empty() {
        errs.push(FieldError::required(&p.child("name"), ""));
    } else {
        push_msgs(&mut errs, &p.child("name"), &role_ref.name, names::path_segment_name(&role_ref.name, false));
    }
    errs
}

fn role_ref_immutable(new: &RoleRef, old: &RoleRef, errs: &mut Vec<FieldError>) {
    if new != old {
        errs.push(FieldError::invalid(&FieldPath::new("roleRef"), json_value(new), "cannot change roleRef"));
    }
}

fn validate_subjects(subjects: &[Subject], _namespaced: bool, errs: &mut Vec<FieldError>) {
    for (i, s) in subjects.iter().enumerate() {
        let p = FieldPath::new("subjects").index(i);
        if s.name.is_empty() {
            errs.push(FieldError::required(&p.child("name"), ""));
        }
        let api_group = s.api_group.clone().unwrap_or_default();
        match s.kind.as_str() {
            "ServiceAccount" => {
                if !s.name.is_empty() {
                    push_msgs(errs, &p.child("name"), &s.name, names::dns1123_subdomain(&s.name));
                }
                if !api_group.is_empty() {
                    errs.push(FieldError::not_supported(&p.child("apiGroup"), api_group.as_str(), &[""]));
                }
                if s.namespace.as_deref().is_none_or(str::is_empty) {
                    errs.push(FieldError::required(&p.child("namespace"), ""));
                }
            }
            "User" | "Group" => {
                if api_group != GROUP {
                    errs.push(FieldError::not_supported(&p.child("apiGroup"), api_group.as_str(), &[GROUP]));
                }
            }
            other => {
                errs.push(FieldError::not_supported(&p.child("kind"), other, &["ServiceAccount", "User", "Group"]))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::Registry;

    #[test]
    fn subjects_default_and_validate() {
        let def = Registry::builtin().get("rbac.authorization.k8s.io", "v1", "rolebindings").cloned().unwrap();
        let mut obj = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "system:x", "namespace": "d"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "alice"}, {"kind": "ServiceAccount", "name": "sa"}]});
        def.strategy.default(&mut obj);
        assert_eq!(obj["subjects"][0]["apiGroup"], "rbac.authorization.k8s.io");
        let msgs: Vec<String> = def.strategy.validate_create(&obj).into_iter().map(|e| e.message).collect();
        assert_eq!(msgs, ["subjects[1].namespace: Required value"]);
        let mut new = obj.clone();
        new["roleRef"]["name"] = json!("other");
        assert!(def.strategy.validate_update(&new, &obj).iter().any(|e| e.message.ends_with("cannot change roleRef")));
    }
}
