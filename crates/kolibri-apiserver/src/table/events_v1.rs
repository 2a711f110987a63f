//! events.k8s.io/v1 Events print as core Events upstream (one internal type): the fields
//! are renamed as its conversion does, then printed with the core columns.

use super::*;

pub(super) fn printer(kind: &str) -> Option<(Vec<Col>, Printer)> {
    match kind {
        "Event" => Some((super::printer("", "Event").0, print_events_event)),
        _ => None,
    }
}

pub(super) fn print_events_event(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let renames = [
        ("regarding", "involvedObject"),
        ("note", "message"),
        ("reportingController", "reportingComponent"),
        ("deprecatedSource", "source"),
        ("deprecatedFirstTimestamp", "firstTimestamp"),
        ("deprecatedLastTimestamp", "lastTimestamp"),
        ("deprecatedCount", "count"),
    ];
    let Some(fields) = obj.as_object() else { return print_event(obj, now) };
    let mut core = fields.clone();
    for (from, to) in renames {
        if let Some(v) = core.remove(from) {
            core.insert(to.into(), v);
        }
    }
    print_event(&Value::Object(core), now)
}
