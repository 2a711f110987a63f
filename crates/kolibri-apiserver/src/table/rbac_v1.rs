//! Printer of RBAC bindings (roles print with the default columns).

use super::*;

pub(super) fn print_binding(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let role = format!("{}/{}", st(obj, "/roleRef/kind"), st(obj, "/roleRef/name"));
    let (mut users, mut groups, mut sas) = (Vec::new(), Vec::new(), Vec::new());
    for s in arr(obj, "/subjects") {
        match st(s, "/kind") {
            "User" => users.push(st(s, "/name").to_string()),
            "Group" => groups.push(st(s, "/name").to_string()),
            "ServiceAccount" => sas.push(format!("{}:{}", st(s, "/namespace"), st(s, "/name"))),
            _ => {}
        }
    }
    vec![
        name(obj),
        role.into(),
        age(obj, now),
        users.join(", ").into(),
        groups.join(", ").into(),
        sas.join(", ").into(),
    ]
}
