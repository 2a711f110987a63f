//! OpenAPI v3 documents: the index at `/openapi/v3` and one document per group/version
//! at `/openapi/v3/api/v1` and `/openapi/v3/apis/<group>/<version>`.
//!
//! Each document has the paths of its resources with the operations and extensions
//! clients look for (kubectl: a PATCH per kind with `x-kubernetes-group-version-kind` and
//! the `fieldValidation` parameter, the strategic merge patch content type), and the
//! component schemas of its kinds, from `kolibri_resources::schema`.
//!
//! Documents are built on first request, not at start: the core/v1 document alone is
//! megabytes of JSON. The index needs every document's content hash, so it builds them all.

mod custom;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};

use kolibri_resources::schema::{self, REF_PREFIX};
use kolibri_resources::{ResourceDef, SubresourceDef};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";

/// The OpenAPI v3 documents of a set of served resources.
pub struct OpenApiDocs {
    /// Keyed by the path below `/openapi/v3/` (`api/v1`, `apis/apps/v1`).
    docs: BTreeMap<String, Arc<LazyDoc>>,
    index: OnceLock<Vec<u8>>,
}

struct LazyDoc {
    resources: Vec<Arc<ResourceDef>>,
    built: OnceLock<(Vec<u8>, String)>,
}

impl LazyDoc {
    fn get(&self) -> &(Vec<u8>, String) {
        self.built.get_or_init(|| {
            let bytes = document_json(&self.resources).to_string().into_bytes();
            let hash = content_hash(&bytes);
            (bytes, hash)
        })
    }
}

impl OpenApiDocs {
    /// Groups `resources` by group/version; documents are built on first use.
    pub fn build(resources: &[Arc<ResourceDef>]) -> OpenApiDocs {
        let docs = group_by_path(resources)
            .into_iter()
            .map(|(path, resources)| (path, Arc::new(LazyDoc { resources, built: OnceLock::new() })))
            .collect();
        OpenApiDocs { docs, index: OnceLock::new() }
    }

    /// The documents of a changed set of resources; documents of group/versions whose
    /// resources are the same are kept with what they already built.
    pub fn rebuild(&self, resources: &[Arc<ResourceDef>]) -> OpenApiDocs {
        let docs = group_by_path(resources)
            .into_iter()
            .map(|(path, resources)| {
                let doc = match self.docs.get(&path) {
                    Some(old)
                        if old.resources.len() == resources.len()
                            && old.resources.iter().zip(&resources).all(|(a, b)| Arc::ptr_eq(a, b)) =>
                    {
                        old.clone()
                    }
                    _ => Arc::new(LazyDoc { resources, built: OnceLock::new() }),
                };
                (path, doc)
            })
            .collect();
        OpenApiDocs { docs, index: OnceLock::new() }
    }

    /// The index document: `{"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=..."}}}`.
    pub fn index(&self) -> &[u8] {
        self.index.get_or_init(|| {
            let paths: Map<String, Value> = self
                .docs
                .iter()
                .map(|(path, doc)| {
                    let (_, hash) = doc.get();
                    let url = format!("/openapi/v3/{path}?hash={hash}");
                    (path.clone(), json!({ "serverRelativeURL": url }))
                })
                .collect();
            json!({ "paths": paths }).to_string().into_bytes()
        })
    }

    /// The document of a group/version (`api/v1`, `apis/apps/v1`) and its content hash.
    pub fn document(&self, gv_path: &str) -> Option<(&[u8], &str)> {
        let (bytes, hash) = self.docs.get(gv_path)?.get();
        Some((bytes, hash))
    }
}

fn group_by_path(resources: &[Arc<ResourceDef>]) -> BTreeMap<String, Vec<Arc<ResourceDef>>> {
    let mut out: BTreeMap<String, Vec<Arc<ResourceDef>>> = BTreeMap::new();
    for def in resources {
        out.entry(gv_path(def)).or_default().push(def.clone());
    }
    out
}

/// `api/v1` or `apis/<group>/<version>`.
fn gv_path(def: &ResourceDef) -> String {
    if def.group.is_empty() {
        format!("api/{}", def.version)
    } else {
        format!("apis/{}/{}", def.group, def.version)
    }
}

