//! The ServiceAccount admission of pods (upstream `plugin/pkg/admission/serviceaccount`):
//! `serviceAccountName` defaults to `default`, and unless automounting is switched off the
//! pod gets a projected `kube-api-access-<suffix>` volume (a bound token, the cluster CA,
//! the namespace) mounted read-only in every container at the well-known path.

use rand::Rng;
use serde_json::{json, Value};

const MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// Upstream's `utilrand` alphabet: no vowels, no look-alike digits.
const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
/// Upstream's default lifetime of a projected token (an hour, plus 7 s to tell it apart).
const TOKEN_EXPIRATION: i64 = 3607;

fn suffix() -> String {
    let mut rng = rand::thread_rng();
    (0..5).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect()
}

/// Adds what the admission adds to a new pod (never to mirror pods).
pub(crate) fn admit_pod(pod: &mut Value) {
    let mirror = pod
        .pointer("/metadata/annotations")
        .and_then(Value::as_object)
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    if mirror {
        return;
    }
    let Some(spec) = pod.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let account = match spec.get("serviceAccountName").and_then(Value::as_str).filter(|s| !s.is_empty()) {
        Some(a) => a.to_string(),
        None => "default".to_string(),
    };
    spec.insert("serviceAccountName".into(), json!(account));
    spec.insert("serviceAccount".into(), json!(account));
    if spec.get("automountServiceAccountToken").and_then(Value::as_bool) == Some(false) {
        return;
    }
    let already_mounted = ["containers", "initContainers"].iter().any(|list| {
        spec.get(*list).and_then(Value::as_array).into_iter().flatten().any(|c| {
            c.get("volumeMounts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .any(|m| m.get("mountPath").and_then(Value::as_str) == Some(MOUNT_PATH))
        })
    });
    if already_mounted {
        return;
    }
    let volume_name = format!("kube-api-access-{}", suffix());
    let volume = json!({
        "name": volume_name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                { "serviceAccountToken": { "expirationSeconds": TOKEN_EXPIRATION, "path": "token" } },
                { "configMap": { "name": "kube-root-ca.crt", "items": [{ "key": "ca.crt", "path": "ca.crt" }] } },
                { "downwardAPI": { "items": [{ "path": "namespace",
                    "fieldRef": { "apiVersion": "v1", "fieldPath": "metadata.namespace" } }] } },
            ],
        },
    });
    let volumes = spec.entry("volumes").or_insert_with(|| json!([]));
    if let Some(list) = volumes.as_array_mut() {
        list.push(volume);
    }
    let mount = json!({ "name": volume_name, "readOnly": true, "mountPath": MOUNT_PATH });
    for list in ["initContainers", "containers"] {
        for container in spec.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
            let Some(c) = container.as_object_mut() else { continue };
            let mounts = c.entry("volumeMounts").or_insert_with(|| json!([]));
            if let Some(m) = mounts.as_array_mut() {
                m.push(mount.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_the_projected_volume_once() {
        let mut pod = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "a", "image": "x"}],
            "initContainers": [{"name": "i", "image": "x"}]}});
        admit_pod(&mut pod);
        assert_eq!(pod["spec"]["serviceAccountName"], "default");
        let volume = &pod["spec"]["volumes"][0];
        let name = volume["name"].as_str().unwrap();
        assert!(name.starts_with("kube-api-access-") && name.len() == 21, "{name}");
        assert_eq!(volume["projected"]["sources"][0]["serviceAccountToken"]["expirationSeconds"], 3607);
        for list in ["containers", "initContainers"] {
            assert_eq!(
                pod["spec"][list][0]["volumeMounts"][0],
                json!({"name": name, "readOnly": true, "mountPath": MOUNT_PATH})
            );
        }
        let mut off = json!({"spec": {"automountServiceAccountToken": false, "containers": [{"name": "a"}]}});
        admit_pod(&mut off);
        assert!(off["spec"].get("volumes").is_none());
    }
}
