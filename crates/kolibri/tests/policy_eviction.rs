//! PodDisruptionBudgets and the eviction subresource: the disruption controller's status,
//! 429 while a budget forbids, `kubectl drain` waiting for the budget, and the refusal of a
//! pod with two budgets. The test plays the node agent: it registers Nodes, binds pods at
//! creation (`spec.nodeName`) and sets their status. It plays the StatefulSet controller too
//! (switched off), so that its pods are exactly the ones the test creates.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, EvictParams};
use kubectl_common::*;
use serde_json::{json, Value};

const NS: &str = "shop";
const BIN: &str = KUBECTL_133;

fn apply_json(server: &common::Server, name: &str, obj: &Value) {
    let file = write_file(server, name, &obj.to_string());
    kc_ok(server, BIN, &["create", "-f", p(&file)]);
}

fn node(server: &common::Server, name: &str) {
    apply_json(
        server,
        &format!("node-{name}.json"),
        &json!({"apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
    );
}

/// A running, ready pod of the StatefulSet `web` on `node`.
fn pod(server: &common::Server, name: &str, node: &str, owner_uid: &str) {
    apply_json(
        server,
        &format!("pod-{name}.json"),
        &json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": "web"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web",
                "uid": owner_uid, "controller": true, "blockOwnerDeletion": true}]},
        "spec": {"nodeName": node, "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "web", "image": "nginx"}]}}),
    );
    let status = json!({"status": {"phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}]}});
    kc_ok(
        server,
        BIN,
        &["patch", "pod", name, "-n", NS, "--subresource=status", "--type=merge", "-p", &status.to_string()],
    );
}

/// Waits (bounded) until the budget's status satisfies `check`; returns it.
fn budget_status(server: &common::Server, name: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pdb = get_json(server, BIN, &["pdb", name, "-n", NS]);
        if check(&pdb["status"]) {
            return pdb["status"].clone();
        }
        assert!(Instant::now() < deadline, "budget {name} never reached the expected status: {}", pdb["status"]);
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A kube-rs client that reports 429 instead of retrying it (kube's default retry).
async fn client(server: &common::Server) -> kube::Client {
    let kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).expect("read kubeconfig");
    let mut config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.expect("kube config");
    config.default_retry = false;
    kube::Client::try_from(config).expect("kube client")
}

fn condition<'a>(status: &'a Value, kind: &str) -> &'a Value {
    status["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .unwrap_or_else(|| panic!("no {kind} condition in {status}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_waits_for_the_disruption_budget() {
    let server = common::Server::start_with(&["--disable-controllers", "statefulset"]);
    kc_ok(&server, BIN, &["create", "namespace", NS]);
    node(&server, "node-1");
    node(&server, "node-2");
    apply_json(
        &server,
        "sts.json",
        &json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"replicas": 2, "serviceName": "web", "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}),
    );
    let sts = get_json(&server, BIN, &["statefulset", "web", "-n", NS]);
    let uid = s(&sts, "metadata.uid").to_string();
    pod(&server, "web-0", "node-1", &uid);
    pod(&server, "web-1", "node-2", &uid);
    apply_json(
        &server,
        "pdb.json",
        &json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": NS},
        "spec": {"minAvailable": 2, "selector": {"matchLabels": {"app": "web"}}}}),
    );

    let status = budget_status(&server, "web", |s| s["currentHealthy"] == 2 && s["observedGeneration"] == 1);
    assert_eq!(status["desiredHealthy"], 2);
    assert_eq!(status["expectedPods"], 2);
    assert_eq!(status["disruptionsAllowed"], 0);
    assert_eq!(condition(&status, "DisruptionAllowed")["reason"], "InsufficientPods");
    assert_eq!(condition(&status, "DisruptionAllowed")["status"], "False");

    // The eviction subresource refuses with 429 and the budget's numbers.
    let pods: Api<Pod> = Api::namespaced(client(&server).await, NS);
    match pods.evict("web-0", &EvictParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 429, "{status:?}");
            assert_eq!(status.reason, "TooManyRequests");
            assert_eq!(status.message, "Cannot evict pod as it would violate the pod's disruption budget.");
            let causes = status.details.map(|d| d.causes).unwrap_or_default();
            assert_eq!(causes.len(), 1, "{causes:?}");
            assert_eq!(causes[0].reason, "DisruptionBudget");
            assert_eq!(causes[0].message, "The disruption budget web needs 2 healthy pods and has 2 currently");
        }
        other => panic!("eviction should be refused: {other:?}"),
    }

    // kubectl drain cordons the node and retries the eviction every 5 s.
    let mut drain = server
        .kubectl_bin(BIN, &["drain", "node-1", "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=90s"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start kubectl drain");
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = drain.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let blocked = "error when evicting pods/\"web-0\" -n \"shop\" (will retry after 5s): Cannot evict pod as it would violate the pod's disruption budget.";
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.iter().any(|l: &String| l.contains(blocked)) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => seen.push(line),
            Err(_) if Instant::now() < deadline => {}
            Err(_) => {
                let _ = drain.kill();
                let _ = drain.wait();
                panic!("drain never reported the budget: {seen:?}");
            }
        }
    }
    let node = get_json(&server, BIN, &["node", "node-1"]);
    assert_eq!(node["spec"]["unschedulable"], true, "drain cordons first");
    assert!(!is_not_found(&server, BIN, &["pod", "web-0", "-n", NS]), "the budget keeps web-0");

    // A ready replacement elsewhere makes room for one disruption; the next retry evicts.
    pod(&server, "web-2", "node-2", &uid);
    let status = budget_status(&server, "web", |s| s["disruptionsAllowed"] == 1 || s["currentHealthy"] == 2);
    assert!(status["disruptionsAllowed"] == 1 || status["currentHealthy"] == 2, "{status}");
    let started = Instant::now();
    let exit = loop {
        if let Some(exit) = drain.try_wait().expect("wait drain") {
            break exit;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = drain.kill();
            let _ = drain.wait();
            panic!("drain did not finish once the budget allowed it");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut stdout = String::new();
    if let Some(mut out) = drain.stdout.take() {
        use std::io::Read;
        let _ = out.read_to_string(&mut stdout);
    }
    let _ = reader.join();
    seen.extend(rx.try_iter());
    assert!(exit.success(), "drain failed\nstdout: {stdout}\nstderr: {seen:?}");
    assert!(stdout.contains("pod/web-0 evicted"), "{stdout}");
    assert!(stdout.contains("node/node-1 drained"), "{stdout}");
    assert!(is_not_found(&server, BIN, &["pod", "web-0", "-n", NS]));

    // The eviction was taken from the budget, and the controller settles it after the pod went.
    let status = budget_status(&server, "web", |s| s["currentHealthy"] == 2 && s.get("disruptedPods").is_none());
    assert_eq!(status["disruptionsAllowed"], 0);
    assert_eq!(status["expectedPods"], 2);

    // Two budgets for one pod: upstream's 500.
    apply_json(
        &server,
        "pdb2.json",
        &json!({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
        "metadata": {"name": "web-too", "namespace": NS},
        "spec": {"maxUnavailable": "50%", "selector": {"matchLabels": {"app": "web"}}}}),
    );
    // maxUnavailable scales with the StatefulSet's replicas: 2 - ceil(50% of 2) = 1.
    let other = budget_status(&server, "web-too", |s| s["observedGeneration"] == 1);
    assert_eq!(other["expectedPods"], 2);
    assert_eq!(other["desiredHealthy"], 1);
    assert_eq!(other["disruptionsAllowed"], 1);
    assert_eq!(condition(&other, "DisruptionAllowed")["reason"], "SufficientPods");
    match pods.evict("web-1", &EvictParams::default()).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 500, "{status:?}");
            assert_eq!(
                status.message,
                "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."
            );
        }
        other => panic!("eviction should be refused: {other:?}"),
    }

    // A pending pod disrupts nothing: it is evicted whatever the budgets say.
    apply_json(
        &server,
        "pending.json",
        &json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-9", "namespace": NS, "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "web", "image": "nginx"}]}}),
    );
    pods.evict("web-9", &EvictParams::default()).await.expect("evict a pending pod");
    assert!(is_not_found(&server, BIN, &["pod", "web-9", "-n", NS]));
}
