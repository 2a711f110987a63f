//! Printers of Jobs and CronJobs.

use super::*;

pub(super) fn print_job(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/template/spec");
    let succeeded = int(obj, "/status/succeeded");
    let completions = match obj.pointer("/spec/completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => {
            let parallelism = int(obj, "/spec/parallelism");
            if parallelism > 1 {
                format!("{succeeded}/1 of {parallelism}")
            } else {
                format!("{succeeded}/1")
            }
        }
    };
    let start = parse_time(obj.pointer("/status/startTime"));
    let done = parse_time(obj.pointer("/status/completionTime"));
    let duration = match (start, done) {
        (None, _) => String::new(),
        (Some(s), None) => human_duration(now.signed_duration_since(s)),
        (Some(s), Some(d)) => human_duration(d.signed_duration_since(s)),
    };
    let conds = "/status/conditions";
    let status = if has_condition(obj, conds, "Complete") {
        "Complete"
    } else if has_condition(obj, conds, "Failed") {
        "Failed"
    } else if obj.pointer("/metadata/deletionTimestamp").is_some_and(|v| !v.is_null()) {
        "Terminating"
    } else if has_condition(obj, conds, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else if has_condition(obj, conds, "Suspended") {
        "Suspended"
    } else if has_condition(obj, conds, "FailureTarget") {
        "FailureTarget"
    } else {
        "Running"
    };
    vec![
        name(obj),
        status.into(),
        completions.into(),
        duration.into(),
        age(obj, now),
        containers.into(),
        images.into(),
        format_selector(obj.pointer("/spec/selector")).into(),
    ]
}

pub(super) fn print_cron_job(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let (containers, images) = template_cells(obj, "/spec/jobTemplate/spec/template/spec");
    let tz = obj.pointer("/spec/timeZone").and_then(Value::as_str).unwrap_or(NONE);
    let suspend = match obj.pointer("/spec/suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let last = match obj.pointer("/status/lastScheduleTime").filter(|v| !v.is_null()) {
        Some(t) => since(Some(t), now),
        None => NONE.into(),
    };
    let selector = match obj.pointer("/spec/jobTemplate/spec/selector").filter(|v| !v.is_null()) {
        Some(s) => format_selector(Some(s)),
        None => NONE.into(),
    };
    vec![
        name(obj),
        st(obj, "/spec/schedule").into(),
        tz.into(),
        suspend.into(),
        arr(obj, "/status/active").len().into(),
        last.into(),
        age(obj, now),
        containers.into(),
        images.into(),
        selector.into(),
    ]
}
