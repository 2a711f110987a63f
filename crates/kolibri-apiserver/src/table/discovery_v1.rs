//! Columns and printer of EndpointSlices.

use super::*;

pub(super) fn printer(kind: &str) -> Option<(Vec<Col>, Printer)> {
    match kind {
        "EndpointSlice" => Some((
            vec![
                NAME,
                col("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation."),
                col("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice. Each port must have a unique name."),
                col("Endpoints", "string", "endpoints is a list of unique endpoints in this slice. Each slice may include a maximum of 1000 endpoints."),
                AGE,
            ],
            print_endpoint_slice,
        )),
        _ => None,
    }
}

/// Upstream's listWithMoreString: the first three, " + N more..." for the rest, "<unset>" for none.
pub(super) fn list_with_more(all: Vec<String>) -> String {
    const MAX: usize = 3;
    if all.len() > MAX {
        return format!("{} + {} more...", all[..MAX].join(","), all.len() - MAX);
    }
    let text = all.join(",");
    if text.is_empty() {
        "<unset>".into()
    } else {
        text
    }
}

pub(super) fn print_endpoint_slice(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    // A port without a number prints its name, without either "*".
    let ports: Vec<String> = arr(obj, "/ports")
        .iter()
        .map(|p| match (p.get("port").and_then(Value::as_i64), p.get("name").and_then(Value::as_str)) {
            (Some(n), _) => n.to_string(),
            (None, Some(name)) => name.to_string(),
            (None, None) => "*".into(),
        })
        .collect();
    let addresses: Vec<String> = arr(obj, "/endpoints")
        .iter()
        .flat_map(|e| arr(e, "/addresses").iter().filter_map(Value::as_str).map(String::from))
        .collect();
    vec![
        name(obj),
        st(obj, "/addressType").into(),
        list_with_more(ports).into(),
        list_with_more(addresses).into(),
        age(obj, now),
    ]
}
