//! Protobuf bodies (`application/vnd.kubernetes.protobuf`) of built-in kinds.
//!
//! The API server works on JSON, so this module only translates: [`decode`]
//! turns a protobuf body into the JSON upstream would produce for the same
//! object, [`encode`] does the reverse for answers to protobuf-only clients.
//! Both walk a descriptor table generated from k8s-pb's messages with the Go
//! JSON names of k8s-openapi (`descriptors.rs`, see `generate.rs`), so every
//! built-in kind is covered without per-kind code.
//!
//! Wire format: the magic `k8s\0`, then a `runtime.Unknown` message whose
//! `typeMeta` names the kind and whose `raw` is the object's message.

mod decode;
#[rustfmt::skip]
mod descriptors;
mod encode;
#[cfg(test)]
mod generate;
mod schema;
#[cfg(test)]
mod tests;
mod wire;

/// The first bytes of every Kubernetes protobuf body.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Why a body could not be translated; all of them are the client's fault
/// (400 Bad Request), except `UnknownKind` (415 Unsupported Media Type).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtobufError {
    #[error("protobuf body does not start with the magic \"k8s\\x00\"")]
    BadMagic,
    #[error("protobuf body is truncated")]
    Truncated,
    #[error("malformed protobuf body: {0}")]
    Malformed(String),
    #[error("protobuf body uses unsupported content encoding {0:?}")]
    UnsupportedEncoding(String),
    #[error("kind {kind:?} of apiVersion {api_version:?} has no protobuf form")]
    UnknownKind { api_version: String, kind: String },
    #[error("cannot encode object as protobuf: {0}")]
    Encode(String),
}

/// Decodes a protobuf body into the object's JSON, with `apiVersion` and
/// `kind` taken from the envelope.
pub fn decode(body: &[u8]) -> Result<serde_json::Value, ProtobufError> {
    decode::envelope(body, "", "", 0)
}

/// Like [`decode`], but uses `api_version` and `kind` (usually from the
/// request's URL) when the envelope leaves them empty.
pub fn decode_as(body: &[u8], api_version: &str, kind: &str) -> Result<serde_json::Value, ProtobufError> {
    decode::envelope(body, api_version, kind, 0)
}

/// Encodes a JSON object of a built-in kind (it must carry `apiVersion` and
/// `kind`) as a protobuf body. Unknown JSON fields are dropped.
pub fn encode(value: &serde_json::Value) -> Result<Vec<u8>, ProtobufError> {
    encode::envelope(value)
}

/// Whether a kind has a protobuf form (custom resources do not).
pub fn supports(api_version: &str, kind: &str) -> bool {
    schema::message_for_kind(api_version, kind).is_some()
}
