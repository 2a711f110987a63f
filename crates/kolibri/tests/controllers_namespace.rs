//! The namespace, service account and root CA controllers against a real `kolibri server`,
//! driven with kubectl: every namespace gets the `default` ServiceAccount and the
//! `kube-root-ca.crt` ConfigMap (restored when deleted or changed); deleting a namespace
//! removes everything in it, reports what remains in upstream's conditions, and waits for
//! finalizers; `--disable-controllers` (flag and config file) switches controllers off.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::time::{Duration, Instant};

use common::wait_for as eventually;

use kubectl_common::*;
use serde_json::Value;

const K: &str = KUBECTL_133;

/// Polls `check` every 100 ms until it returns `Some`, or fails after `within`.
fn get_opt(server: &common::Server, args: &[&str]) -> Option<Value> {
    let mut full = vec!["get"];
    full.extend_from_slice(args);
    full.extend_from_slice(&["-o", "json"]);
    let out = kc(server, K, &full);
    if out.status.success() {
        Some(serde_json::from_slice(&out.stdout).expect("kubectl -o json"))
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("NotFound"), "kubectl get {args:?} failed: {stderr}");
        None
    }
}

/// The controllers the server logged it starts (the last start in the log).
fn started_controllers(log: &str) -> Option<Vec<String>> {
    let line = log.lines().rev().find(|l| l.contains("starting controllers controllers="))?;
    let list = &line[line.find("controllers=")? + "controllers=".len()..];
    Some(list.split_whitespace().next().unwrap_or_default().split(',').map(str::to_string).collect())
}

fn condition<'a>(ns: &'a Value, kind: &str) -> &'a Value {
    ns["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == kind))
        .unwrap_or_else(|| panic!("no condition {kind} in {ns}"))
}

