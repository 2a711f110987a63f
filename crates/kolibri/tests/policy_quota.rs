//! ResourceQuota with kubectl: the controller's `status.used`, 403s with upstream's
//! messages for object counts and compute resources (with LimitRange defaults counted),
//! scopes, usage given back when pods go, and bad quotas refused or reported in events.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::time::{Duration, Instant};

use kubectl_common::*;
use serde_json::{json, Value};

const BIN: &str = KUBECTL_133;

fn create(server: &common::Server, name: &str, obj: &Value) {
    let file = write_file(server, name, &obj.to_string());
    kc_ok(server, BIN, &["create", "-f", p(&file)]);
}

fn create_fails(server: &common::Server, name: &str, obj: &Value) -> String {
    let file = write_file(server, name, &obj.to_string());
    kc_fails(server, BIN, &["create", "-f", p(&file)])
}

/// Waits (bounded) until the quota's `status.used` equals `used`.
fn used_becomes(server: &common::Server, ns: &str, name: &str, used: Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let q = get_json(server, BIN, &["resourcequota", name, "-n", ns]);
        if q["status"]["used"] == used {
            return q;
        }
        assert!(Instant::now() < deadline, "quota {name}: used is {} instead of {used}", q["status"]);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn pod(ns: &str, name: &str, resources: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
        "spec": {"containers": [{"name": "app", "image": "busybox", "resources": resources}]}})
}

#[test]
fn object_count_quota() {
    let server = start_server();
    let ns = "counts";
    kc_ok(&server, BIN, &["create", "namespace", ns]);
    kc_ok(&server, BIN, &["create", "quota", "objects", "-n", ns, "--hard=pods=2,services=1"]);
    let q = used_becomes(&server, ns, "objects", json!({"pods": "0", "services": "0"}));
    assert_eq!(q["status"]["hard"], json!({"pods": "2", "services": "1"}));

    for name in ["a", "b"] {
        kc_ok(&server, BIN, &["run", name, "-n", ns, "--image=busybox", "--restart=Never"]);
    }
    used_becomes(&server, ns, "objects", json!({"pods": "2", "services": "0"}));
    let out = kc(&server, BIN, &["run", "c", "-n", ns, "--image=busybox", "--restart=Never"]);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success());
    assert_eq!(
        err.trim(),
        "Error from server (Forbidden): pods \"c\" is forbidden: exceeded quota: objects, requested: pods=1, used: pods=2, limited: pods=2"
    );
    assert!(is_not_found(&server, BIN, &["pod", "c", "-n", ns]));

    kc_ok(&server, BIN, &["create", "service", "clusterip", "one", "-n", ns, "--tcp=80:80"]);
    let err = kc_fails(&server, BIN, &["create", "service", "clusterip", "two", "-n", ns, "--tcp=80:80"]);
    assert!(
        err.contains("services \"two\" is forbidden: exceeded quota: objects, requested: services=1, used: services=1, limited: services=1"),
        "{err}"
    );

    // A deleted service gives its usage back.
    kc_ok(&server, BIN, &["delete", "service", "one", "-n", ns]);
    used_becomes(&server, ns, "objects", json!({"pods": "2", "services": "0"}));
    kc_ok(&server, BIN, &["create", "service", "clusterip", "two", "-n", ns, "--tcp=80:80"]);
    used_becomes(&server, ns, "objects", json!({"pods": "2", "services": "1"}));

    // A finished pod no longer counts as `pods`; a deleted one gives its usage back.
    let done = json!({"status": {"phase": "Succeeded"}});
    kc_ok(
        &server,
        BIN,
        &["patch", "pod", "a", "-n", ns, "--subresource=status", "--type=merge", "-p", &done.to_string()],
    );
    used_becomes(&server, ns, "objects", json!({"pods": "1", "services": "1"}));
    kc_ok(&server, BIN, &["run", "c", "-n", ns, "--image=busybox", "--restart=Never"]);
    used_becomes(&server, ns, "objects", json!({"pods": "2", "services": "1"}));
    kc_ok(&server, BIN, &["delete", "pod", "b", "-n", ns]);
    used_becomes(&server, ns, "objects", json!({"pods": "1", "services": "1"}));

    // `count/<resource>.<group>` of a served kind counts it.
    kc_ok(&server, BIN, &["create", "quota", "deploys", "-n", ns, "--hard=count/deployments.apps=0"]);
    used_becomes(&server, ns, "deploys", json!({"count/deployments.apps": "0"}));
    let err = kc_fails(&server, BIN, &["create", "deployment", "d", "-n", ns, "--image=busybox"]);
    assert!(
        err.contains("deployments.apps \"d\" is forbidden: exceeded quota: deploys, requested: count/deployments.apps=1, used: count/deployments.apps=0, limited: count/deployments.apps=0"),
        "{err}"
    );
}

