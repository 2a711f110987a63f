//! Columns and printer of PriorityClasses.

use super::*;

pub(super) fn printer(kind: &str) -> Option<(Vec<Col>, Printer)> {
    match kind {
        "PriorityClass" => Some((
            vec![
                NAME,
                col("Value", "integer", "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec."),
                col("Global-Default", "boolean", "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class."),
                AGE,
                // Upstream gives this column priority 0: kubectl shows it without -o wide.
                col("PreemptionPolicy", "string", "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."),
            ],
            print_priority_class,
        )),
        _ => None,
    }
}

pub(super) fn print_priority_class(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name(obj),
        int(obj, "/value").into(),
        obj.get("globalDefault").and_then(Value::as_bool).unwrap_or(false).into(),
        age(obj, now),
        st(obj, "/preemptionPolicy").into(),
    ]
}
