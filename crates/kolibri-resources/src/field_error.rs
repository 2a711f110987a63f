/// The kind of a validation failure, as upstream's `field.ErrorType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldErrorType {
    /// `FieldValueRequired`: "Required value"
    Required,
    /// `FieldValueInvalid`: "Invalid value"
    Invalid,
    /// `FieldValueTypeInvalid`: "Invalid value" (a value of the wrong JSON type)
    TypeInvalid,
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
            Self::TypeInvalid => "FieldValueTypeInvalid",
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

/// A field path as upstream's `field.Path` renders it: `spec.containers[0].image`,
/// `metadata.labels[app]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    /// A path starting at the top-level field `name`.
    pub fn new(name: &str) -> Self {
        Self(name.to_string())
    }

    /// The path of the named child field.
    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            Self(name.to_string())
        } else {
            Self(format!("{}.{name}", self.0))
        }
    }

    /// The path of the `i`th list item.
    pub fn index(&self, i: usize) -> Self {
        Self(format!("{}[{i}]", self.0))
    }

    /// The path of a map entry.
    pub fn key(&self, key: &str) -> Self {
        Self(format!("{}[{key}]", self.0))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The offending value of an error, rendered as Go's `fmt` renders it in `field.Error`.
#[derive(Clone, Debug, PartialEq)]
pub enum BadValue {
    /// Printed quoted, as `%q`.
    Str(String),
    /// Printed as `%v`.
    Int(i64),
    Bool(bool),
    /// Already rendered (e.g. `map[string]string{"app":"x"}` for `%#v` of a map).
    Raw(String),
    /// No value: printed as `null` (a nil pointer upstream).
    Null,
}

impl BadValue {
    fn render(&self) -> String {
        match self {
            Self::Str(s) => go_quote(s),
            Self::Int(i) => i.to_string(),
            Self::Bool(b) => b.to_string(),
            Self::Raw(s) => s.clone(),
            Self::Null => "null".to_string(),
        }
    }
}

impl From<&str> for BadValue {
    fn from(s: &str) -> Self {
        Self::Str(s.to_string())
    }
}
impl From<&String> for BadValue {
    fn from(s: &String) -> Self {
        Self::Str(s.clone())
    }
}
impl From<String> for BadValue {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}
impl From<i64> for BadValue {
    fn from(i: i64) -> Self {
        Self::Int(i)
    }
}
impl From<i32> for BadValue {
    fn from(i: i32) -> Self {
        Self::Int(i64::from(i))
    }
}
impl From<bool> for BadValue {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

/// Go's `strconv.Quote` for the characters that occur in practice.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

impl FieldErrorType {
    /// The words upstream's `ErrorType.String()` gives.
    pub fn text(self) -> &'static str {
        match self {
            Self::Required => "Required value",
            Self::Invalid | Self::TypeInvalid => "Invalid value",
            Self::NotSupported => "Unsupported value",
            Self::Forbidden => "Forbidden",
            Self::Duplicate => "Duplicate value",
            Self::TooLong => "Too long",
            Self::TooMany => "Too many",
            Self::NotFound => "Not found",
            Self::Internal => "Internal error",
        }
    }
}

impl FieldError {
    fn build(error_type: FieldErrorType, field: &FieldPath, value: Option<BadValue>, detail: &str) -> Self {
        let mut body = error_type.text().to_string();
        if let Some(value) = value {
            body.push_str(": ");
            body.push_str(&value.render());
        }
        if !detail.is_empty() {
            body.push_str(": ");
            body.push_str(detail);
        }
        Self { error_type, field: field.to_string(), message: format!("{field}: {body}") }
    }

    /// `field.Required`.
    pub fn required(field: &FieldPath, detail: &str) -> Self {
        Self::build(FieldErrorType::Required, field, None, detail)
    }

    /// `field.Invalid`.
    pub fn invalid(field: &FieldPath, value: impl Into<BadValue>, detail: &str) -> Self {
        Self::build(FieldErrorType::Invalid, field, Some(value.into()), detail)
    }

    /// `field.TypeInvalid`.
    pub fn type_invalid(field: &FieldPath, value: impl Into<BadValue>, detail: &str) -> Self {
        Self::build(FieldErrorType::TypeInvalid, field, Some(value.into()), detail)
    }

    /// `field.NotSupported`: `supported values: "a", "b"`.
    pub fn not_supported(field: &FieldPath, value: impl Into<BadValue>, valid: &[&str]) -> Self {
        let detail = if valid.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = valid.iter().map(|v| go_quote(v)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::build(FieldErrorType::NotSupported, field, Some(value.into()), &detail)
    }

    /// `field.Forbidden`.
    pub fn forbidden(field: &FieldPath, detail: &str) -> Self {
        Self::build(FieldErrorType::Forbidden, field, None, detail)
    }

    /// `field.Duplicate`.
    pub fn duplicate(field: &FieldPath, value: impl Into<BadValue>) -> Self {
        Self::build(FieldErrorType::Duplicate, field, Some(value.into()), "")
    }

    /// `field.TooLong` (1.33 wording).
    pub fn too_long(field: &FieldPath, max_bytes: usize) -> Self {
        Self::build(FieldErrorType::TooLong, field, None, &format!("may not be more than {max_bytes} bytes"))
    }

    /// `field.TooMany`.
    pub fn too_many(field: &FieldPath, actual: usize, max: usize) -> Self {
        let actual = i64::try_from(actual).unwrap_or(i64::MAX);
        Self::build(
            FieldErrorType::TooMany,
            field,
            Some(BadValue::Int(actual)),
            &format!("must have at most {max} items"),
        )
    }

    /// `field.NotFound`.
    pub fn not_found(field: &FieldPath, value: impl Into<BadValue>) -> Self {
        Self::build(FieldErrorType::NotFound, field, Some(value.into()), "")
    }

    /// `field.InternalError`.
    pub fn internal(field: &FieldPath, detail: &str) -> Self {
        Self::build(FieldErrorType::Internal, field, None, detail)
    }
}
