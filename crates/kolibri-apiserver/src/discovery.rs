//! Discovery documents: `/api`, `/apis`, group and group/version resource lists, and the
//! aggregated discovery (`apidiscovery.k8s.io/v2`) that current clients ask for first.
//! All are built once per registry change and served as bytes.

use std::collections::HashMap;

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use kolibri_resources::{Registry, ResourceDef};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::negotiate::MediaRange;
use crate::request_info::Target;
use crate::response::{self, Body};
use crate::status::{ApiError, ApiResult};
use crate::Config;

const AGGREGATED_CONTENT_TYPE: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// A pre-rendered document and its ETag.
struct Doc {
    body: Bytes,
    etag: String,
}

impl Doc {
    fn new(value: &Value) -> Self {
        let body = Bytes::from(serde_json::to_vec(value).unwrap_or_default());
        let digest = Sha256::digest(&body);
        let etag = format!("\"{}\"", hex::encode_upper(&digest[..16]));
        Self { body, etag }
    }
}

pub struct Discovery {
    api: Doc,
    apis: Doc,
    groups: HashMap<String, Doc>,
    group_versions: HashMap<(String, String), Doc>,
    aggregated_api: Doc,
    aggregated_apis: Doc,
}

impl Discovery {
    pub fn build(registry: &Registry, config: &Config) -> Self {
        let address = format!("{}:{}", config.advertise_address, config.advertise_port);
        let api = Doc::new(&json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": address }],
        }));
        let mut groups_json = Vec::new();
        let mut groups = HashMap::new();
        let mut group_versions = HashMap::new();
        let mut aggregated_core = Vec::new();
        let mut aggregated_groups = Vec::new();
        for (group, versions) in registry.groups() {
            let version_entries: Vec<Value> =
                versions.iter().map(|v| json!({ "groupVersion": group_version(&group, v), "version": v })).collect();
            let mut aggregated_versions = Vec::new();
            for version in &versions {
                let defs: Vec<&ResourceDef> = registry
                    .all()
                    .iter()
                    .map(|d| d.as_ref())
                    .filter(|d| d.group == group && &d.version == version)
                    .collect();
                group_versions
                    .insert((group.clone(), version.clone()), Doc::new(&resource_list(&group, version, &defs)));
                aggregated_versions.push(json!({
                    "version": version,
                    "freshness": "Current",
                    "resources": defs.iter().map(|d| aggregated_resource(d)).collect::<Vec<_>>(),
                }));
            }
            if group.is_empty() {
                aggregated_core.push(json!({ "metadata": { "name": "" }, "versions": aggregated_versions }));
                continue;
            }
            let group_json = json!({
                "name": group,
                "versions": version_entries,
                "preferredVersion": version_entries.first().cloned().unwrap_or(Value::Null),
            });
            let mut single = group_json.clone();
            single["kind"] = json!("APIGroup");
            single["apiVersion"] = json!("v1");
            groups.insert(group.clone(), Doc::new(&single));
            groups_json.push(group_json);
            aggregated_groups.push(json!({ "metadata": { "name": group }, "versions": aggregated_versions }));
        }
        let apis = Doc::new(&json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups_json }));
        let aggregated = |items: Vec<Value>| {
            Doc::new(&json!({
                "kind": "APIGroupDiscoveryList",
                "apiVersion": "apidiscovery.k8s.io/v2",
                "metadata": {},
                "items": items,
            }))
        };
        Self {
            api,
            apis,
            groups,
            group_versions,
            aggregated_api: aggregated(aggregated_core),
            aggregated_apis: aggregated(aggregated_groups),
        }
    }

    pub fn serve(
        &self,
        target: &Target,
        accept: &[MediaRange],
        if_none_match: Option<&str>,
    ) -> ApiResult<Response<Body>> {
        let aggregated = wants_aggregated(accept);
        let (doc, content_type) = match target {
            Target::Api if aggregated => (&self.aggregated_api, AGGREGATED_CONTENT_TYPE),
            Target::Apis if aggregated => (&self.aggregated_apis, AGGREGATED_CONTENT_TYPE),
            Target::Api => (&self.api, "application/json"),
            Target::Apis => (&self.apis, "application/json"),
            Target::Group(g) => (self.groups.get(g).ok_or_else(ApiError::not_found_path)?, "application/json"),
            Target::GroupVersion { group, version } => (
                self.group_versions.get(&(group.clone(), version.clone())).ok_or_else(ApiError::not_found_path)?,
                "application/json",
            ),
            _ => return Err(ApiError::not_found_path()),
        };
        let mut resp = if if_none_match == Some(doc.etag.as_str()) {
            let mut r = response::text(StatusCode::NOT_MODIFIED, "");
            r.headers_mut().remove(header::CONTENT_TYPE);
            r
        } else {
            response::json(StatusCode::OK, doc.body.clone())
        };
        let ok = resp.status() == StatusCode::OK;
        let headers = resp.headers_mut();
        if ok {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        }
        if let Ok(v) = HeaderValue::from_str(&doc.etag) {
            headers.insert(header::ETAG, v);
        }
        headers.insert(header::VARY, HeaderValue::from_static("Accept"));
        Ok(resp)
    }
}

fn wants_aggregated(accept: &[MediaRange]) -> bool {
    for range in accept {
        if range.param("g") == Some("apidiscovery.k8s.io") && range.param("as") == Some("APIGroupDiscoveryList") {
            return matches!(range.param("v"), Some("v2"));
        }
        if matches!(range.mime.as_str(), "application/json" | "*/*") && range.params.is_empty() {
            return false;
        }
    }
    false
}

fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

fn resource_list(group: &str, version: &str, defs: &[&ResourceDef]) -> Value {
    let mut resources = Vec::new();
    for d in defs {
        let mut r = json!({
            "name": d.plural,
            "singularName": d.singular,
            "namespaced": d.namespaced,
            "kind": d.kind,
            "verbs": d.verbs,
        });
        if !d.short_names.is_empty() {
            r["shortNames"] = json!(d.short_names);
        }
        if !d.categories.is_empty() {
            r["categories"] = json!(d.categories);
        }
        resources.push(r);
        for s in &d.subresources {
            let mut sr = json!({
                "name": format!("{}/{}", d.plural, s.name),
                "singularName": "",
                "namespaced": d.namespaced,
                "kind": s.kind,
                "verbs": s.verbs,
            });
            if s.group != d.group || s.version != d.version {
                sr["group"] = json!(s.group);
                sr["version"] = json!(s.version);
            }
            resources.push(sr);
        }
    }
    json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version(group, version), "resources": resources })
}

fn aggregated_resource(d: &ResourceDef) -> Value {
    let mut r = json!({
        "resource": d.plural,
        "responseKind": { "group": d.group, "version": d.version, "kind": d.kind },
        "scope": if d.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": d.singular,
        "verbs": d.verbs,
    });
    if !d.short_names.is_empty() {
        r["shortNames"] = json!(d.short_names);
    }
    if !d.categories.is_empty() {
        r["categories"] = json!(d.categories);
    }
    if !d.subresources.is_empty() {
        r["subresources"] = json!(d
            .subresources
            .iter()
            .map(|s| json!({
                "subresource": s.name,
                "responseKind": { "group": s.group, "version": s.version, "kind": s.kind },
                "verbs": s.verbs,
            }))
            .collect::<Vec<_>>());
    }
    r
}