/// Upstream hashes documents with SHA-512; a 128-bit prefix of SHA-256, in upper-case hex,
/// is as good a cache key.
fn content_hash(bytes: &[u8]) -> String {
    hex::encode_upper(&Sha256::digest(bytes)[..16])
}

fn document_json(resources: &[Arc<ResourceDef>]) -> Value {
    let mut paths = Map::new();
    let mut roots: BTreeSet<&'static str> = [STATUS, DELETE_OPTIONS].into_iter().collect();
    let mut custom = Map::new();
    for def in resources {
        if let Some(info) = &def.custom {
            custom::add_schemas(def, info, &mut custom, &mut roots);
        }
        add_resource_paths(def, &mut paths, &mut roots);
    }
    let mut schemas = closure(&roots);
    schemas.extend(custom);
    schemas.insert(
        PATCH.to_owned(),
        json!({
            "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body.",
            "type": "object",
        }),
    );
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "v1.33.0" },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                },
            },
        },
    })
}

/// Everything `roots` reference, transitively.
fn closure(roots: &BTreeSet<&'static str>) -> Map<String, Value> {
    let definitions = schema::definitions();
    let mut out = Map::new();
    let mut pending: Vec<&str> = roots.iter().copied().collect();
    while let Some(name) = pending.pop() {
        if out.contains_key(name) {
            continue;
        }
        let Some(schema) = definitions.get(name) else {
            continue;
        };
        collect_refs(schema, &mut pending);
        out.insert(name.to_owned(), schema.clone());
    }
    out
}

fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            // Only string `$ref`s are references (JSONSchemaProps has a property named `$ref`).
            if let Some(name) = map.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix(REF_PREFIX)) {
                out.push(name);
            }
            map.values().for_each(|v| collect_refs(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
        _ => {}
    }
}

/// What a path's operations exchange.
#[derive(Clone)]
struct Target<'a> {
    group: &'a str,
    version: &'a str,
    kind: &'a str,
    /// Component schema of the body, if the kind has one.
    definition: Option<String>,
    /// `Status`, `Scale`, ... for operation ids.
    suffix: String,
}

fn add_resource_paths(def: &ResourceDef, paths: &mut Map<String, Value>, roots: &mut BTreeSet<&'static str>) {
    let prefix = if def.group.is_empty() {
        format!("/api/{}", def.version)
    } else {
        format!("/apis/{}/{}", def.group, def.version)
    };
    let has = |verb: &str| def.verbs.iter().any(|v| v == verb);
    let (definition, list_definition) = match &def.custom {
        Some(_) => {
            let name = custom::definition_name(def);
            (Some(name.clone()), Some(format!("{name}List")))
        }
        None => {
            let definition = schema::definition_name(&def.group, &def.version, &def.kind);
            let list_definition = schema::definition_name(&def.group, &def.version, &def.list_kind);
            roots.extend(definition);
            roots.extend(list_definition);
            (definition.map(str::to_string), list_definition.map(str::to_string))
        }
    };
    let target =
        Target { group: &def.group, version: &def.version, kind: &def.kind, definition, suffix: String::new() };
    let ops = Ops { def, namespaced: def.namespaced };

    let (collection, item) = if def.namespaced {
        (
            format!("{prefix}/namespaces/{{namespace}}/{}", def.plural),
            format!("{prefix}/namespaces/{{namespace}}/{}/{{name}}", def.plural),
        )
    } else {
        (format!("{prefix}/{}", def.plural), format!("{prefix}/{}/{{name}}", def.plural))
    };

    let mut path = PathItem::new(&ops, false);
    if has("list") {
        let list_target = Target { definition: list_definition.clone(), ..target.clone() };
        path.op("get", ops.list(&list_target, false));
    }
    if has("create") {
        path.op("post", ops.create(&target));
    }
    if has("deletecollection") {
        path.op("delete", ops.delete_collection(&target));
    }
    path.insert(paths, collection);

    let mut path = PathItem::new(&ops, true);
    if has("get") {
        path.op("get", ops.read(&target));
    }
    if has("update") {
        path.op("put", ops.replace(&target));
    }
    if has("patch") {
        path.op("patch", ops.patch(&target));
    }
    if has("delete") {
        path.op("delete", ops.delete(&target));
    }
    path.insert(paths, item.clone());

    if def.namespaced && has("list") {
        let list_target = Target { definition: list_definition.clone(), ..target.clone() };
        let mut path = PathItem::new(&Ops { def, namespaced: false }, false);
        path.op("get", ops.list(&list_target, true));
        path.insert(paths, format!("{prefix}/{}", def.plural));
    }

    for sub in &def.subresources {
        add_subresource_path(def, sub, &ops, &item, paths, roots);
    }
}

