//! The type model field ownership works on, converted from OpenAPI v3 schemas as
//! kube-openapi's `schemaconv` does.
//!
//! Only what ownership needs is kept: whether a node is a leaf (scalars and atomic
//! lists/maps), a granular map (struct fields and/or map values), an associative list
//! (a set of scalars, or a map keyed by some fields), or deduced from the value itself.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use serde_json::{Map, Value};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
/// Custom resource schemas kept converted (one per served version).
const CUSTOM_CACHE_ENTRIES: usize = 256;

/// A converted custom resource schema, valid while the schema is alive.
type CustomEntry = (Weak<Value>, TypeRef);

/// Index of a type in its [`Schema`].
pub type TypeId = usize;

/// How the items of a granular list are identified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListKind {
    /// `x-kubernetes-list-type: set`: items are scalars, identified by value.
    Set,
    /// `x-kubernetes-list-type: map`: items are objects, identified by these fields.
    Map(Vec<String>),
}

/// One type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Atom {
    /// Scalars, and lists and maps replaced as a whole (`atomic`).
    Leaf,
    /// Unknown shape: objects are granular maps of deduced values, lists are atomic.
    Deduced,
    /// A granular list.
    List { elem: TypeId, kind: ListKind },
    /// A granular map: declared fields, and the type of other keys (`None`: no other keys).
    Map { fields: HashMap<String, TypeId>, elem: Option<TypeId> },
}

/// A set of types.
#[derive(Clone, Debug)]
pub struct Schema {
    types: Vec<Atom>,
}

/// A schema and the type of the object being handled.
#[derive(Clone, Debug)]
pub struct TypeRef {
    schema: Arc<Schema>,
    root: TypeId,
}

const LEAF: TypeId = 0;
const DEDUCED: TypeId = 1;

impl TypeRef {
    /// The type of a built-in kind by its definition name (`io.k8s.api.apps.v1.Deployment`).
    pub fn builtin(definition: &str) -> Option<TypeRef> {
        let b = builtins();
        let root = *b.names.get(definition)?;
        Some(TypeRef { schema: b.schema.clone(), root })
    }

    /// The type of a custom resource from its structural schema, or the deduced type
    /// when there is none. `metadata` is always `ObjectMeta`.
    pub fn custom(schema: Option<&Value>) -> TypeRef {
        let mut c = Converter::new(kolibri_resources::schema::definitions());
        let root = match schema {
            Some(s) => c.convert(s),
            None => c.push(Atom::Map { fields: HashMap::new(), elem: Some(DEDUCED) }),
        };
        let meta = c.named(OBJECT_META);
        if let Some(Atom::Map { fields, .. }) = c.types.get_mut(root) {
            fields.insert("metadata".into(), meta);
            fields.insert("apiVersion".into(), LEAF);
            fields.insert("kind".into(), LEAF);
        }
        TypeRef { schema: Arc::new(Schema { types: c.types }), root }
    }

    /// [`TypeRef::custom`], converted once per schema: the result is kept while the
    /// schema (shared by the served resource) lives.
    pub fn custom_cached(schema: Option<&Arc<Value>>) -> TypeRef {
        static CACHE: OnceLock<Mutex<Vec<CustomEntry>>> = OnceLock::new();
        let Some(schema) = schema else { return TypeRef::deduced() };
        let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
        // A poisoned lock only means another request panicked while holding it; the
        // entries are still whole, so keep using them.
        let mut entries = cache.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|(weak, _)| weak.strong_count() > 0);
        if let Some((_, ty)) = entries.iter().find(|(weak, _)| weak.as_ptr() == Arc::as_ptr(schema)) {
            return ty.clone();
        }
        let ty = TypeRef::custom(Some(schema));
        if entries.len() >= CUSTOM_CACHE_ENTRIES {
            entries.remove(0);
        }
        entries.push((Arc::downgrade(schema), ty.clone()));
        ty
    }

    /// A schema-less type: every map granular, every list atomic.
    pub fn deduced() -> TypeRef {
        TypeRef::custom(None)
    }

    /// The root type.
    pub fn root(&self) -> TypeId {
        self.root
    }

    /// The atom of a type.
    pub fn atom(&self, id: TypeId) -> &Atom {
        self.schema.types.get(id).unwrap_or(&Atom::Deduced)
    }

    /// The id of the deduced type.
    pub fn deduced_id(&self) -> TypeId {
        DEDUCED
    }
}

struct Builtins {
    schema: Arc<Schema>,
    names: HashMap<String, TypeId>,
}

/// Every built-in definition converted once.
fn builtins() -> &'static Builtins {
    static BUILTINS: OnceLock<Builtins> = OnceLock::new();
    BUILTINS.get_or_init(|| {
        let defs = kolibri_resources::schema::definitions();
        let mut c = Converter::new(defs);
        for name in defs.keys() {
            c.named(name);
        }
        let names = std::mem::take(&mut c.names);
        Builtins { schema: Arc::new(Schema { types: c.types }), names }
    })
}

