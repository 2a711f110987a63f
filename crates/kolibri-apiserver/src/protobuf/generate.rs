//! Generator of `descriptors.rs` (test-only code, never part of the server).
//!
//! It reads two sources cargo has already fetched: k8s-pb's prost-generated
//! Rust (tags, wire types, labels, nested types) and k8s-openapi's generated
//! serde code (the exact Go JSON names and the kinds with their apiVersions).
//! The output is committed, so building kolibri needs neither file; the test
//! `descriptor_table_is_current` fails when the committed table is stale.
//! Regenerate with:
//! `KOLIBRI_REGENERATE_PROTOBUF=1 cargo test -p kolibri-apiserver --lib descriptor_table_is_current`

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::schema::Special;

/// Kinds with a protobuf form that k8s-openapi does not list as resources.
const EXTRA_KINDS: &[(&str, &str, &str)] = &[
    ("admission.k8s.io/v1", "AdmissionReview", "api.admission.v1"),
    ("apidiscovery.k8s.io/v2", "APIGroupDiscoveryList", "api.apidiscovery.v2"),
    ("apidiscovery.k8s.io/v2beta1", "APIGroupDiscoveryList", "api.apidiscovery.v2beta1"),
];

struct PbField {
    tag: u32,
    rust_name: String,
    ty: String,
    label: &'static str,
}

struct PbMessage {
    module: String,
    rust_name: String,
    fields: Vec<PbField>,
}

#[derive(Default)]
struct OpenApi {
    /// Definition (`api.core.v1.Pod`, dashes as underscores) → JSON field names.
    definitions: BTreeMap<String, Vec<String>>,
    /// (apiVersion, kind, module) of each resource and its list.
    kinds: BTreeSet<(String, String, String)>,
}

/// Lower case without separators: the key that matches `volume_id` to `volumeID`.
fn norm(s: &str) -> String {
    s.chars().filter(|c| c.is_ascii_alphanumeric()).map(|c| c.to_ascii_lowercase()).collect()
}

fn lower_camel(snake: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in snake.trim_start_matches("r#").chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn find_package(name: &str) -> Result<PathBuf, String> {
    let env_key = format!("KOLIBRI_{}_SRC", name.replace('-', "_").to_uppercase());
    if let Ok(dir) = std::env::var(&env_key) {
        return Ok(PathBuf::from(dir));
    }
    // The version the workspace resolved, from its lock file.
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let lock = manifest.ancestors().map(|d| d.join("Cargo.lock")).find(|p| p.exists()).ok_or("no Cargo.lock")?;
    let lock = std::fs::read_to_string(lock).map_err(|e| e.to_string())?;
    let marker = format!("name = \"{name}\"\nversion = \"");
    let at = lock.find(&marker).ok_or(format!("{name} not in Cargo.lock"))? + marker.len();
    let version = lock[at..].split('"').next().unwrap_or_default();
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map_err(|e| e.to_string())?;
    let registry = cargo_home.join("registry/src");
    for entry in std::fs::read_dir(&registry).map_err(|e| e.to_string())? {
        let dir = entry.map_err(|e| e.to_string())?.path().join(format!("{name}-{version}"));
        if dir.is_dir() {
            return Ok(dir);
        }
    }
    Err(format!("{name}-{version} not found under {}; run `cargo fetch` or set {env_key}", registry.display()))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Splits `string, optional, tag = "1"` at commas outside quotes.
fn attr_items(attr: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in attr.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => items.push(std::mem::take(&mut cur).trim().to_string()),
            _ => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        items.push(cur.trim().to_string());
    }
    items
}

/// The message path inside `Option<…>`, `Vec<…>`, `Box<…>` or a map's value.
fn inner_type(ty: &str) -> String {
    // rustfmt leaves a trailing comma in generics it wraps over lines.
    let mut t: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    t = t.trim_end_matches(',').replace(",>", ">");
    loop {
        let Some(open) = t.find('<') else {
            return t;
        };
        let inner = &t[open + 1..t.len().saturating_sub(1)];
        t = if t[..open].ends_with("BTreeMap") {
            // Key is always `String`, which has no generic arguments.
            inner.split_once(',').map(|(_, v)| v.to_string()).unwrap_or_default()
        } else {
            inner.to_string()
        };
    }
}

fn resolve(module: &str, path: &str) -> String {
    let mut segs: Vec<&str> = if path.starts_with("crate::") { Vec::new() } else { module.split('.').collect() };
    for part in path.split("::").filter(|p| !p.is_empty() && *p != "crate") {
        if part == "super" {
            segs.pop();
        } else {
            segs.push(part);
        }
    }
    segs.join(".")
}

fn parse_pb(src: &Path) -> Result<Vec<PbMessage>, String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut messages = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).map_err(|e| e.to_string())?;
        let Some(dir) = rel.parent() else { continue };
        let module = dir.to_string_lossy().replace(['/', '\\'], ".");
        let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
        let mut current: Option<PbMessage> = None;
        let mut attr: Option<String> = None;
        let mut decl = String::new();
        for line in text.lines() {
            let t = line.trim();
            if let Some(name) = t.strip_prefix("pub struct ") {
                let name = name.trim_end_matches(['{', '}', ' ', ';']).to_string();
                let msg = PbMessage { module: module.clone(), rust_name: name, fields: Vec::new() };
                if t.ends_with('{') {
                    current = Some(msg);
                } else {
                    messages.push(msg);
                }
                continue;
            }
            let Some(msg) = current.as_mut() else {
                continue;
            };
            if let Some(a) = t.strip_prefix("#[prost(") {
                attr = Some(a.trim_end_matches(")]").to_string());
                continue;
            }
            if let Some(a) = &attr {
                if !decl.is_empty() || t.starts_with("pub ") {
                    decl.push_str(t);
                    let balanced = decl.matches('<').count() == decl.matches('>').count();
                    if decl.ends_with(',') && balanced {
                        msg.fields.push(parse_field(&module, a, &decl)?);
                        attr = None;
                        decl.clear();
                    }
                }
                continue;
            }
            if t == "}" {
                if let Some(done) = current.take() {
                    messages.push(done);
                }
            }
        }
    }
    Ok(messages)
}