fn add_subresource_path(
    def: &ResourceDef,
    sub: &SubresourceDef,
    ops: &Ops,
    item: &str,
    paths: &mut Map<String, Value>,
    roots: &mut BTreeSet<&'static str>,
) {
    let (group, version, kind) = if sub.kind.is_empty() {
        (def.group.as_str(), def.version.as_str(), def.kind.as_str())
    } else {
        (sub.group.as_str(), sub.version.as_str(), sub.kind.as_str())
    };
    let definition = match schema::definition_name(group, version, kind) {
        Some(name) => {
            roots.insert(name);
            Some(name.to_string())
        }
        // A custom resource's own subresource (status) has the resource's schema.
        None if def.custom.is_some() && kind == def.kind => Some(custom::definition_name(def)),
        None => None,
    };
    let target = Target { group, version, kind, definition, suffix: upper_first(&sub.name) };
    let connect = matches!(sub.name.as_str(), "exec" | "attach" | "portforward" | "proxy");
    let has = |verb: &str| sub.verbs.iter().any(|v| v == verb);
    let mut path = PathItem::new(ops, true);
    if connect {
        for (method, verb) in [("get", "get"), ("post", "create")] {
            if has(verb) {
                path.op(method, ops.connect(&target, method));
            }
        }
    } else {
        if has("get") {
            path.op("get", ops.read(&target));
        }
        if has("create") {
            path.op("post", ops.create(&target));
        }
        if has("update") {
            path.op("put", ops.replace(&target));
        }
        if has("patch") {
            path.op("patch", ops.patch(&target));
        }
    }
    path.insert(paths, format!("{item}/{}", sub.name));
}

/// One path and its operations.
struct PathItem {
    item: Map<String, Value>,
}

impl PathItem {
    fn new(ops: &Ops, named: bool) -> PathItem {
        let mut parameters = Vec::new();
        if named {
            parameters.push(path_param("name", &format!("name of the {}", ops.def.kind)));
        }
        if ops.namespaced {
            parameters.push(path_param("namespace", "object name and auth scope, such as for teams and projects"));
        }
        parameters.push(query_param(
            "pretty",
            "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget).",
            "string",
        ));
        let mut item = Map::new();
        item.insert("parameters".into(), Value::Array(parameters));
        PathItem { item }
    }

    fn op(&mut self, method: &str, operation: Value) {
        self.item.insert(method.into(), operation);
    }

    fn insert(self, paths: &mut Map<String, Value>, path: String) {
        // A path with only its parameters has no operations to offer.
        if self.item.len() > 1 {
            paths.insert(path, Value::Object(self.item));
        }
    }
}

/// Builds the operations of one resource.
struct Ops<'a> {
    def: &'a ResourceDef,
    namespaced: bool,
}

