//! Columns and printer of PodDisruptionBudgets.

use super::*;

pub(super) fn printer(kind: &str) -> Option<(Vec<Col>, Printer)> {
    match kind {
        "PodDisruptionBudget" => Some((
            vec![
                NAME,
                col("Min Available", "string", "The minimum number of pods that must be available."),
                col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
                col("Allowed Disruptions", "integer", "Calculated number of pods that may be disrupted at this time."),
                AGE,
            ],
            print_pod_disruption_budget,
        )),
        _ => None,
    }
}

/// An IntOrString as upstream's String(): the number or the text; "N/A" when unset.
fn int_or_string(v: Option<&Value>) -> String {
    match v {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        _ => "N/A".into(),
    }
}

pub(super) fn print_pod_disruption_budget(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![
        name(obj),
        int_or_string(obj.pointer("/spec/minAvailable")).into(),
        int_or_string(obj.pointer("/spec/maxUnavailable")).into(),
        int(obj, "/status/disruptionsAllowed").into(),
        age(obj, now),
    ]
}
