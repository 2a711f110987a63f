//! Store keys: `/registry/<group>/<resource>/[<namespace>/]<name>`.

use kolibri_resources::ResourceDef;

fn group_segment(def: &ResourceDef) -> &str {
    if def.group.is_empty() {
        "core"
    } else {
        &def.group
    }
}

/// The key of one object.
pub fn object(def: &ResourceDef, namespace: Option<&str>, name: &str) -> String {
    match (def.namespaced, namespace) {
        (true, Some(ns)) => format!("/registry/{}/{}/{ns}/{name}", group_segment(def), def.plural),
        _ => format!("/registry/{}/{}/{name}", group_segment(def), def.plural),
    }
}

/// The prefix of a collection: one namespace, or every namespace when `namespace` is None.
pub fn collection(def: &ResourceDef, namespace: Option<&str>) -> String {
    match (def.namespaced, namespace) {
        (true, Some(ns)) => format!("/registry/{}/{}/{ns}/", group_segment(def), def.plural),
        _ => format!("/registry/{}/{}/", group_segment(def), def.plural),
    }
}
