//! Label and field selectors, as upstream's `labels.Parse` and `fields.ParseSelector`.

use serde_json::Value;

use crate::status::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq)]
enum LabelOp {
    Exists,
    DoesNotExist,
    Equals(String),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Gt(i64),
    Lt(i64),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelSelector {
    requirements: Vec<(String, LabelOp)>,
}

impl LabelSelector {
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Parses the `labelSelector` query parameter.
    pub fn parse(input: &str) -> ApiResult<Self> {
        let mut requirements = Vec::new();
        for part in split_top_level(input) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(
                parse_requirement(part)
                    .map_err(|why| ApiError::bad_request(format!("unable to parse requirement: {why}")))?,
            );
        }
        Ok(Self { requirements })
    }

    /// Whether an object with `labels` matches.
    pub fn matches(&self, labels: Option<&serde_json::Map<String, Value>>) -> bool {
        self.requirements.iter().all(|(key, op)| {
            let value = labels.and_then(|l| l.get(key)).and_then(Value::as_str);
            match op {
                LabelOp::Exists => value.is_some(),
                LabelOp::DoesNotExist => value.is_none(),
                LabelOp::Equals(v) => value == Some(v.as_str()),
                LabelOp::NotEquals(v) => value != Some(v.as_str()),
                LabelOp::In(vs) => value.is_some_and(|x| vs.iter().any(|v| v == x)),
                LabelOp::NotIn(vs) => value.is_none_or(|x| !vs.iter().any(|v| v == x)),
                LabelOp::Gt(n) => value.and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x > *n),
                LabelOp::Lt(n) => value.and_then(|x| x.parse::<i64>().ok()).is_some_and(|x| x < *n),
            }
        })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in input.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&input[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&input[start..]);
    parts
}

fn parse_requirement(part: &str) -> Result<(String, LabelOp), String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok((check_key(key.trim())?, LabelOp::DoesNotExist));
    }
    for (token, set_op) in [(" notin ", true), (" in ", false)] {
        if let Some((key, values)) = part.split_once(token) {
            let values = values.trim();
            let inner = values
                .strip_prefix('(')
                .and_then(|v| v.strip_suffix(')'))
                .ok_or_else(|| format!("found '{values}', expected: '('"))?;
            let list: Vec<String> = inner.split(',').map(|v| v.trim().to_string()).filter(|v| !v.is_empty()).collect();
            let key = check_key(key.trim())?;
            return Ok((key, if set_op { LabelOp::NotIn(list) } else { LabelOp::In(list) }));
        }
    }
    for (token, kind) in [("!=", 0), ("==", 1), ("=", 1), (">", 2), ("<", 3)] {
        if let Some((key, value)) = part.split_once(token) {
            let key = check_key(key.trim())?;
            let value = value.trim().to_string();
            return Ok(match kind {
                0 => (key, LabelOp::NotEquals(value)),
                1 => (key, LabelOp::Equals(value)),
                _ => {
                    let n = value
                        .parse::<i64>()
                        .map_err(|_| "for 'Gt', 'Lt' operators, the value must be an integer".to_string())?;
                    (key, if kind == 2 { LabelOp::Gt(n) } else { LabelOp::Lt(n) })
                }
            });
        }
    }
    Ok((check_key(part)?, LabelOp::Exists))
}

fn check_key(key: &str) -> Result<String, String> {
    let valid = !key.is_empty()
        && key.len() <= 317
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid {
        Ok(key.to_string())
    } else {
        Err(format!("invalid label key \"{key}\""))
    }
}

/// One `field=value` or `field!=value` term.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldTerm {
    pub field: String,
    pub value: String,
    pub negated: bool,
}

/// A parsed field selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldSelector {
    pub terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses the `fieldSelector` query parameter.
    pub fn parse(input: &str) -> ApiResult<Self> {
        let mut terms = Vec::new();
        for part in split_unescaped(input, ',') {
            if part.is_empty() {
                continue;
            }
            let (field, value, negated) = if let Some((f, v)) = part.split_once("!=") {
                (f, v, true)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, v, false)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, v, false)
            } else {
                return Err(ApiError::bad_request(format!("invalid selector: '{input}'; can't understand '{part}'")));
            };
            terms.push(FieldTerm { field: field.trim().to_string(), value: unescape(value), negated });
        }
        Ok(Self { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// The value required for `field` by an equality term (used to narrow reads).
    pub fn required(&self, field: &str) -> Option<&str> {
        self.terms.iter().find(|t| t.field == field && !t.negated).map(|t| t.value.as_str())
    }

    /// Whether an object whose selectable fields are given by `lookup` matches.
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| {
            let actual = lookup(&t.field).unwrap_or_default();
            (actual == t.value) != t.negated
        })
    }
}

fn split_unescaped(input: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in input.chars() {
        if escaped {
            current.push('\\');
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == sep {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    parts.push(current);
    parts
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

/// The labels of an object.
pub fn labels(obj: &Value) -> Option<&serde_json::Map<String, Value>> {
    obj.get("metadata")?.get("labels")?.as_object()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn l(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn set_based_and_equality() {
        let s = LabelSelector::parse("app in (web, api),tier!=db,!legacy,env").unwrap();
        assert!(s.matches(Some(&l(json!({"app":"web","env":"x"})))));
        assert!(!s.matches(Some(&l(json!({"app":"web","env":"x","legacy":"1"})))));
        assert!(!s.matches(Some(&l(json!({"app":"db","env":"x"})))));
        assert!(!s.matches(Some(&l(json!({"app":"web"})))));
    }

    #[test]
    fn negative_ops_match_missing_key() {
        let s = LabelSelector::parse("a!=b,c notin (d)").unwrap();
        assert!(s.matches(None));
    }

    #[test]
    fn numeric_comparisons() {
        let s = LabelSelector::parse("n>3").unwrap();
        assert!(s.matches(Some(&l(json!({"n":"4"})))));
        assert!(!s.matches(Some(&l(json!({"n":"3"})))));
        assert!(LabelSelector::parse("n>x").is_err());
    }

    #[test]
    fn field_selector() {
        let s = FieldSelector::parse("metadata.name=a\\,b,status.phase!=Failed").unwrap();
        assert_eq!(s.required("metadata.name"), Some("a,b"));
        assert!(s.matches(|f| Some(if f == "metadata.name" { "a,b".into() } else { "Running".into() })));
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
