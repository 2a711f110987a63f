//! Printer of Leases.

use super::*;

pub(super) fn print_lease(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), st(obj, "/spec/holderIdentity").into(), age(obj, now)]
}