#[test]
fn compute_quota_with_limit_range_defaults_and_scopes() {
    let server = start_server();
    let ns = "compute";
    kc_ok(&server, BIN, &["create", "namespace", ns]);
    kc_ok(
        &server,
        BIN,
        &["create", "quota", "compute", "-n", ns, "--hard=requests.cpu=1,requests.memory=1Gi,limits.memory=2Gi"],
    );
    used_becomes(&server, ns, "compute", json!({"limits.memory": "0", "requests.cpu": "0", "requests.memory": "0"}));

    let err = create_fails(&server, "nores.json", &pod(ns, "nores", json!({})));
    assert!(
        err.contains("pods \"nores\" is forbidden: failed quota: compute: must specify limits.memory for: app; requests.cpu for: app; requests.memory for: app"),
        "{err}"
    );

    let sized = json!({"requests": {"cpu": "600m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}});
    create(&server, "p1.json", &pod(ns, "p1", sized.clone()));
    used_becomes(
        &server,
        ns,
        "compute",
        json!({"limits.memory": "1Gi", "requests.cpu": "600m", "requests.memory": "512Mi"}),
    );
    let err = create_fails(&server, "p2.json", &pod(ns, "p2", sized));
    assert!(
        err.contains("pods \"p2\" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1"),
        "{err}"
    );

    // LimitRange defaults are applied before the quota counts the pod.
    create(
        &server,
        "lr.json",
        &json!({"apiVersion": "v1", "kind": "LimitRange",
        "metadata": {"name": "defaults", "namespace": ns},
        "spec": {"limits": [{"type": "Container", "default": {"memory": "256Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "128Mi"}}]}}),
    );
    create(&server, "small.json", &pod(ns, "small", json!({})));
    let small = get_json(&server, BIN, &["pod", "small", "-n", ns]);
    assert_eq!(small["spec"]["containers"][0]["resources"]["requests"], json!({"cpu": "100m", "memory": "128Mi"}));
    used_becomes(
        &server,
        ns,
        "compute",
        json!({"limits.memory": "1280Mi", "requests.cpu": "700m", "requests.memory": "640Mi"}),
    );

    // Scopes: a BestEffort quota counts only pods without requests or limits.
    let scoped = "scoped";
    kc_ok(&server, BIN, &["create", "namespace", scoped]);
    kc_ok(&server, BIN, &["create", "quota", "best-effort", "-n", scoped, "--hard=pods=1", "--scopes=BestEffort"]);
    used_becomes(&server, scoped, "best-effort", json!({"pods": "0"}));
    create(&server, "be1.json", &pod(scoped, "be1", json!({})));
    let burstable = json!({"requests": {"cpu": "10m"}});
    create(&server, "bu1.json", &pod(scoped, "bu1", burstable.clone()));
    create(&server, "bu2.json", &pod(scoped, "bu2", burstable));
    let err = create_fails(&server, "be2.json", &pod(scoped, "be2", json!({})));
    assert!(
        err.contains(
            "pods \"be2\" is forbidden: exceeded quota: best-effort, requested: pods=1, used: pods=1, limited: pods=1"
        ),
        "{err}"
    );
}

#[test]
fn bad_quotas_are_refused_or_reported() {
    let server = start_server();
    let ns = "bad";
    kc_ok(&server, BIN, &["create", "namespace", ns]);
    let quota = |hard: Value| {
        json!({"apiVersion": "v1", "kind": "ResourceQuota",
        "metadata": {"name": "q", "namespace": ns}, "spec": {"hard": hard}})
    };
    let err = create_fails(&server, "q1.json", &quota(json!({"pods": "two"})));
    assert!(err.contains("quantities must match the regular expression"), "{err}");
    let err = create_fails(&server, "q2.json", &quota(json!({"widgets": "1"})));
    assert!(
        err.contains("spec.hard[widgets]: Invalid value: \"widgets\": must be a standard resource for quota"),
        "{err}"
    );

    // A count of a kind nobody serves: accepted, not counted, reported once in an event.
    create(&server, "q3.json", &quota(json!({"count/widgets.example.com": "1", "pods": "5"})));
    let q = used_becomes(&server, ns, "q", json!({"pods": "0"}));
    assert_eq!(q["status"]["hard"], json!({"count/widgets.example.com": "1", "pods": "5"}));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let events = get_json(&server, BIN, &["events", "-n", ns]);
        let reasons: Vec<&str> = events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["involvedObject"]["kind"] == "ResourceQuota")
            .filter_map(|e| e["reason"].as_str())
            .collect();
        if reasons.contains(&"UnknownResource") {
            assert_eq!(reasons.len(), 1, "one event, no retries: {reasons:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no UnknownResource event: {events}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Pods are still admitted and counted.
    kc_ok(&server, BIN, &["run", "x", "-n", ns, "--image=busybox", "--restart=Never"]);
    used_becomes(&server, ns, "q", json!({"pods": "1"}));
    std::thread::sleep(Duration::from_millis(500));
    let failures = server.server_log().matches("sync failed").count();
    assert!(failures < 5, "the quota controller should not loop:\n{}", server.server_log());
}

#[test]
fn updates_are_charged_what_they_grow() {
    let server = start_server();
    let ns = "grow";
    kc_ok(&server, BIN, &["create", "namespace", ns]);

    // A claim expanded beyond `requests.storage` is refused with the difference requested.
    kc_ok(&server, BIN, &["create", "quota", "storage", "-n", ns, "--hard=requests.storage=2Gi"]);
    used_becomes(&server, ns, "storage", json!({"requests.storage": "0"}));
    let claim = json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}});
    create(&server, "claim.json", &claim);
    used_becomes(&server, ns, "storage", json!({"requests.storage": "1Gi"}));
    let expand = |size: &str| json!({"spec": {"resources": {"requests": {"storage": size}}}}).to_string();
    let err = kc_fails(&server, BIN, &["patch", "pvc", "data", "-n", ns, "--type=merge", "-p", &expand("5Gi")]);
    assert_eq!(
        err.trim(),
        "Error from server (Forbidden): persistentvolumeclaims \"data\" is forbidden: exceeded quota: storage, requested: requests.storage=4Gi, used: requests.storage=1Gi, limited: requests.storage=2Gi"
    );
    let stored = get_json(&server, BIN, &["pvc", "data", "-n", ns]);
    assert_eq!(stored["spec"]["resources"]["requests"]["storage"], "1Gi");
    // A dry run is checked the same way and charges nothing.
    let err = kc_fails(
        &server,
        BIN,
        &["patch", "pvc", "data", "-n", ns, "--type=merge", "--dry-run=server", "-p", &expand("3Gi")],
    );
    assert!(err.contains("exceeded quota: storage, requested: requests.storage=2Gi"), "{err}");
    // Growing within the quota is charged at once; other changes charge nothing.
    kc_ok(&server, BIN, &["patch", "pvc", "data", "-n", ns, "--type=merge", "-p", &expand("2Gi")]);
    let q = get_json(&server, BIN, &["resourcequota", "storage", "-n", ns]);
    assert_eq!(q["status"]["used"], json!({"requests.storage": "2Gi"}));
    kc_ok(&server, BIN, &["label", "pvc", "data", "-n", ns, "tier=gold"]);
    used_becomes(&server, ns, "storage", json!({"requests.storage": "2Gi"}));

    // A Service turned NodePort is charged one node port per port.
    kc_ok(
        &server,
        BIN,
        &["create", "quota", "ports", "-n", ns, "--hard=services.nodeports=1,services.loadbalancers=0"],
    );
    used_becomes(&server, ns, "ports", json!({"services.loadbalancers": "0", "services.nodeports": "0"}));
    kc_ok(&server, BIN, &["create", "service", "clusterip", "web", "-n", ns, "--tcp=80:80,443:443"]);
    let to_type = |t: &str| json!({"spec": {"type": t}}).to_string();
    let err =
        kc_fails(&server, BIN, &["patch", "service", "web", "-n", ns, "--type=merge", "-p", &to_type("NodePort")]);
    assert_eq!(
        err.trim(),
        "Error from server (Forbidden): services \"web\" is forbidden: exceeded quota: ports, requested: services.nodeports=2, used: services.nodeports=0, limited: services.nodeports=1"
    );
    let err =
        kc_fails(&server, BIN, &["patch", "service", "web", "-n", ns, "--type=merge", "-p", &to_type("LoadBalancer")]);
    assert!(
        err.contains("services \"web\" is forbidden: exceeded quota: ports, requested: services.loadbalancers=1,services.nodeports=2, used: services.loadbalancers=0,services.nodeports=0, limited: services.loadbalancers=0,services.nodeports=1"),
        "{err}"
    );
    let svc = get_json(&server, BIN, &["service", "web", "-n", ns]);
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    used_becomes(&server, ns, "ports", json!({"services.loadbalancers": "0", "services.nodeports": "0"}));
}
