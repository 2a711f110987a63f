//! PATCH bodies: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge
//! patch, applied to an object's JSON as upstream's `endpoints/handlers/patch.go` does.
//! Server-side apply is a merge by field ownership, not a patch of the JSON: the handler
//! runs it through `kolibri-fieldmanager`.

mod strategic;

use serde_json::Value;

/// Upstream rejects JSON patches with more operations (`maxJSONPatchOperations`).
const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// The patch formats of the `Content-Type` of a PATCH request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    /// `application/json-patch+json`
    Json,
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply)
    Apply,
}

impl PatchType {
    /// The patch type of a `Content-Type` header value; parameters (`;charset=utf-8`) are
    /// ignored. `None` for anything else (answer 415).
    pub fn from_content_type(content_type: &str) -> Option<PatchType> {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        [PatchType::Json, PatchType::Merge, PatchType::Strategic, PatchType::Apply]
            .into_iter()
            .find(|t| t.content_type().eq_ignore_ascii_case(media_type))
    }

    /// The media type of this patch type.
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Json => "application/json-patch+json",
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Strategic => "application/strategic-merge-patch+json",
            PatchType::Apply => "application/apply-patch+yaml",
        }
    }
}

/// Why a patch could not be applied; each variant is one HTTP status.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is malformed (400 BadRequest).
    #[error("{0}")]
    BadRequest(String),
    /// A JSON patch operation failed, too many operations, or a strategic patch has an
    /// unsupported shape (422 Invalid).
    #[error("{0}")]
    Invalid(String),
    /// The patch type is not supported for this resource (415 UnsupportedMediaType).
    #[error("{0}")]
    Unsupported(String),
}

impl PatchError {
    /// The HTTP status code.
    pub fn code(&self) -> u16 {
        match self {
            PatchError::BadRequest(_) => 400,
            PatchError::Invalid(_) => 422,
            PatchError::Unsupported(_) => 415,
        }
    }

    /// The `reason` of the Status object.
    pub fn reason(&self) -> &'static str {
        match self {
            PatchError::BadRequest(_) => "BadRequest",
            PatchError::Invalid(_) => "Invalid",
            PatchError::Unsupported(_) => "UnsupportedMediaType",
        }
    }
}

/// Applies `patch` to `original` and returns the patched object.
///
/// `definition` is the OpenAPI definition name of the object's kind
/// (see `kolibri_resources::schema`); strategic merge patch needs it for patch strategies
/// and merge keys and is refused without it (custom resources).
pub fn apply(
    patch_type: PatchType,
    original: &Value,
    patch: &[u8],
    definition: Option<&str>,
) -> Result<Value, PatchError> {
    match patch_type {
        PatchType::Json => json_patch(original, patch),
        PatchType::Merge => merge_patch(original, patch),
        PatchType::Strategic => match definition {
            Some(definition) => strategic::apply(original, patch, definition),
            None => Err(PatchError::Unsupported(
                "the body of the request was in an unknown format - accepted media types include: \
                 application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                    .into(),
            )),
        },
        PatchType::Apply => Err(PatchError::Unsupported(
            "server-side apply (application/apply-patch+yaml) is served by the field manager".into(),
        )),
    }
}

fn json_patch(original: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    let operations: json_patch::Patch =
        serde_json::from_slice(patch).map_err(|e| PatchError::BadRequest(e.to_string()))?;
    if operations.0.len() > MAX_JSON_PATCH_OPERATIONS {
        // Upstream answers 413 RequestEntityTooLarge; 422 is the nearest variant here.
        return Err(PatchError::Invalid(format!(
            "The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, got {}",
            operations.0.len()
        )));
    }
    let mut doc = original.clone();
    json_patch::patch(&mut doc, &operations).map_err(|e| PatchError::Invalid(e.to_string()))?;
    Ok(doc)
}

fn merge_patch(original: &Value, patch: &[u8]) -> Result<Value, PatchError> {
    // Upstream (evanphx/json-patch) refuses anything but an object as a merge patch of
    // an object.
    let patch: Value = serde_json::from_slice(patch)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| PatchError::BadRequest("Invalid JSON Patch".into()))?;
    let mut doc = original.clone();
    json_patch::merge(&mut doc, &patch);
    Ok(doc)
}

#[cfg(test)]
mod tests;
