//! Columns and printers of HorizontalPodAutoscalers (autoscaling/v2 and v1) and Scales.

use super::*;

pub(super) fn printer(kind: &str) -> Option<(Vec<Col>, Printer)> {
    match kind {
        "HorizontalPodAutoscaler" => Some((
            vec![
                NAME,
                col("Reference", "string", "scaleTargetRef points to the target resource to scale, and is used to the pods for which metrics should be collected, as well as to actually change the replica count."),
                col("Targets", "string", "metrics contains the specifications for which to use to calculate the desired replica count (the maximum replica count across all metrics will be used)."),
                col("MinPods", "string", "minReplicas is the lower limit for the number of replicas to which the autoscaler can scale down."),
                col("MaxPods", "string", "maxReplicas is the upper limit for the number of replicas to which the autoscaler can scale up."),
                col("Replicas", "string", "currentReplicas is current number of replicas of pods managed by this autoscaler, as last seen by the autoscaler."),
                AGE,
            ],
            print_hpa,
        )),
        // The scale subresource; upstream's Name column here has no "name" format.
        "Scale" => Some((
            vec![
                Col { format: "", ..NAME },
                col("Desired", "integer", "replicas is the desired number of instances for the scaled object."),
                col("Available", "integer", "replicas is the actual number of observed instances of the scaled object."),
                AGE,
            ],
            print_scale,
        )),
        _ => None,
    }
}

pub(super) fn print_scale(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), int(obj, "/spec/replicas").into(), int(obj, "/status/replicas").into(), age(obj, now)]
}

/// Spec and status metrics in the v2 shape. Both versions share one stored object, so a v1
/// object (no `spec.metrics`) is read as upstream converts it: its CPU target, or the 80%
/// that v2 defaulting gives an object without one.
fn metrics(obj: &Value) -> (Vec<Value>, Vec<Value>) {
    if let Some(specs) = obj.pointer("/spec/metrics").and_then(Value::as_array) {
        return (specs.clone(), arr(obj, "/status/currentMetrics").to_vec());
    }
    let target = obj.pointer("/spec/targetCPUUtilizationPercentage").and_then(Value::as_i64).unwrap_or(80);
    let spec = json!({"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}}});
    let status = match obj.pointer("/status/currentCPUUtilizationPercentage").and_then(Value::as_i64) {
        Some(current) => {
            vec![json!({"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": current}}})]
        }
        None => Vec::new(),
    };
    (vec![spec], status)
}

/// A quantity of a metric as upstream's `(*Quantity).String()`: "<nil>" when absent.
fn q(v: &Value, ptr: &str) -> String {
    quantity(v.pointer(ptr)).unwrap_or_else(|| "<nil>".into())
}

/// The status of metric `i` when it has a `source` block.
fn status_of<'a>(statuses: &'a [Value], i: usize, source: &str) -> Option<&'a Value> {
    statuses.get(i).and_then(|s| s.get(source)).filter(|s| s.is_object())
}

fn percent(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_i64).map(|p| format!("{p}%"))
}

/// One metric of upstream's formatHPAMetrics.
fn format_metric(spec: &Value, statuses: &[Value], i: usize) -> String {
    let unknown = || UNKNOWN.to_string();
    // External and Object metrics share one layout.
    let value_metric = |source: &str| {
        let status = status_of(statuses, i, source);
        if spec.pointer(&format!("/{source}/target/averageValue")).is_some_and(|v| !v.is_null()) {
            let current = status.and_then(|s| quantity(s.pointer("/current/averageValue"))).unwrap_or_else(unknown);
            format!("{current}/{} (avg)", q(spec, &format!("/{source}/target/averageValue")))
        } else {
            let current = status.map_or_else(unknown, |s| q(s, "/current/value"));
            format!("{current}/{}", q(spec, &format!("/{source}/target/value")))
        }
    };
    // Resource and ContainerResource metrics share one layout.
    let resource_metric = |source: &str| {
        let name = st(spec, &format!("/{source}/name"));
        let status = status_of(statuses, i, source);
        if spec.pointer(&format!("/{source}/target/averageValue")).is_some_and(|v| !v.is_null()) {
            let current = status.map_or_else(unknown, |s| q(s, "/current/averageValue"));
            format!("{name}: {current}/{}", q(spec, &format!("/{source}/target/averageValue")))
        } else {
            let current =
                status.and_then(|s| percent(s.pointer("/current/averageUtilization"))).unwrap_or_else(unknown);
            let target = percent(spec.pointer(&format!("/{source}/target/averageUtilization")))
                .unwrap_or_else(|| "<auto>".into());
            format!("{name}: {current}/{target}")
        }
    };
    match st(spec, "/type") {
        "External" => value_metric("external"),
        "Object" => value_metric("object"),
        "Pods" => {
            let current = status_of(statuses, i, "pods").map_or_else(unknown, |s| q(s, "/current/averageValue"));
            format!("{current}/{}", q(spec, "/pods/target/averageValue"))
        }
        "Resource" => resource_metric("resource"),
        "ContainerResource" => resource_metric("containerResource"),
        _ => "<unknown type>".into(),
    }
}

/// Upstream's formatHPAMetrics: at most two metrics, then " + N more...".
pub(super) fn format_hpa_metrics(specs: &[Value], statuses: &[Value]) -> String {
    const MAX: usize = 2;
    if specs.is_empty() {
        return NONE.into();
    }
    let list: Vec<String> = specs.iter().enumerate().map(|(i, s)| format_metric(s, statuses, i)).collect();
    if list.len() > MAX {
        format!("{} + {} more...", list[..MAX].join(", "), list.len() - MAX)
    } else {
        list.join(", ")
    }
}

pub(super) fn print_hpa(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let reference = format!("{}/{}", st(obj, "/spec/scaleTargetRef/kind"), st(obj, "/spec/scaleTargetRef/name"));
    let (specs, statuses) = metrics(obj);
    let min =
        obj.pointer("/spec/minReplicas").and_then(Value::as_i64).map_or_else(|| "<unset>".into(), |m| m.to_string());
    vec![
        name(obj),
        reference.into(),
        format_hpa_metrics(&specs, &statuses).into(),
        min.into(),
        int(obj, "/spec/maxReplicas").into(),
        int(obj, "/status/currentReplicas").into(),
        age(obj, now),
    ]
}