impl Ops<'_> {
    fn operation(&self, verb: &str, action: &str, target: &Target, all_namespaces: bool) -> Map<String, Value> {
        let namespaced = if self.namespaced && !all_namespaces { "Namespaced" } else { "" };
        let for_all = if all_namespaces { "ForAllNamespaces" } else { "" };
        let operation_id = format!(
            "{verb}{}{namespaced}{}{}{for_all}",
            gv_camel(&self.def.group, &self.def.version),
            self.def.kind,
            target.suffix
        );
        let mut op = Map::new();
        op.insert("operationId".into(), operation_id.into());
        op.insert("tags".into(), json!([gv_tag(&self.def.group, &self.def.version)]));
        op.insert("x-kubernetes-action".into(), action.into());
        op.insert(
            "x-kubernetes-group-version-kind".into(),
            json!({ "group": target.group, "version": target.version, "kind": target.kind }),
        );
        op
    }

    fn response_content(&self, definition: Option<&str>) -> Value {
        let schema = definition.map_or_else(|| json!({ "type": "object" }), schema_ref);
        let mut content = Map::new();
        let mut types = vec!["application/json", "application/yaml"];
        if self.def.protobuf {
            types.push("application/vnd.kubernetes.protobuf");
        }
        for t in types {
            content.insert(t.into(), json!({ "schema": schema }));
        }
        json!({ "description": "OK", "content": content })
    }

    fn responses(&self, codes: &[&str], definition: Option<&str>) -> Value {
        let mut responses = Map::new();
        for code in codes {
            let mut r = self.response_content(definition);
            r["description"] = match *code {
                "201" => "Created",
                "202" => "Accepted",
                _ => "OK",
            }
            .into();
            responses.insert((*code).into(), r);
        }
        responses.insert("401".into(), json!({ "description": "Unauthorized" }));
        Value::Object(responses)
    }

    fn body(definition: Option<&str>) -> Value {
        let schema = definition.map_or_else(|| json!({ "type": "object" }), schema_ref);
        json!({ "content": { "*/*": { "schema": schema } }, "required": true })
    }

    fn list(&self, target: &Target, all_namespaces: bool) -> Value {
        let mut op = self.operation("list", "list", target, all_namespaces);
        op.insert("description".into(), format!("list or watch objects of kind {}", target.kind).into());
        op.insert(
            "parameters".into(),
            json!([
                query_param("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\".", "boolean"),
                query_param("continue", "The continue option should be set when retrieving more results from the server.", "string"),
                query_param("fieldSelector", "A selector to restrict the list of returned objects by their fields. Defaults to everything.", "string"),
                query_param("labelSelector", "A selector to restrict the list of returned objects by their labels. Defaults to everything.", "string"),
                query_param("limit", "limit is a maximum number of responses to return for a list call.", "integer"),
                query_param("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from.", "string"),
                query_param("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls.", "string"),
                query_param("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`.", "boolean"),
                query_param("timeoutSeconds", "Timeout for the list/watch call.", "integer"),
                query_param("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.", "boolean"),
            ]),
        );
        op.insert("responses".into(), self.responses(&["200"], target.definition.as_deref()));
        Value::Object(op)
    }

    fn read(&self, target: &Target) -> Value {
        let mut op = self.operation("read", "get", target, false);
        op.insert("description".into(), format!("read the specified {}", target.kind).into());
        op.insert("responses".into(), self.responses(&["200"], target.definition.as_deref()));
        Value::Object(op)
    }

    fn create(&self, target: &Target) -> Value {
        let mut op = self.operation("create", "post", target, false);
        op.insert("description".into(), format!("create a {}", target.kind).into());
        op.insert("parameters".into(), write_params(false));
        op.insert("requestBody".into(), Self::body(target.definition.as_deref()));
        op.insert("responses".into(), self.responses(&["200", "201", "202"], target.definition.as_deref()));
        Value::Object(op)
    }

    fn replace(&self, target: &Target) -> Value {
        let mut op = self.operation("replace", "put", target, false);
        op.insert("description".into(), format!("replace the specified {}", target.kind).into());
        op.insert("parameters".into(), write_params(false));
        op.insert("requestBody".into(), Self::body(target.definition.as_deref()));
        op.insert("responses".into(), self.responses(&["200", "201"], target.definition.as_deref()));
        Value::Object(op)
    }

    fn patch(&self, target: &Target) -> Value {
        let mut op = self.operation("patch", "patch", target, false);
        op.insert("description".into(), format!("partially update the specified {}", target.kind).into());
        op.insert("parameters".into(), write_params(true));
        let mut content = Map::new();
        let mut types =
            vec!["application/apply-patch+yaml", "application/json-patch+json", "application/merge-patch+json"];
        // Strategic merge patch needs the kind's patch strategies (built-in kinds only).
        if target.definition.is_some() && self.def.protobuf {
            types.push("application/strategic-merge-patch+json");
        }
        for t in types {
            content.insert(t.into(), json!({ "schema": schema_ref(PATCH) }));
        }
        op.insert("requestBody".into(), json!({ "content": content, "required": true }));
        op.insert("responses".into(), self.responses(&["200", "201"], target.definition.as_deref()));
        Value::Object(op)
    }

    fn delete(&self, target: &Target) -> Value {
        let mut op = self.operation("delete", "delete", target, false);
        op.insert("description".into(), format!("delete a {}", target.kind).into());
        op.insert("parameters".into(), delete_params());
        op.insert("requestBody".into(), json!({ "content": { "*/*": { "schema": schema_ref(DELETE_OPTIONS) } } }));
        op.insert("responses".into(), self.responses(&["200", "202"], Some(STATUS)));
        Value::Object(op)
    }

    fn delete_collection(&self, target: &Target) -> Value {
        let mut op = self.operation("deletecollection", "deletecollection", target, false);
        op.insert("description".into(), format!("delete collection of {}", target.kind).into());
        op.insert("parameters".into(), delete_params());
        op.insert("requestBody".into(), json!({ "content": { "*/*": { "schema": schema_ref(DELETE_OPTIONS) } } }));
        op.insert("responses".into(), self.responses(&["200"], Some(STATUS)));
        Value::Object(op)
    }

    fn connect(&self, target: &Target, method: &str) -> Value {
        let verb = if method == "get" { "connectGet" } else { "connectPost" };
        let mut op = self.operation(verb, "connect", target, false);
        op.insert(
            "description".into(),
            format!(
                "connect {} requests to {} of {}",
                method.to_uppercase(),
                target.suffix.to_lowercase(),
                self.def.kind
            )
            .into(),
        );
        op.insert(
            "responses".into(),
            json!({ "200": { "description": "OK", "content": { "*/*": { "schema": { "type": "string" } } } } }),
        );
        Value::Object(op)
    }
}

