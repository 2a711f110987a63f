//! Content negotiation: what a client sends (`Content-Type`) and accepts (`Accept`).

use crate::status::{ApiError, ApiResult};

pub const JSON: &str = "application/json";
pub const YAML: &str = "application/yaml";
pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// One media range of an `Accept` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaRange {
    pub mime: String,
    pub params: Vec<(String, String)>,
}

impl MediaRange {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Splits an `Accept` header into media ranges, in the client's order.
pub fn parse_accept(header: Option<&str>) -> Vec<MediaRange> {
    let Some(header) = header else { return Vec::new() };
    header
        .split(',')
        .filter_map(|part| {
            let mut pieces = part.split(';');
            let mime = pieces.next()?.trim().to_ascii_lowercase();
            if mime.is_empty() {
                return None;
            }
            let params = pieces
                .filter_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    Some((k.trim().to_ascii_lowercase(), v.trim().trim_matches('"').to_string()))
                })
                .collect();
            Some(MediaRange { mime, params })
        })
        .collect()
}

/// The encoding of a response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Yaml,
    Protobuf,
}

/// What shape a response object takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The object(s) themselves.
    Object,
    /// A `meta.k8s.io` Table (`kubectl get`).
    Table,
    /// `PartialObjectMetadata` / `PartialObjectMetadataList`.
    Metadata,
}

/// The chosen response format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub encoding: Encoding,
    pub shape: Shape,
}

impl Format {
    pub const JSON: Format = Format { encoding: Encoding::Json, shape: Shape::Object };
}

/// Chooses the response format from `Accept`: the first range the server can produce
/// wins, except that protobuf is used only when nothing else is acceptable (JSON is what
/// every client reads). `protobuf_ok` says whether this resource has a protobuf form.
pub fn choose(accept: &[MediaRange], protobuf_ok: bool) -> ApiResult<Format> {
    if accept.is_empty() {
        return Ok(Format::JSON);
    }
    let mut protobuf = None;
    for range in accept {
        let encoding = match range.mime.as_str() {
            "application/json" | "*/*" | "application/*" | "application/json-seq" => Encoding::Json,
            "application/yaml" => Encoding::Yaml,
            PROTOBUF if protobuf_ok => Encoding::Protobuf,
            _ => continue,
        };
        let shape = match (range.param("as"), range.param("g")) {
            (None, _) => Shape::Object,
            (Some("Table"), Some("meta.k8s.io")) if matches!(range.param("v"), Some("v1" | "v1beta1")) => Shape::Table,
            (Some("PartialObjectMetadata" | "PartialObjectMetadataList"), Some("meta.k8s.io"))
                if matches!(range.param("v"), Some("v1" | "v1beta1")) =>
            {
                Shape::Metadata
            }
            _ => continue,
        };
        // Tables and metadata are JSON only here.
        let encoding = if shape != Shape::Object { Encoding::Json } else { encoding };
        if encoding == Encoding::Protobuf {
            protobuf.get_or_insert(Format { encoding, shape });
            continue;
        }
        return Ok(Format { encoding, shape });
    }
    if let Some(format) = protobuf {
        return Ok(format);
    }
    Err(ApiError::not_acceptable(format!(
        "only the following media types are accepted: {JSON}, {YAML}{}",
        if protobuf_ok { format!(", {PROTOBUF}") } else { String::new() }
    )))
}

/// The media type of a request body, without parameters.
pub fn content_type(header: Option<&str>) -> String {
    header.and_then(|h| h.split(';').next()).map(|m| m.trim().to_ascii_lowercase()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_table_accept() {
        let a = parse_accept(Some(
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
        ));
        assert_eq!(choose(&a, true).unwrap(), Format { encoding: Encoding::Json, shape: Shape::Table });
    }

    #[test]
    fn protobuf_first_but_json_allowed() {
        let a = parse_accept(Some("application/vnd.kubernetes.protobuf, */*"));
        assert_eq!(choose(&a, false).unwrap(), Format::JSON);
        assert_eq!(choose(&a, true).unwrap(), Format::JSON);
        let only = parse_accept(Some("application/vnd.kubernetes.protobuf"));
        assert_eq!(choose(&only, true).unwrap().encoding, Encoding::Protobuf);
    }

    #[test]
    fn nothing_usable() {
        let a = parse_accept(Some("text/html"));
        assert_eq!(choose(&a, true).unwrap_err().code.as_u16(), 406);
    }
}
