//! Parses a request path into what it addresses, as upstream's `RequestInfoFactory`.

use http::Method;

/// What a resource request addresses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestInfo {
    /// Empty for the core group.
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// get, list, watch, create, update, patch, delete, deletecollection
    pub verb: &'static str,
}

/// A parsed request path.
#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    /// `/api`, `/apis`: group discovery.
    Api,
    Apis,
    /// `/apis/<group>`.
    Group(String),
    /// `/api/v1`, `/apis/<group>/<version>`.
    GroupVersion {
        group: String,
        version: String,
    },
    Resource(RequestInfo),
    /// Anything else (`/version`, `/healthz`, `/openapi/v3/...`): served by path.
    NonResource,
}

const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Parses `path` requested with `method`; `watch` is the `watch` query parameter.
pub fn parse(method: &Method, path: &str, watch: bool) -> Target {
    let parts: Vec<&str> = path.trim_matches('/').split('/').filter(|p| !p.is_empty()).collect();
    let (group, version, rest) = match parts.as_slice() {
        ["api"] => return Target::Api,
        ["apis"] => return Target::Apis,
        ["apis", group] => return Target::Group((*group).to_string()),
        ["api", version] => return Target::GroupVersion { group: String::new(), version: (*version).to_string() },
        ["apis", group, version] => {
            return Target::GroupVersion { group: (*group).to_string(), version: (*version).to_string() }
        }
        ["api", version, rest @ ..] => (String::new(), (*version).to_string(), rest),
        ["apis", group, version, rest @ ..] => ((*group).to_string(), (*version).to_string(), rest),
        _ => return Target::NonResource,
    };
    let mut rest: Vec<&str> = rest.to_vec();
    // The deprecated `/watch/` prefix.
    let mut watch = watch;
    if rest.first() == Some(&"watch") {
        watch = true;
        rest.remove(0);
    }
    let mut namespace = None;
    if rest.first() == Some(&"namespaces") && rest.len() > 1 {
        namespace = Some(rest[1].to_string());
        if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
            rest.drain(..2);
        }
    }
    let Some(resource) = rest.first() else { return Target::NonResource };
    if rest.len() > 3 {
        return Target::NonResource;
    }
    let name = rest.get(1).map(|s| s.to_string());
    let subresource = rest.get(2).map(|s| s.to_string());
    let verb = match (method.as_str(), name.is_some()) {
        ("GET" | "HEAD", _) if watch => "watch",
        ("GET" | "HEAD", true) => "get",
        ("GET" | "HEAD", false) => "list",
        ("POST", _) => "create",
        ("PUT", _) => "update",
        ("PATCH", _) => "patch",
        ("DELETE", true) => "delete",
        ("DELETE", false) => "deletecollection",
        _ => "unknown",
    };
    Target::Resource(RequestInfo {
        group,
        version,
        namespace,
        resource: (*resource).to_string(),
        name,
        subresource,
        verb,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(method: Method, path: &str) -> RequestInfo {
        match parse(&method, path, false) {
            Target::Resource(i) => i,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn namespaced_item_and_subresource() {
        let i = info(Method::GET, "/api/v1/namespaces/ns/pods/p/status");
        assert_eq!((i.namespace.as_deref(), i.resource.as_str(), i.name.as_deref()), (Some("ns"), "pods", Some("p")));
        assert_eq!(i.subresource.as_deref(), Some("status"));
        assert_eq!(i.verb, "get");
    }

    #[test]
    fn namespace_itself() {
        let i = info(Method::DELETE, "/api/v1/namespaces/foo");
        assert_eq!((i.resource.as_str(), i.name.as_deref(), i.verb), ("namespaces", Some("foo"), "delete"));
        let i = info(Method::PUT, "/api/v1/namespaces/foo/finalize");
        assert_eq!(i.subresource.as_deref(), Some("finalize"));
    }

    #[test]
    fn collections_and_watch() {
        let i = info(Method::GET, "/apis/apps/v1/deployments");
        assert_eq!((i.group.as_str(), i.verb, i.namespace), ("apps", "list", None));
        match parse(&Method::GET, "/api/v1/watch/namespaces/a/pods", false) {
            Target::Resource(i) => assert_eq!((i.verb, i.namespace.as_deref()), ("watch", Some("a"))),
            other => panic!("{other:?}"),
        }
        assert_eq!(info(Method::DELETE, "/api/v1/namespaces/a/pods").verb, "deletecollection");
    }

    #[test]
    fn discovery_paths() {
        assert_eq!(parse(&Method::GET, "/apis/apps", false), Target::Group("apps".into()));
        assert_eq!(parse(&Method::GET, "/version", false), Target::NonResource);
    }
}
