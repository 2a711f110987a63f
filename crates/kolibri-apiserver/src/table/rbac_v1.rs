//! Printers of RBAC roles and bindings.

use super::*;

pub(super) fn print_role(obj: &Value, _now: DateTime<Utc>) -> Vec<Value> {
    let created = parse_time(obj.pointer("/metadata/creationTimestamp"))
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| "0001-01-01T00:00:00Z".into());
    vec![name(obj), created.into()]
}

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
