//! Admission of pods with kubectl 1.32 and 1.33: LimitRange defaults and bounds (with
//! upstream's 403 messages) and the default not-ready/unreachable tolerations.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;
use serde_json::json;

#[test]
fn limit_ranges_default_and_bound_pods() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("limits-{v}");
        kc_ok(&server, bin, &["create", "namespace", &ns]);
        let lr = format!(
            "apiVersion: v1\nkind: LimitRange\nmetadata:\n  name: limits\n  namespace: {ns}\nspec:\n  limits:\n  - type: Container\n    default:\n      cpu: 500m\n      memory: 128Mi\n    defaultRequest:\n      cpu: 100m\n      memory: 64Mi\n    max:\n      cpu: \"1\"\n"
        );
        let file = write_file(&server, &format!("lr-{v}.yaml"), &lr);
        kc_ok(&server, bin, &["create", "-f", p(&file)]);

        kc_ok(&server, bin, &["run", "web", "-n", &ns, "--image=busybox", "--restart=Never"]);
        let pod = get_json(&server, bin, &["pod", "web", "-n", &ns]);
        assert_eq!(
            at(&pod, "spec.containers.0.resources"),
            &json!({
                "limits": {"cpu": "500m", "memory": "128Mi"},
                "requests": {"cpu": "100m", "memory": "64Mi"},
            })
        );
        assert_eq!(
            pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
            "LimitRanger plugin set: cpu, memory request for container web; cpu, memory limit for container web"
        );

        let big = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: big\n  namespace: {ns}\nspec:\n  containers:\n  - name: a\n    image: busybox\n    resources:\n      limits:\n        cpu: \"2\"\n"
        );
        let file = write_file(&server, &format!("big-{v}.yaml"), &big);
        let err = kc_fails(&server, bin, &["create", "-f", p(&file)]);
        assert!(
            err.contains("pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2"),
            "{err}"
        );
        assert!(is_not_found(&server, bin, &["pod", "big", "-n", &ns]));
    }
}

#[test]
fn pods_tolerate_unready_nodes_for_five_minutes() {
    let server = start_server();
    for (bin, v) in BINS {
        let name = format!("tol-{v}");
        kc_ok(&server, bin, &["run", &name, "--image=busybox", "--restart=Never"]);
        let pod = get_json(&server, bin, &["pod", &name]);
        assert_eq!(
            at(&pod, "spec.tolerations"),
            &json!([
                {"effect": "NoExecute", "key": "node.kubernetes.io/not-ready", "operator": "Exists", "tolerationSeconds": 300},
                {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 300},
            ])
        );
    }
}

#[test]
fn priority_classes_give_pods_their_priority() {
    let server = start_server();
    for (bin, v) in BINS {
        // The two system classes exist in every cluster.
        let pc = get_json(&server, bin, &["priorityclass", "system-node-critical"]);
        assert_eq!(at(&pc, "value"), 2_000_001_000);
        let name = format!("critical-{v}");
        let overrides = r#"{"spec":{"priorityClassName":"system-cluster-critical"}}"#;
        kc_ok(&server, bin, &["run", &name, "--image=busybox", "--restart=Never", &format!("--overrides={overrides}")]);
        let pod = get_json(&server, bin, &["pod", &name]);
        assert_eq!(at(&pod, "spec.priority"), 2_000_000_000);
        assert_eq!(s(&pod, "spec.preemptionPolicy"), "PreemptLowerPriority");

        let overrides = r#"{"spec":{"priorityClassName":"platinum"}}"#;
        let err = kc_fails(
            &server,
            bin,
            &["run", "nope", "--image=busybox", "--restart=Never", &format!("--overrides={overrides}")],
        );
        assert!(err.contains("pods \"nope\" is forbidden: no PriorityClass with name platinum was found"), "{err}");
        let overrides = r#"{"spec":{"priority":7}}"#;
        let err = kc_fails(
            &server,
            bin,
            &["run", "seven", "--image=busybox", "--restart=Never", &format!("--overrides={overrides}")],
        );
        assert!(
            err.contains("the integer value of priority (7) must not be provided in pod spec; priority admission controller computed 0 from the given PriorityClass name"),
            "{err}"
        );
    }
}
