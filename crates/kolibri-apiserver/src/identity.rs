//! Who is calling: authentication by client certificate, and the interim authorizer.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::request_info::RequestInfo;
use crate::status::ApiError;

/// An authenticated (or anonymous) user, as upstream's `user.Info`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    /// Further facts about the user (service accounts: the bound pod, the token id).
    pub extra: BTreeMap<String, Vec<String>>,
}

impl UserInfo {
    pub fn anonymous() -> Self {
        Self { name: "system:anonymous".into(), groups: vec!["system:unauthenticated".into()], ..Default::default() }
    }

    pub fn is_anonymous(&self) -> bool {
        self.name == "system:anonymous"
    }

    /// The user of a verified client certificate: CN is the name, each O a group.
    pub fn from_certificate(der: &[u8]) -> Option<Self> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let subject = cert.subject();
        let name = subject.iter_common_name().next()?.as_str().ok()?.to_string();
        let mut groups: Vec<String> =
            subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_string)).collect();
        groups.push("system:authenticated".into());
        Some(Self { name, groups, ..Default::default() })
    }

    /// The `userInfo` of a SelfSubjectReview.
    pub fn to_json(&self) -> Value {
        let mut v = json!({ "username": self.name, "groups": self.groups });
        if !self.uid.is_empty() {
            v["uid"] = json!(self.uid);
        }
        if !self.extra.is_empty() {
            v["extra"] = json!(self.extra);
        }
        v
    }
}

/// Paths anonymous users may read.
pub fn anonymous_allowed(path: &str) -> bool {
    matches!(path, "/healthz" | "/livez" | "/readyz" | "/version")
        || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
}

/// Until RBAC is served, cluster admins (`system:masters`) and kolibri's own components
/// may do everything; everyone else is refused with upstream's message.
pub fn authorize(user: &UserInfo, info: Option<&RequestInfo>, method: &str, path: &str) -> Result<(), ApiError> {
    let privileged = user.groups.iter().any(|g| g == "system:masters")
        || user.name.starts_with("system:kolibri:")
        || matches!(user.name.as_str(), "system:kube-controller-manager" | "system:kube-scheduler")
        || user.name.starts_with("system:node:");
    if privileged {
        return Ok(());
    }
    // Everyone authenticated may ask who they are and what they may do (upstream's
    // system:basic-user), and read discovery, OpenAPI and version (system:discovery,
    // system:public-info-viewer, system:service-account-issuer-discovery).
    match info {
        Some(i) => {
            let own = matches!(
                (i.group.as_str(), i.resource.as_str()),
                ("authentication.k8s.io", "selfsubjectreviews")
                    | ("authorization.k8s.io", "selfsubjectaccessreviews" | "selfsubjectrulesreviews")
            );
            if own && i.verb == "create" {
                return Ok(());
            }
            // Joining nodes ask for their certificates with a bootstrap identity (upstream's
            // system:node-bootstrapper role, bound to system:bootstrappers).
            let bootstrapping = user.groups.iter().any(|g| g == "system:bootstrappers")
                && i.group == "certificates.k8s.io"
                && i.resource == "certificatesigningrequests"
                && i.subresource.is_none()
                && matches!(i.verb, "create" | "get" | "list" | "watch");
            if bootstrapping {
                return Ok(());
            }
        }
        None if matches!(method, "GET" | "HEAD") && public_path(path) => return Ok(()),
        None => {}
    }
    Err(ApiError::forbidden(match info {
        Some(i) => {
            let resource = match &i.subresource {
                Some(sub) => format!("{}/{sub}", i.resource),
                None => i.resource.clone(),
            };
            let scope = match (&i.namespace, i.resource.as_str()) {
                (Some(ns), r) if r != "namespaces" => format!(" in the namespace \"{ns}\""),
                _ => String::new(),
            };
            let subject = match &i.name {
                Some(n) => format!("{} \"{n}\" is forbidden", qualified(&i.group, &i.resource)),
                None => format!("{} is forbidden", qualified(&i.group, &i.resource)),
            };
            let scope =
                if scope.is_empty() && i.resource != "namespaces" { " at the cluster scope".into() } else { scope };
            format!(
                "{subject}: User \"{}\" cannot {} resource \"{resource}\" in API group \"{}\"{scope}",
                user.name, i.verb, i.group
            )
        }
        None => format!("forbidden: User \"{}\" cannot {} path \"{path}\"", user.name, method.to_ascii_lowercase()),
    }))
}

/// Non-resource paths every authenticated user may read.
fn public_path(path: &str) -> bool {
    matches!(path, "/api" | "/apis" | "/version" | "/healthz" | "/livez" | "/readyz" | "/openapi/v2")
        || ["/api/", "/apis/", "/openapi/v3", "/.well-known/openid-configuration", "/openid/v1/jwks"]
            .iter()
            .any(|p| path.starts_with(p))
}

fn qualified(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    }
}
