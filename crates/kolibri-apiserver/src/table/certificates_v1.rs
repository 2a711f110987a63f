//! Columns and printer of CertificateSigningRequests.

use super::*;

pub(super) fn printer(kind: &str) -> Option<(Vec<Col>, Printer)> {
    match kind {
        "CertificateSigningRequest" => Some((
            vec![
                NAME,
                AGE,
                col(
                    "SignerName",
                    "string",
                    "Requested signer for the request. It is a qualified name in the form: `scope-hostname.io/name`.",
                ),
                col("Requestor", "string", "Base64-encoded PKCS#10 CSR data"),
                col(
                    "RequestedDuration",
                    "string",
                    "expirationSeconds is the requested duration of validity of the issued certificate.",
                ),
                col("Condition", "string", "Conditions applied to the request, such as approval or denial."),
            ],
            print_csr,
        )),
        _ => None,
    }
}

/// Upstream's extractCSRStatus: Denied over Approved over Pending, then ",Failed" and ",Issued".
fn csr_status(obj: &Value) -> String {
    let has = |ty: &str| arr(obj, "/status/conditions").iter().any(|c| st(c, "/type") == ty);
    let mut status = if has("Denied") {
        "Denied"
    } else if has("Approved") {
        "Approved"
    } else {
        "Pending"
    }
    .to_string();
    if has("Failed") {
        status.push_str(",Failed");
    }
    if !st(obj, "/status/certificate").is_empty() {
        status.push_str(",Issued");
    }
    status
}

pub(super) fn print_csr(obj: &Value, now: DateTime<Utc>) -> Vec<Value> {
    let duration = match obj.pointer("/spec/expirationSeconds").and_then(Value::as_i64) {
        Some(s) => human_duration(chrono::Duration::seconds(s)),
        None => NONE.into(),
    };
    vec![
        name(obj),
        age(obj, now),
        or_none(st(obj, "/spec/signerName")).into(),
        st(obj, "/spec/username").into(),
        duration.into(),
        csr_status(obj).into(),
    ]
}