fn write_params(patch: bool) -> Value {
    let mut params = vec![
        query_param(
            "dryRun",
            "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
            "string",
        ),
        query_param(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes. The value must be less than or 128 characters long, and only contain printable characters, as defined by https://golang.org/pkg/unicode/#IsPrint.",
            "string",
        ),
        query_param(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. The request will still succeed if there are no other errors, and will only persist the last of any duplicate fields. This is the default in v1.23+ - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered.",
            "string",
        ),
    ];
    if patch {
        params.push(query_param(
            "force",
            "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests.",
            "boolean",
        ));
    }
    Value::Array(params)
}

fn delete_params() -> Value {
    json!([
        query_param("dryRun", "When present, indicates that modifications should not be persisted.", "string"),
        query_param("gracePeriodSeconds", "The duration in seconds before the object should be deleted.", "integer"),
        query_param("propagationPolicy", "Whether and how garbage collection will be performed. Acceptable values are: 'Orphan', 'Background', 'Foreground'.", "string"),
    ])
}

fn query_param(name: &str, description: &str, ty: &str) -> Value {
    json!({
        "name": name,
        "in": "query",
        "description": description,
        "schema": { "type": ty, "uniqueItems": true },
    })
}

fn path_param(name: &str, description: &str) -> Value {
    json!({
        "name": name,
        "in": "path",
        "description": description,
        "required": true,
        "schema": { "type": "string", "uniqueItems": true },
    })
}

fn schema_ref(definition: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{definition}") })
}

/// `core_v1`, `apps_v1`, `rbacAuthorization_v1`, as upstream's tags.
fn gv_tag(group: &str, version: &str) -> String {
    let camel = group_camel(group);
    let mut chars = camel.chars();
    let lower: String = chars.next().map(|c| c.to_ascii_lowercase()).into_iter().chain(chars).collect();
    format!("{lower}_{version}")
}

/// `CoreV1`, `AppsV1`, `RbacAuthorizationV1`, as in upstream's operation ids.
fn gv_camel(group: &str, version: &str) -> String {
    format!("{}{}", group_camel(group), upper_first(version))
}

fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".into();
    }
    group.trim_end_matches(".k8s.io").split(['.', '-']).map(upper_first).collect()
}

fn upper_first(s: &str) -> String {
    let mut chars = s.chars();
    chars.next().map(|c| c.to_ascii_uppercase()).into_iter().chain(chars).collect()
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use kolibri_resources::{DecodeError, FieldError, Strategy};

    use super::*;

    struct NoStrategy;

    impl Strategy for NoStrategy {
        fn normalize(&self, obj: Value) -> Result<(Value, Vec<String>), DecodeError> {
            Ok((obj, Vec::new()))
        }
        fn default(&self, _: &mut Value) {}
        fn prepare_for_create(&self, _: &mut Value) {}
        fn prepare_for_update(&self, _: &mut Value, _: &Value) {}
        fn validate_create(&self, _: &Value) -> Vec<FieldError> {
            Vec::new()
        }
        fn validate_update(&self, _: &Value, _: &Value) -> Vec<FieldError> {
            Vec::new()
        }
        fn selectable_fields(&self) -> &'static [&'static str] {
            &[]
        }
        fn field_value(&self, _: &Value, _: &str) -> Option<String> {
            None
        }
        fn bumps_generation(&self, _: &Value, _: &Value) -> bool {
            false
        }
    }

    const ALL_VERBS: &[&str] = &["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

    fn def(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Arc<ResourceDef> {
        Arc::new(ResourceDef {
            group: group.into(),
            version: version.into(),
            kind: kind.into(),
            list_kind: format!("{kind}List"),
            plural: plural.into(),
            singular: kind.to_lowercase(),
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
            subresources: Vec::new(),
            has_status: false,
            protobuf: !group.contains("example"),
            strategy: Arc::new(NoStrategy),
            custom: None,
        })
    }

    fn sub(name: &str, gvk: (&str, &str, &str)) -> SubresourceDef {
        SubresourceDef {
            name: name.into(),
            group: gvk.0.into(),
            version: gvk.1.into(),
            kind: gvk.2.into(),
            verbs: vec!["get".into(), "patch".into(), "update".into()],
        }
    }

    fn resources() -> Vec<Arc<ResourceDef>> {
        let mut deployment = (*def("apps", "v1", "Deployment", "deployments", true)).clone();
        deployment.subresources = vec![sub("status", ("", "", "")), sub("scale", ("autoscaling", "v1", "Scale"))];
        vec![
            def("", "v1", "Pod", "pods", true),
            def("", "v1", "Namespace", "namespaces", false),
            Arc::new(deployment),
            def("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false),
            def("stable.example.com", "v1", "CronTab", "crontabs", true),
        ]
    }

    fn doc(docs: &OpenApiDocs, gv: &str) -> Value {
        serde_json::from_slice(docs.document(gv).unwrap().0).unwrap()
    }

    #[test]
    fn index_lists_every_group_version() {
        let docs = OpenApiDocs::build(&resources());
        let index: Value = serde_json::from_slice(docs.index()).unwrap();
        let paths = index["paths"].as_object().unwrap();
        assert_eq!(
            paths.keys().collect::<Vec<_>>(),
            vec!["api/v1", "apis/apps/v1", "apis/rbac.authorization.k8s.io/v1", "apis/stable.example.com/v1"]
        );
        let (_, hash) = docs.document("apis/apps/v1").unwrap();
        assert_eq!(paths["apis/apps/v1"]["serverRelativeURL"], format!("/openapi/v3/apis/apps/v1?hash={hash}"));
        assert_eq!(hash.len(), 32);
        assert!(hash.chars().all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()));
        assert!(docs.document("apis/nope/v1").is_none());
    }

    #[test]
    fn deployment_patch_has_field_validation_and_gvk() {
        let docs = OpenApiDocs::build(&resources());
        let apps = doc(&docs, "apis/apps/v1");
        assert_eq!(apps["openapi"], "3.0.0");
        let item = &apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"];
        let patch = &item["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(patch["x-kubernetes-action"], "patch");
        assert!(patch["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "fieldValidation" && p["in"] == "query"));
        let content = patch["requestBody"]["content"].as_object().unwrap();
        for t in [
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        ] {
            assert!(content.contains_key(t), "{t}");
        }
        assert_eq!(
            patch["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.api.apps.v1.Deployment"
        );
        // Collection, all-namespaces list, subresources.
        let paths = apps["paths"].as_object().unwrap();
        assert_eq!(paths["/apis/apps/v1/namespaces/{namespace}/deployments"]["get"]["x-kubernetes-action"], "list");
        assert!(paths["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"].is_object());
        assert!(paths["/apis/apps/v1/deployments"]["get"].is_object());
        assert_eq!(
            paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"]["patch"]
                ["x-kubernetes-group-version-kind"],
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
        );
        assert_eq!(
            paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status"]["put"]
                ["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        let schemas = apps["components"]["schemas"].as_object().unwrap();
        for name in [
            "io.k8s.api.apps.v1.Deployment",
            "io.k8s.api.apps.v1.DeploymentList",
            "io.k8s.api.autoscaling.v1.Scale",
            "io.k8s.api.core.v1.PodSpec",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
        ] {
            assert!(schemas.contains_key(name), "{name}");
        }
        assert!(!schemas.contains_key("io.k8s.api.core.v1.Namespace"));
    }

    #[test]
    fn components_carry_patch_extensions_and_are_closed() {
        let docs = OpenApiDocs::build(&resources());
        let core = doc(&docs, "api/v1");
        let schemas = core["components"]["schemas"].as_object().unwrap();
        let containers = &schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
        assert_eq!(containers["x-kubernetes-patch-strategy"], "merge");
        assert_eq!(containers["x-kubernetes-patch-merge-key"], "name");
        assert_eq!(
            schemas["io.k8s.api.core.v1.Pod"]["x-kubernetes-group-version-kind"],
            json!([{"group": "", "kind": "Pod", "version": "v1"}])
        );
        // Every reference resolves inside the document.
        let mut refs = Vec::new();
        collect_refs(&core, &mut refs);
        for r in refs {
            assert!(schemas.contains_key(r), "dangling {r}");
        }
        // Cluster-scoped: no namespace forms.
        let paths = core["paths"].as_object().unwrap();
        assert!(paths.contains_key("/api/v1/namespaces/{name}"));
        assert!(paths.contains_key("/api/v1/namespaces/{namespace}/pods/{name}"));
        assert!(paths.contains_key("/api/v1/pods"));
    }

    #[test]
    fn custom_resources_have_no_strategic_merge_patch() {
        let docs = OpenApiDocs::build(&resources());
        let crd = doc(&docs, "apis/stable.example.com/v1");
        let patch = &crd["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"];
        let content = patch["requestBody"]["content"].as_object().unwrap();
        assert!(!content.contains_key("application/strategic-merge-patch+json"));
        assert!(content.contains_key("application/merge-patch+json"));
        assert!(patch["parameters"].as_array().unwrap().iter().any(|p| p["name"] == "fieldValidation"));
    }

    #[test]
    fn hash_changes_with_content() {
        let docs = OpenApiDocs::build(&resources());
        let (bytes, hash) = docs.document("api/v1").unwrap();
        assert_eq!(hash, content_hash(bytes));
        let mut fewer = resources();
        fewer.retain(|d| d.kind != "Namespace");
        let other = OpenApiDocs::build(&fewer);
        let (_, other_hash) = other.document("api/v1").unwrap();
        assert_ne!(hash, other_hash);
        // Unchanged documents keep their hash.
        assert_eq!(docs.document("apis/apps/v1").unwrap().1, other.document("apis/apps/v1").unwrap().1);
        assert_ne!(docs.index(), other.index());
    }

    #[test]
    fn build_cost() {
        let start = Instant::now();
        let docs = OpenApiDocs::build(&resources());
        let built = start.elapsed();
        docs.index();
        let total = start.elapsed();
        eprintln!("build {built:?}, all documents {total:?}");
        // Grouping only; documents are built on demand.
        assert!(built.as_millis() < 50);
    }
}