#[test]
fn every_namespace_gets_the_default_service_account_and_the_root_ca() {
    let server = start_server();
    let ca = std::fs::read_to_string(server.data_dir().join("server/tls/server-ca.crt")).expect("CA file");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"));
    // The namespaces that exist from the start, and a new one.
    kc_ok(&server, K, &["create", "namespace", "team-a"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease", "team-a"] {
        let sa = eventually(Duration::from_secs(20), &format!("the default service account in {ns}"), || {
            get_opt(&server, &["serviceaccount", "default", "-n", ns])
        });
        assert_eq!(sa["metadata"]["name"], "default");
        let cm = eventually(Duration::from_secs(20), &format!("kube-root-ca.crt in {ns}"), || {
            get_opt(&server, &["configmap", "kube-root-ca.crt", "-n", ns])
        });
        assert_eq!(cm["data"]["ca.crt"].as_str(), Some(ca.as_str()), "{ns}");
        assert_eq!(
            cm["metadata"]["annotations"]["kubernetes.io/description"],
            "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."
        );
    }

    // Deleted: both come back, as new objects.
    let old_sa = get_json(&server, K, &["serviceaccount", "default", "-n", "team-a"]);
    let old_cm = get_json(&server, K, &["configmap", "kube-root-ca.crt", "-n", "team-a"]);
    kc_ok(&server, K, &["delete", "serviceaccount", "default", "-n", "team-a"]);
    kc_ok(&server, K, &["delete", "configmap", "kube-root-ca.crt", "-n", "team-a"]);
    let sa = eventually(Duration::from_secs(20), "the default service account to come back", || {
        get_opt(&server, &["serviceaccount", "default", "-n", "team-a"])
    });
    assert_ne!(sa["metadata"]["uid"], old_sa["metadata"]["uid"]);
    let cm = eventually(Duration::from_secs(20), "kube-root-ca.crt to come back", || {
        get_opt(&server, &["configmap", "kube-root-ca.crt", "-n", "team-a"])
    });
    assert_ne!(cm["metadata"]["uid"], old_cm["metadata"]["uid"]);
    assert_eq!(cm["data"]["ca.crt"].as_str(), Some(ca.as_str()));

    // Changed: the data is restored, other annotations are kept.
    kc_ok(&server, K, &["annotate", "configmap", "kube-root-ca.crt", "-n", "team-a", "example.com/keep=yes"]);
    kc_ok(
        &server,
        K,
        &[
            "patch",
            "configmap",
            "kube-root-ca.crt",
            "-n",
            "team-a",
            "--type=merge",
            "-p",
            r#"{"data":{"ca.crt":"forged"}}"#,
        ],
    );
    let cm = eventually(Duration::from_secs(20), "ca.crt to be restored", || {
        let cm = get_json(&server, K, &["configmap", "kube-root-ca.crt", "-n", "team-a"]);
        (cm["data"]["ca.crt"].as_str() == Some(ca.as_str())).then_some(cm)
    });
    assert_eq!(cm["metadata"]["annotations"]["example.com/keep"], "yes");
    assert_eq!(cm["data"].as_object().map(|d| d.len()), Some(1));
}

/// 500 objects of mixed kinds, created in one `kubectl create -f`, all gone after one
/// `kubectl delete namespace` (which waits until the namespace is gone).
#[test]
fn deleting_a_namespace_removes_500_objects_of_mixed_kinds() {
    let server = start_server();
    let ns = "bulk";
    kc_ok(&server, K, &["create", "namespace", ns]);
    let mut docs = Vec::new();
    for i in 0..150 {
        docs.push(format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{i}\ndata:\n  k: v{i}\n"));
        docs.push(format!("apiVersion: v1\nkind: Secret\nmetadata:\n  name: secret-{i}\nstringData:\n  k: v{i}\n"));
    }
    for i in 0..80 {
        docs.push(format!(
            "apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-{i}\nspec:\n  selector:\n    app: a{i}\n  ports:\n  - port: 80\n"
        ));
        docs.push(format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-{i}\nspec:\n  containers:\n  - name: c\n    image: busybox\n"
        ));
    }
    for i in 0..40 {
        docs.push(format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: deploy-{i}\nspec:\n  selector:\n    matchLabels:\n      app: d{i}\n  template:\n    metadata:\n      labels:\n        app: d{i}\n    spec:\n      containers:\n      - name: c\n        image: busybox\n"
        ));
    }
    assert_eq!(docs.len(), 500);
    let out = kc_stdin(&server, K, &["create", "-n", ns, "-f", "-"], &docs.join("---\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let counted = get_json(&server, K, &["configmaps,secrets,services,pods,deployments", "-n", ns]);
    // Ours, and kube-root-ca.crt once the publisher got to it.
    assert!(counted["items"].as_array().map(Vec::len).unwrap_or(0) >= 500);

    let started = Instant::now();
    let out = run_with_deadline(
        server.kubectl_cmd(K, &["delete", "namespace", ns, "--timeout=60s"]),
        None,
        Duration::from_secs(90),
    );
    let took = started.elapsed();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    eprintln!("namespace with 500 objects deleted in {} ms", took.as_millis());
    assert!(get_opt(&server, &["namespace", ns]).is_none());
    // Nothing of it is left behind in the store: a namespace of the same name is empty.
    kc_ok(&server, K, &["create", "namespace", ns]);
    let left = get_json(&server, K, &["configmaps,secrets,services,pods,deployments", "-n", ns]);
    let left: Vec<String> = left["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|i| format!("{}/{}", i["kind"].as_str().unwrap_or(""), i["metadata"]["name"].as_str().unwrap_or("")))
        .filter(|n| n != "ConfigMap/kube-root-ca.crt")
        .collect();
    assert!(left.is_empty(), "left over: {left:?}");
    assert!(took < Duration::from_secs(30), "deleting took {took:?}");
}

/// An object with a finalizer holds the namespace in Terminating, with upstream's
/// conditions saying what remains, until the finalizer is removed.
#[test]
fn content_with_a_finalizer_holds_the_namespace_until_it_is_removed() {
    let server = start_server();
    let ns = "held";
    kc_ok(&server, K, &["create", "namespace", ns]);
    kc_ok(&server, K, &["create", "secret", "generic", "plain", "-n", ns]);
    let held = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {ns}\n  finalizers:\n  - example.com/hold\n"
    );
    let out = kc_stdin(&server, K, &["create", "-f", "-"], &held);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    kc_ok(&server, K, &["delete", "namespace", ns, "--wait=false"]);

    let obj = eventually(Duration::from_secs(20), "the namespace conditions", || {
        let obj = get_json(&server, K, &["namespace", ns]);
        let ready = obj["status"]["conditions"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["type"] == "NamespaceFinalizersRemaining" && c["status"] == "True"));
        ready.then_some(obj)
    });
    assert_eq!(obj["status"]["phase"], "Terminating");
    assert_eq!(obj["spec"]["finalizers"], serde_json::json!(["kubernetes"]));
    let expect = [
        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed",
        ),
        (
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        ),
        (
            "NamespaceContentRemaining",
            "True",
            "SomeResourcesRemain",
            "Some resources are remaining: configmaps. has 1 resource instances",
        ),
        (
            "NamespaceFinalizersRemaining",
            "True",
            "SomeFinalizersRemain",
            "Some content in the namespace has finalizers remaining: example.com/hold in 1 resource instances",
        ),
    ];
    for (kind, status, reason, message) in expect {
        let c = condition(&obj, kind);
        assert_eq!(
            (c["status"].as_str(), c["reason"].as_str(), c["message"].as_str()),
            (Some(status), Some(reason), Some(message)),
            "{kind}"
        );
        assert!(c["lastTransitionTime"].is_string(), "{kind}");
    }
    // Everything without a finalizer is gone; the held object is being deleted.
    assert!(get_opt(&server, &["secret", "plain", "-n", ns]).is_none());
    let cm = get_json(&server, K, &["configmap", "held", "-n", ns]);
    assert!(cm["metadata"]["deletionTimestamp"].is_string());
    // Still there a while later.
    std::thread::sleep(Duration::from_secs(2));
    assert!(get_opt(&server, &["namespace", ns]).is_some());

    kc_ok(
        &server,
        K,
        &["patch", "configmap", "held", "-n", ns, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#],
    );
    eventually(Duration::from_secs(40), "the namespace to disappear", || {
        get_opt(&server, &["namespace", ns]).is_none().then_some(())
    });
}

/// `--disable-controllers` in the config file (keys are flag names) switches controllers
/// off; an unknown name stops the server from starting.
#[test]
fn disabled_controllers_from_the_config_file_do_not_run() {
    let mut server = common::Server::start_with(&["--disable-controllers", "root-ca-cert-publisher"]);
    kc_ok(&server, K, &["create", "namespace", "quiet"]);
    eventually(Duration::from_secs(20), "the default service account", || {
        get_opt(&server, &["serviceaccount", "default", "-n", "quiet"])
    });
    assert!(get_opt(&server, &["configmap", "kube-root-ca.crt", "-n", "quiet"]).is_none());

    // The same through config.yaml, with upstream's name for the service account controller.
    server.stop();
    std::fs::write(server.dir.path().join("config.yaml"), "disable-controllers:\n- serviceaccount-controller\n")
        .unwrap();
    server.spawn(&[]);
    let started = eventually(Duration::from_secs(10), "the controllers' start line", || {
        let log = server.server_log();
        // The log holds both starts: wait for the second.
        (log.matches("starting controllers").count() == 2).then(|| started_controllers(&log)).flatten()
    });
    assert!(started.iter().any(|c| c == "root-ca-cert-publisher"), "{started:?}");
    assert!(!started.iter().any(|c| c == "serviceaccount"), "{started:?}");
    kc_ok(&server, K, &["create", "namespace", "quiet2"]);
    eventually(Duration::from_secs(20), "kube-root-ca.crt", || {
        get_opt(&server, &["configmap", "kube-root-ca.crt", "-n", "quiet2"])
    });
    assert!(get_opt(&server, &["serviceaccount", "default", "-n", "quiet2"]).is_none());
    server.stop();

    // An unknown name is an error at start.
    std::fs::write(server.dir.path().join("config.yaml"), "disable-controllers: [no-such-controller]\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kolibri"))
        .arg("server")
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["--bind-address", "127.0.0.1", "--https-listen-port", &common::free_port().to_string()])
        .arg("--write-kubeconfig")
        .arg(&server.kubeconfig)
        .arg("--config")
        .arg(server.dir.path().join("config.yaml"))
        .output()
        .expect("run kolibri");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown controller \"no-such-controller\""), "{stderr}");
}

