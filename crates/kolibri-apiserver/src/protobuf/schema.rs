//! The descriptor table's types and look-ups: which protobuf message a kind is,
//! and how each message's fields are numbered, typed and named in JSON.

use super::descriptors::{KINDS, MESSAGES};

/// Index into [`MESSAGES`].
pub(crate) type MessageId = u16;

/// One protobuf message of the Kubernetes API.
#[derive(Debug)]
pub(crate) struct Message {
    /// Proto-like path without the `k8s.io.` prefix, e.g. `api.core.v1.Pod`.
    pub name: &'static str,
    /// Messages whose JSON form is not an object of their fields.
    pub special: Special,
    /// Sorted by tag.
    pub fields: &'static [Field],
}

#[derive(Debug)]
pub(crate) struct Field {
    pub tag: u32,
    /// The Go JSON name (`volumeID`, `podIPs`).
    pub json: &'static str,
    pub ty: Ty,
    pub label: Label,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    String,
    Bytes,
    Bool,
    Int32,
    Int64,
    Double,
    Message(MessageId),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Label {
    Optional,
    Repeated,
    /// `map<string, ty>`: repeated entries {1: key, 2: value}.
    Map,
    /// An optional message whose fields Go inlines into the parent's JSON.
    Inline,
}

/// Messages that upstream marshals to JSON by hand (custom `MarshalJSON`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Special {
    None,
    /// meta/v1 Time: RFC 3339, whole seconds.
    Time,
    /// meta/v1 MicroTime: RFC 3339 with microseconds.
    MicroTime,
    /// meta/v1 Duration: Go duration string.
    Duration,
    /// resource.Quantity: its string.
    Quantity,
    /// intstr.IntOrString: a number or a string.
    IntOrString,
    /// RawExtension, FieldsV1, apiextensions JSON: field 1 holds embedded JSON.
    RawJson,
    /// runtime.Unknown: field 2 holds an embedded object.
    Unknown,
    /// Go `[]string` types wrapped for protobuf (Verbs, ExtraValue): field 1 items.
    StringArray,
    /// apiextensions JSONSchemaPropsOrArray: schema (1) or array of schemas (2).
    SchemaOrArray,
    /// apiextensions JSONSchemaPropsOrBool: allows (1) or schema (2).
    SchemaOrBool,
    /// apiextensions JSONSchemaPropsOrStringArray: schema (1) or strings (2).
    SchemaOrStringArray,
}

pub(crate) fn message(id: MessageId) -> &'static Message {
    // Ids come only from the generated table, which the generator checks.
    &MESSAGES[usize::from(id)]
}

impl Message {
    pub(crate) fn field_by_tag(&self, tag: u32) -> Option<&'static Field> {
        self.fields.binary_search_by_key(&tag, |f| f.tag).ok().and_then(|i| self.fields.get(i))
    }
}

/// Kinds of meta/v1 that every group version serves (`metav1.AddToGroupVersion`).
const META_KINDS: &[&str] = &[
    "CreateOptions",
    "DeleteOptions",
    "GetOptions",
    "ListOptions",
    "PatchOptions",
    "Status",
    "UpdateOptions",
    "WatchEvent",
    "APIGroup",
    "APIGroupList",
    "APIResourceList",
    "APIVersions",
    "PartialObjectMetadata",
    "PartialObjectMetadataList",
];

/// The message of a kind, or `None` when the kind has no protobuf form.
pub(crate) fn message_for_kind(api_version: &str, kind: &str) -> Option<MessageId> {
    if let Ok(i) = KINDS.binary_search_by(|(v, k, _)| (*v, *k).cmp(&(api_version, kind))) {
        return KINDS.get(i).map(|(_, _, id)| *id);
    }
    if !META_KINDS.contains(&kind) {
        return None;
    }
    let name = format!("apimachinery.pkg.apis.meta.v1.{kind}");
    // The generator sorts messages by name.
    MESSAGES.binary_search_by(|m| m.name.cmp(name.as_str())).ok().and_then(|i| MessageId::try_from(i).ok())
}
