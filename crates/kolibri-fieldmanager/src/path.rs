//! Paths to fields of an object: the elements a field set is made of.

use std::fmt;

use serde_json::Value;

/// One step of a path. The variant order is upstream's ordering of path elements
/// (field names, then keys, then values, then indices), so sets iterate as upstream's do.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathElement {
    /// A field of a struct or a key of a map (`f:name`).
    Field(String),
    /// An item of an associative list, by its key fields sorted by name; each value is
    /// compact JSON (`k:{"name":"web"}`).
    Key(Vec<(String, String)>),
    /// An item of a set, by its value as compact JSON (`v:"a"`).
    Value(String),
    /// An item of a list by position (`i:0`).
    Index(usize),
}

impl PathElement {
    /// The key element of a list item with the given key fields.
    pub fn key(mut fields: Vec<(String, String)>) -> PathElement {
        fields.sort();
        PathElement::Key(fields)
    }

    /// The value element of a set item.
    pub fn value(v: &Value) -> PathElement {
        PathElement::Value(v.to_string())
    }

    /// The key of this element in a fieldsV1 object.
    pub fn to_fields_v1_key(&self) -> String {
        match self {
            PathElement::Field(name) => format!("f:{name}"),
            PathElement::Key(fields) => {
                let body: Vec<String> =
                    fields.iter().map(|(k, v)| format!("{}:{v}", Value::String(k.clone()))).collect();
                format!("k:{{{}}}", body.join(","))
            }
            PathElement::Value(v) => format!("v:{v}"),
            PathElement::Index(i) => format!("i:{i}"),
        }
    }
}

/// Upstream's `PathElement.String()`: `.name`, `[name="web"]`, `[=value]`, `[3]`.
impl fmt::Display for PathElement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathElement::Field(name) => write!(f, ".{name}"),
            PathElement::Key(fields) => {
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(f, "[{}]", parts.join(","))
            }
            PathElement::Value(v) => write!(f, "[={v}]"),
            PathElement::Index(i) => write!(f, "[{i}]"),
        }
    }
}

/// A path from the root of an object.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path(pub Vec<PathElement>);

impl Path {
    /// A path of field names (`Path::fields(&["spec", "replicas"])`).
    pub fn fields(names: &[&str]) -> Path {
        Path(names.iter().map(|n| PathElement::Field((*n).to_string())).collect())
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for pe in &self.0 {
            write!(f, "{pe}")?;
        }
        Ok(())
    }
}
