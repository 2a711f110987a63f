//! Columns and printer of RuntimeClasses.

use super::*;

pub(super) fn printer(kind: &str) -> Option<(Vec<Col>, Printer)> {
    match kind {
        // Upstream takes the Handler description from ObjectMeta's docs, which have none.
        "RuntimeClass" => Some((vec![NAME, col("Handler", "string", ""), AGE], print_runtime_class)),
        _ => None,
    }
}

pub(super) fn print_runtime_class(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), st(obj, "/handler").into(), age(obj, now)]
}
