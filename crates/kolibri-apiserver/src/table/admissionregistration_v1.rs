//! Columns and printers of webhook configurations and validating admission policies.

use super::*;

const WEBHOOKS: &str = "Webhooks indicates the number of webhooks registered in this configuration";

pub(super) fn printer(kind: &str) -> Option<(Vec<Col>, Printer)> {
    let found: (Vec<Col>, Printer) = match kind {
        "MutatingWebhookConfiguration" | "ValidatingWebhookConfiguration" => {
            (vec![NAME, col("Webhooks", "integer", WEBHOOKS), AGE], print_webhook_configuration)
        }
        "ValidatingAdmissionPolicy" => (
            vec![
                NAME,
                col(
                    "Validations",
                    "integer",
                    "Validations indicates the number of validation rules defined in this configuration",
                ),
                col(
                    "ParamKind",
                    "string",
                    "ParamKind specifies the kind of resources used to parameterize this policy",
                ),
                AGE,
            ],
            print_validating_admission_policy,
        ),
        "ValidatingAdmissionPolicyBinding" => (
            vec![
                NAME,
                col(
                    "PolicyName",
                    "string",
                    "PolicyName indicates the policy definition which the policy binding binded to",
                ),
                col("ParamRef", "string", "ParamRef indicates the param resource which sets the configration param"),
                AGE,
            ],
            print_validating_admission_policy_binding,
        ),
        _ => return None,
    };
    Some(found)
}

pub(super) fn print_webhook_configuration(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    vec![name(obj), arr(obj, "/webhooks").len().into(), age(obj, now)]
}

pub(super) fn print_validating_admission_policy(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let param_kind = match obj.pointer("/spec/paramKind").filter(|p| p.is_object()) {
        Some(p) => format!("{}/{}", st(p, "/apiVersion"), st(p, "/kind")),
        None => "<unset>".into(),
    };
    vec![name(obj), arr(obj, "/spec/validations").len().into(), param_kind.into(), age(obj, now)]
}

/// A metav1.LabelSelector as its generated protobuf `String()`, which upstream prints for a
/// paramRef chosen by selector.
pub(super) fn go_label_selector(sel: &Value) -> String {
    let mut keys: Vec<(&String, &Value)> =
        sel.get("matchLabels").and_then(Value::as_object).map(|m| m.iter().collect()).unwrap_or_default();
    keys.sort_by(|a, b| a.0.cmp(b.0));
    let labels: String = keys.iter().map(|(k, v)| format!("{k}: {},", v.as_str().unwrap_or_default())).collect();
    let exprs: String = arr(sel, "/matchExpressions")
        .iter()
        .map(|e| {
            let values: Vec<&str> = arr(e, "/values").iter().filter_map(Value::as_str).collect();
            format!(
                "LabelSelectorRequirement{{Key:{},Operator:{},Values:[{}],}},",
                st(e, "/key"),
                st(e, "/operator"),
                values.join(" ")
            )
        })
        .collect();
    format!("&LabelSelector{{MatchLabels:map[string]string{{{labels}}},MatchExpressions:[]LabelSelectorRequirement{{{exprs}}},}}")
}

pub(super) fn print_validating_admission_policy_binding(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let param = match obj.pointer("/spec/paramRef").filter(|p| p.is_object()) {
        Some(p) if !st(p, "/name").is_empty() => match st(p, "/namespace") {
            // Without a namespace the param may be cluster-scoped or in any namespace.
            "" => format!("*/{}", st(p, "/name")),
            ns => format!("{ns}/{}", st(p, "/name")),
        },
        Some(p) => match p.get("selector").filter(|s| s.is_object()) {
            Some(sel) => go_label_selector(sel),
            None => "<unset>".into(),
        },
        None => "<unset>".into(),
    };
    vec![name(obj), st(obj, "/spec/policyName").into(), param.into(), age(obj, now)]
}