/// A namespaced custom resource kind defined after the server started: its objects go with
/// their namespace (the controller discovers kinds on every pass).
#[test]
fn custom_resources_are_deleted_with_their_namespace() {
    let server = start_server();
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: gadgets.ns.example.com\nspec:\n  group: ns.example.com\n  scope: Namespaced\n  names:\n    plural: gadgets\n    singular: gadget\n    kind: Gadget\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema:\n        type: object\n        x-kubernetes-preserve-unknown-fields: true\n";
    let out = kc_stdin(&server, K, &["create", "-f", "-"], crd);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    kc_ok(&server, K, &["wait", "--for=condition=Established", "crd/gadgets.ns.example.com", "--timeout=30s"]);
    kc_ok(&server, K, &["create", "namespace", "gadgets"]);
    let docs: Vec<String> = (0..5)
        .map(|i| {
            format!("apiVersion: ns.example.com/v1\nkind: Gadget\nmetadata:\n  name: g{i}\n  namespace: gadgets\n")
        })
        .collect();
    let out = kc_stdin(&server, K, &["create", "-f", "-"], &docs.join("---\n"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(names(&get_json(&server, K, &["gadgets", "-n", "gadgets"])).len(), 5);

    kc_ok(&server, K, &["delete", "namespace", "gadgets", "--timeout=60s"]);
    assert!(get_opt(&server, &["namespace", "gadgets"]).is_none());
    kc_ok(&server, K, &["create", "namespace", "gadgets"]);
    assert_eq!(names(&get_json(&server, K, &["gadgets", "-n", "gadgets"])), Vec::<String>::new());
}
