//! API errors rendered as `metav1.Status`, as upstream's `apimachinery/pkg/api/errors`.

use http::StatusCode;
use kolibri_resources::FieldError;
use serde_json::{json, Value};

/// One `StatusCause`.
#[derive(Clone, Debug, PartialEq)]
pub struct Cause {
    pub reason: String,
    pub message: String,
    pub field: String,
}

/// An error answered to a client as a `Status` object.
#[derive(Clone, Debug)]
pub struct ApiError {
    pub code: StatusCode,
    pub reason: &'static str,
    pub message: String,
    /// `details.name`, `details.group`, `details.kind`.
    pub details: Option<Box<Details>>,
    pub causes: Vec<Cause>,
    pub retry_after: Option<u64>,
}

/// `StatusDetails` identifying the object an error is about.
#[derive(Clone, Debug, Default)]
pub struct Details {
    pub name: String,
    pub group: String,
    pub kind: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(code: StatusCode, reason: &'static str, message: impl Into<String>) -> Self {
        Self { code, reason, message: message.into(), details: None, causes: Vec::new(), retry_after: None }
    }

    fn with_details(mut self, group: &str, kind: &str, name: &str) -> Self {
        self.details =
            Some(Box::new(Details { name: name.to_string(), group: group.to_string(), kind: kind.to_string() }));
        self
    }

    /// `<resource> "<name>" not found`; `resource` is `plural` or `plural.group`.
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", format!("{} \"{name}\" not found", qualified(group, plural)))
            .with_details(group, plural, name)
    }

    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, plural)),
        )
        .with_details(group, plural, name)
    }

    /// Optimistic-concurrency failure.
    pub fn conflict(group: &str, plural: &str, name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", qualified(group, plural)),
        )
        .with_details(group, plural, name)
    }

    pub fn modified(group: &str, plural: &str, name: &str) -> Self {
        Self::conflict(
            group,
            plural,
            name,
            "the object has been modified; please apply your changes to the latest version and try again",
        )
    }

    /// 422 with field causes: `<Kind> "<name>" is invalid: [a, b]`.
    pub fn invalid(group: &str, kind: &str, name: &str, errors: &[FieldError]) -> Self {
        let joined = match errors {
            [one] => one.message.clone(),
            many => format!("[{}]", many.iter().map(|e| e.message.as_str()).collect::<Vec<_>>().join(", ")),
        };
        let qualified_kind = if group.is_empty() { kind.to_string() } else { format!("{kind}.{group}") };
        let mut err = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            format!("{qualified_kind} \"{name}\" is invalid: {joined}"),
        )
        .with_details(group, kind, name);
        err.causes = errors
            .iter()
            .map(|e| Cause {
                reason: e.error_type.reason().to_string(),
                message: e.message.strip_prefix(&format!("{}: ", e.field)).unwrap_or(&e.message).to_string(),
                field: e.field.clone(),
            })
            .collect();
        err
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized", "Unauthorized")
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Forbidden", message)
    }

    /// 403 for an object, `<resource> "<name>" is forbidden: <why>`.
    pub fn forbidden_object(group: &str, plural: &str, name: &str, why: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("{} \"{name}\" is forbidden: {why}", qualified(group, plural)),
        )
        .with_details(group, plural, name)
    }

    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed", message)
    }

    pub fn not_acceptable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_ACCEPTABLE, "NotAcceptable", message)
    }

    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType", message)
    }

    /// 429, upstream's `NewTooManyRequests`: `retry_after` 0 is left out of the details.
    pub fn too_many_requests(message: impl Into<String>, retry_after: u64) -> Self {
        let mut err = Self::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message);
        err.retry_after = (retry_after > 0).then_some(retry_after);
        err
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "Expired", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge", message)
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "Timeout", message)
    }

    /// An RV newer than the store's: 504 with cause `ResourceVersionTooLarge`.
    pub fn resource_version_too_large() -> Self {
        let mut err = Self::timeout("Too large resource version");
        err.causes.push(Cause {
            reason: "ResourceVersionTooLarge".into(),
            message: "Too large resource version".into(),
            field: String::new(),
        });
        err.retry_after = Some(1);
        err
    }

    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", format!("Internal error occurred: {message}"))
    }

    pub fn service_unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable", message)
    }

    pub fn not_found_path() -> Self {
        Self::new(StatusCode::NOT_FOUND, "NotFound", "the server could not find the requested resource")
    }

    /// The `metav1.Status` body.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code.as_u16(),
        });
        if self.details.is_some() || !self.causes.is_empty() || self.retry_after.is_some() {
            let mut details = serde_json::Map::new();
            if let Some(d) = &self.details {
                if !d.name.is_empty() {
                    details.insert("name".into(), json!(d.name));
                }
                if !d.group.is_empty() {
                    details.insert("group".into(), json!(d.group));
                }
                if !d.kind.is_empty() {
                    details.insert("kind".into(), json!(d.kind));
                }
            }
            if !self.causes.is_empty() {
                let causes: Vec<Value> = self
                    .causes
                    .iter()
                    .map(|c| {
                        let mut m = serde_json::Map::new();
                        m.insert("reason".into(), json!(c.reason));
                        m.insert("message".into(), json!(c.message));
                        if !c.field.is_empty() {
                            m.insert("field".into(), json!(c.field));
                        }
                        Value::Object(m)
                    })
                    .collect();
                details.insert("causes".into(), Value::Array(causes));
            }
            if let Some(r) = self.retry_after {
                details.insert("retryAfterSeconds".into(), json!(r));
            }
            status["details"] = Value::Object(details);
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code.as_u16(), self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}

/// A success `Status` (deletions that return no object).
pub fn success_status(group: &str, kind: &str, name: &str, uid: &str) -> Value {
    let mut details = json!({ "name": name, "kind": kind });
    if !group.is_empty() {
        details["group"] = json!(group);
    }
    if !uid.is_empty() {
        details["uid"] = json!(uid);
    }
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details })
}