fn parse_field(module: &str, attr: &str, decl: &str) -> Result<PbField, String> {
    let items = attr_items(attr);
    let (name, ty) = decl.trim_start_matches("pub ").split_once(':').ok_or(format!("bad field {decl}"))?;
    let rust_name = name.trim().trim_start_matches("r#").to_string();
    let mut tag = None;
    let mut scalar = String::new();
    let mut label = "Optional";
    for item in &items {
        if let Some(v) = item.strip_prefix("tag = ") {
            tag = v.trim_matches('"').parse::<u32>().ok();
        } else if let Some(v) = item.strip_prefix("btree_map = ") {
            label = "Map";
            scalar = v.trim_matches('"').split(", ").nth(1).unwrap_or_default().to_string();
        } else if item == "repeated" {
            label = "Repeated";
        } else if item.starts_with("bytes") {
            scalar = "bytes".into();
        } else if ["string", "bool", "int32", "int64", "double", "message"].contains(&item.as_str()) {
            scalar = item.clone();
        }
    }
    let ty = match scalar.as_str() {
        "string" => "String".to_string(),
        "bytes" => "Bytes".to_string(),
        "bool" => "Bool".to_string(),
        "int32" => "Int32".to_string(),
        "int64" => "Int64".to_string(),
        "double" => "Double".to_string(),
        // Resolved to an index once every message is known.
        "message" => format!("msg:{}", resolve(module, &inner_type(ty.trim_end_matches(',')))),
        other => return Err(format!("unsupported prost type {other:?} in {attr}")),
    };
    Ok(PbField { tag: tag.ok_or(format!("no tag in {attr}"))?, rust_name, ty, label })
}

fn quoted_value(line: &str) -> Option<String> {
    let start = line.find('"')? + 1;
    let end = start + line[start..].find('"')?;
    Some(line[start..end].to_string())
}