/// Converts OpenAPI schemas into atoms; `$ref`s resolve against `defs`, lazily.
struct Converter<'a> {
    defs: &'a Map<String, Value>,
    types: Vec<Atom>,
    names: HashMap<String, TypeId>,
}

impl<'a> Converter<'a> {
    fn new(defs: &'a Map<String, Value>) -> Self {
        Converter { defs, types: vec![Atom::Leaf, Atom::Deduced], names: HashMap::new() }
    }

    fn push(&mut self, atom: Atom) -> TypeId {
        self.types.push(atom);
        self.types.len() - 1
    }

    /// The type of a named definition; an unknown name is deduced.
    fn named(&mut self, name: &str) -> TypeId {
        if let Some(id) = self.names.get(name) {
            return *id;
        }
        let Some(schema) = self.defs.get(name) else { return DEDUCED };
        // Reserve the id first: definitions may refer to themselves.
        let id = self.push(Atom::Leaf);
        self.names.insert(name.to_string(), id);
        let atom = self.atom_of(schema);
        if let Some(slot) = self.types.get_mut(id) {
            *slot = atom;
        }
        id
    }

    fn convert(&mut self, schema: &Value) -> TypeId {
        if let Some(name) = ref_name(schema) {
            // An atomic marker on the reference wins over the referenced type.
            if is_atomic_marker(schema) {
                return LEAF;
            }
            let name = name.to_string();
            return self.named(&name);
        }
        match self.atom_of(schema) {
            Atom::Leaf => LEAF,
            Atom::Deduced => DEDUCED,
            atom => self.push(atom),
        }
    }

    fn atom_of(&mut self, schema: &Value) -> Atom {
        if ref_name(schema).is_some() {
            let id = self.convert(schema);
            return self.types.get(id).cloned().unwrap_or(Atom::Deduced);
        }
        let ext = |key: &str| schema.get(key).and_then(Value::as_str);
        let flag = |key: &str| schema.get(key).and_then(Value::as_bool).unwrap_or(false);
        if flag("x-kubernetes-int-or-string") {
            return Atom::Leaf;
        }
        let preserve = flag("x-kubernetes-preserve-unknown-fields");
        let ty = schema.get("type").and_then(Value::as_str);
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        match ty {
            Some("array") => {
                let elem = match schema.get("items") {
                    Some(items) => self.convert(items),
                    None => DEDUCED,
                };
                let kind = match ext("x-kubernetes-list-type") {
                    Some("set") => Some(ListKind::Set),
                    Some("map") => Some(ListKind::Map(string_list(schema.get("x-kubernetes-list-map-keys")))),
                    Some(_) => None,
                    // Lists without a list type follow their patch strategy.
                    None => {
                        let merge = ext("x-kubernetes-patch-strategy")
                            .is_some_and(|s| s.split(',').any(|p| p.trim() == "merge"));
                        match (merge, ext("x-kubernetes-patch-merge-key")) {
                            (true, Some(key)) => Some(ListKind::Map(vec![key.to_string()])),
                            (true, None) => Some(ListKind::Set),
                            _ => None,
                        }
                    }
                };
                match kind {
                    Some(ListKind::Map(keys)) if keys.is_empty() => Atom::Leaf,
                    Some(kind) => Atom::List { elem, kind },
                    None => Atom::Leaf,
                }
            }
            Some("object") | None if properties.is_some() || additional.is_some() || preserve => {
                if ext("x-kubernetes-map-type") == Some("atomic") {
                    return Atom::Leaf;
                }
                let mut fields = HashMap::new();
                for (name, prop) in properties.into_iter().flatten() {
                    let id = self.convert(prop);
                    fields.insert(name.clone(), id);
                }
                let elem = match additional {
                    Some(Value::Bool(true)) => Some(DEDUCED),
                    Some(s @ Value::Object(_)) => Some(self.convert(s)),
                    _ if preserve => Some(DEDUCED),
                    _ => None,
                };
                if fields.is_empty() && elem == Some(DEDUCED) && properties.is_none() && preserve {
                    return Atom::Deduced;
                }
                Atom::Map { fields, elem }
            }
            // An object with nothing declared, or a schema without a type: untyped atomic.
            _ => Atom::Leaf,
        }
    }
}

fn is_atomic_marker(schema: &Value) -> bool {
    schema.get("x-kubernetes-map-type").and_then(Value::as_str) == Some("atomic")
        || schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("atomic")
}

fn string_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// The definition a schema refers to: `{"$ref": ...}` or `{"allOf": [{"$ref": ...}]}`.
fn ref_name(schema: &Value) -> Option<&str> {
    let reference = match schema.get("$ref") {
        Some(r) => r,
        None => match schema.get("allOf")?.as_array()?.as_slice() {
            [only] => only.get("$ref")?,
            _ => return None,
        },
    };
    reference.as_str()?.strip_prefix(kolibri_resources::schema::REF_PREFIX)
}
