/// The kind of a validation failure, as upstream's `field.ErrorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorType {
    /// `FieldValueRequired`: "Required value"
    Required,
    /// `FieldValueInvalid`: "Invalid value"
    Invalid,
    /// `FieldValueNotSupported`: "Unsupported value"
    NotSupported,
    /// `FieldValueForbidden`: "Forbidden"
    Forbidden,
    /// `FieldValueDuplicate`: "Duplicate value"
    Duplicate,
    /// `FieldValueTooLong`: "Too long"
    TooLong,
    /// `FieldValueTooMany`: "Too many"
    TooMany,
    /// `FieldValueNotFound`: "Not found"
    NotFound,
    /// `InternalError`: "Internal error"
    Internal,
}

impl FieldErrorType {
    /// The `reason` of a `StatusCause`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Required => "FieldValueRequired",
            Self::Invalid => "FieldValueInvalid",
            Self::NotSupported => "FieldValueNotSupported",
            Self::Forbidden => "FieldValueForbidden",
            Self::Duplicate => "FieldValueDuplicate",
            Self::TooLong => "FieldValueTooLong",
            Self::TooMany => "FieldValueTooMany",
            Self::NotFound => "FieldValueNotFound",
            Self::Internal => "InternalError",
        }
    }
}

/// One validation failure at a field path, as upstream's `field.Error`.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    pub error_type: FieldErrorType,
    /// Path like `spec.containers[0].image` or `metadata.labels`.
    pub field: String,
    /// The full message as upstream's `field.Error.Error()` renders it, e.g.
    /// `spec.containers[0].name: Required value` or
    /// `metadata.name: Invalid value: "Foo": a lowercase RFC 1123 subdomain must ...`.
    pub message: String,
}