fn parse_openapi(src: &Path) -> Result<OpenApi, String> {
    let mut out = OpenApi::default();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(src)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    // Newest first: k8s-pb may be generated from a newer Kubernetes than the
    // version kolibri serves, and JSON names never change between versions.
    dirs.sort();
    dirs.reverse();
    for dir in dirs {
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| e.to_string())?;
            let Some(def) = text.lines().next().and_then(|l| l.strip_prefix("// Generated from definition io.k8s."))
            else {
                continue;
            };
            let def = def.trim();
            let module = def.rsplit_once('.').map(|(m, _)| m).unwrap_or_default().replace('-', "_");
            let name = def.rsplit('.').next().unwrap_or_default();
            let mut fields = Vec::new();
            let (mut api_version, mut kind, mut list_kind) = (None, None, None);
            for line in text.lines().map(str::trim) {
                if line.starts_with('"') && line.contains("=> Field::Key_") {
                    fields.extend(quoted_value(line));
                } else if line.starts_with("const API_VERSION:") {
                    api_version = quoted_value(line);
                } else if line.starts_with("const KIND:") {
                    kind = quoted_value(line);
                } else if line.starts_with("const LIST_KIND:") {
                    list_kind = quoted_value(line);
                }
            }
            out.definitions.entry(format!("{module}.{name}")).or_insert(fields);
            if let (Some(v), Some(k)) = (api_version, kind) {
                out.kinds.insert((v.clone(), k, module.clone()));
                if let Some(l) = list_kind {
                    out.kinds.insert((v, l, module));
                }
            }
        }
    }
    Ok(out)
}

/// Classifies a message by its table name; the table stores the result.
fn special_for(name: &str) -> Special {
    let short = name.rsplit('.').next().unwrap_or(name);
    match name {
        "apimachinery.pkg.apis.meta.v1.Time" => Special::Time,
        "apimachinery.pkg.apis.meta.v1.MicroTime" => Special::MicroTime,
        "apimachinery.pkg.apis.meta.v1.Duration" => Special::Duration,
        "apimachinery.pkg.apis.meta.v1.FieldsV1" => Special::RawJson,
        "apimachinery.pkg.apis.meta.v1.Verbs" => Special::StringArray,
        "apimachinery.pkg.api.resource.Quantity" => Special::Quantity,
        "apimachinery.pkg.api.resource.QuantityValue" => Special::Quantity,
        "apimachinery.pkg.util.intstr.IntOrString" => Special::IntOrString,
        "apimachinery.pkg.runtime.RawExtension" => Special::RawJson,
        "apimachinery.pkg.runtime.Unknown" => Special::Unknown,
        _ if name.starts_with("apiextensions_apiserver.") => match short {
            "JSON" => Special::RawJson,
            "JSONSchemaPropsOrArray" => Special::SchemaOrArray,
            "JSONSchemaPropsOrBool" => Special::SchemaOrBool,
            "JSONSchemaPropsOrStringArray" => Special::SchemaOrStringArray,
            _ => Special::None,
        },
        _ if short == "ExtraValue" => Special::StringArray,
        _ => Special::None,
    }
}

/// Whether the JSON names `d` hold every field of `sub`, itself possibly
/// inlining another message (admissionregistration's Rule in RuleWithOperations).
fn covers(
    d: &[String],
    sub: &PbMessage,
    by_rust: &HashMap<String, usize>,
    named: &[(String, &PbMessage)],
    depth: usize,
) -> bool {
    !sub.fields.is_empty()
        && depth < 3
        && sub.fields.iter().all(|f| {
            d.iter().any(|j| norm(j) == norm(&f.rust_name))
                || f.ty
                    .strip_prefix("msg:")
                    .and_then(|p| by_rust.get(p))
                    .is_some_and(|id| covers(d, named[*id].1, by_rust, named, depth + 1))
        })
}

