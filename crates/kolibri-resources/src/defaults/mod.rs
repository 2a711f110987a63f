//! Upstream defaulting shared by several kinds (`pkg/apis/core/v1/defaults.go` and the
//! generated `zz_generated.defaults.go`, which applies nested types' defaults).

pub mod pod;

/// Sets `field` to `value` when unset or empty, as upstream's `if x == "" { x = ... }`.
pub(crate) fn str_default(field: &mut Option<String>, value: &str) {
    if field.as_deref().is_none_or(str::is_empty) {
        *field = Some(value.to_string());
    }
}