/// Builds the text of `descriptors.rs`.
pub(crate) fn generate() -> Result<String, String> {
    let pb_src = find_package("k8s-pb")?;
    let openapi_src = find_package("k8s-openapi")?;
    let pb = parse_pb(&pb_src.join("src"))?;
    let openapi = parse_openapi(&openapi_src.join("src"))?;

    // Go names: k8s-pb re-cases some (`Json`), the OpenAPI definitions do not.
    let mut def_by_norm: HashMap<(String, String), &str> = HashMap::new();
    for def in openapi.definitions.keys() {
        if let Some((module, name)) = def.rsplit_once('.') {
            def_by_norm.insert((module.to_string(), norm(name)), def.as_str());
        }
    }
    let mut global_json: HashMap<String, &str> = HashMap::new();
    for fields in openapi.definitions.values() {
        for f in fields {
            global_json.entry(norm(f)).or_insert(f);
        }
    }
    let mut named: Vec<(String, &PbMessage)> = pb
        .iter()
        .map(|m| {
            let key = (m.module.clone(), norm(&m.rust_name));
            let name =
                def_by_norm.get(&key).map(|d| d.to_string()).unwrap_or_else(|| format!("{}.{}", m.module, m.rust_name));
            (name, m)
        })
        .collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    named.dedup_by(|a, b| a.0 == b.0);
    let by_rust: HashMap<String, usize> =
        named.iter().enumerate().map(|(i, (_, m))| (format!("{}.{}", m.module, m.rust_name), i)).collect();
    let by_norm: HashMap<(String, String), usize> =
        named.iter().enumerate().map(|(i, (_, m))| ((m.module.clone(), norm(&m.rust_name)), i)).collect();

    let mut out = String::new();
    out.push_str(
        "// @generated by src/protobuf/generate.rs from k8s-pb and k8s-openapi sources; do not edit.\n\
         use super::schema::{Field, Label, Message, MessageId, Special, Ty};\n\n\
         const fn f(tag: u32, json: &'static str, ty: Ty, label: Label) -> Field {\n    \
         Field { tag, json, ty, label }\n}\n\n",
    );
    let _ = writeln!(out, "pub(crate) static MESSAGES: &[Message] = &[");
    for (i, (name, m)) in named.iter().enumerate() {
        let def = openapi.definitions.get(name);
        let special = special_for(name);
        let _ = writeln!(out, "    // {i}\n    Message {{ name: {name:?}, special: Special::{special:?}, fields: &[");
        let mut fields: Vec<&PbField> = m.fields.iter().collect();
        fields.sort_by_key(|f| f.tag);
        for fld in fields {
            let key = norm(&fld.rust_name);
            let in_def = def.and_then(|d| d.iter().find(|j| norm(j) == key).cloned());
            let json = in_def
                .clone()
                .or_else(|| global_json.get(&key).map(|s| s.to_string()))
                .unwrap_or_else(|| lower_camel(&fld.rust_name));
            let (ty, sub) = match fld.ty.strip_prefix("msg:") {
                Some(path) => {
                    let id = by_rust.get(path).ok_or(format!("{name}.{}: unknown message {path}", fld.rust_name))?;
                    (format!("Ty::Message({id})"), Some(named[*id].1))
                }
                None => (format!("Ty::{}", fld.ty), None),
            };
            // Go embeds some structs (`json:",inline"`, e.g. Probe's ProbeHandler):
            // the JSON object has the embedded message's fields, not the field.
            let inline = match (def, &in_def, sub) {
                (Some(d), None, Some(sub)) => covers(d, sub, &by_rust, &named, 0),
                _ => false,
            };
            let label = if inline { "Inline" } else { fld.label };
            let _ = writeln!(out, "        f({}, {json:?}, {ty}, Label::{label}),", fld.tag);
            if def.is_some() && in_def.is_none() && !inline {
                eprintln!("no JSON name in definition: {name}.{} -> {json}", fld.rust_name);
            }
        }
        out.push_str("    ]},\n");
    }
    out.push_str("];\n\n");

    let mut kinds: BTreeSet<(String, String, usize)> = BTreeSet::new();
    let extra = EXTRA_KINDS.iter().map(|(v, k, m)| (v.to_string(), k.to_string(), m.to_string()));
    for (version, kind, module) in openapi.kinds.iter().cloned().chain(extra) {
        if let Some(id) = by_norm.get(&(module, norm(&kind))) {
            kinds.insert((version, kind, *id));
        }
    }
    let _ = writeln!(
        out,
        "/// (apiVersion, kind, message), sorted.\npub(crate) static KINDS: &[(&str, &str, MessageId)] = &["
    );
    for (version, kind, id) in kinds {
        let _ = writeln!(out, "    ({version:?}, {kind:?}, {id}),");
    }
    out.push_str("];\n");
    Ok(out)
}

#[test]
fn descriptor_table_is_current() {
    let generated = generate().unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protobuf/descriptors.rs");
    if std::env::var_os("KOLIBRI_REGENERATE_PROTOBUF").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(committed == generated, "src/protobuf/descriptors.rs is stale; regenerate it (see generate.rs)");
}
