//! `kubectl create`: the typed generators (protobuf request bodies) and `create -f` of YAML
//! files (several documents, a List), with kubectl 1.32 and 1.33 against one server.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;
use serde_json::json;

#[test]
fn typed_create_namespace_configmap_secret() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("typed-{v}");
        let n = ns.as_str();
        assert_eq!(kc_ok(&server, bin, &["create", "namespace", n]), format!("namespace/{n} created\n"));
        let nsobj = get_json(&server, bin, &["namespace", n]);
        assert_eq!(at(&nsobj, "metadata.labels"), &json!({"kubernetes.io/metadata.name": n}));
        assert_eq!(s(&nsobj, "status.phase"), "Active");
        assert_eq!(at(&nsobj, "spec.finalizers"), &json!(["kubernetes"]));

        // ConfigMap
        let out =
            kc_ok(&server, bin, &["create", "configmap", "c", "-n", n, "--from-literal=a=b", "--from-literal=x=y"]);
        assert_eq!(out, "configmap/c created\n");
        let cm = get_json(&server, bin, &["configmap", "c", "-n", n]);
        assert_eq!(at(&cm, "data"), &json!({"a": "b", "x": "y"}));
        assert_eq!(s(&cm, "metadata.namespace"), n);
        assert!(!s(&cm, "metadata.uid").is_empty());
        assert!(!s(&cm, "metadata.resourceVersion").is_empty());
        assert!(!s(&cm, "metadata.creationTimestamp").is_empty());

        // Secret generic: data base64-encoded, type Opaque.
        let out = kc_ok(&server, bin, &["create", "secret", "generic", "sec", "-n", n, "--from-literal=k=v"]);
        assert_eq!(out, "secret/sec created\n");
        let sec = get_json(&server, bin, &["secret", "sec", "-n", n]);
        assert_eq!(at(&sec, "data"), &json!({"k": "dg=="}));
        assert_eq!(s(&sec, "type"), "Opaque");

        // Creating the same object again: AlreadyExists.
        let err = kc_fails(&server, bin, &["create", "configmap", "c", "-n", n, "--from-literal=a=z"]);
        assert_eq!(err.trim_end(), "error: failed to create configmap: configmaps \"c\" already exists");
        assert_eq!(at(&get_json(&server, bin, &["configmap", "c", "-n", n]), "data.a"), "b");
    }
}

#[test]
fn typed_create_deployment() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("typed-create-deploym-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);

        // Deployment with upstream's defaults.
        let out = kc_ok(&server, bin, &["create", "deployment", "d", "-n", n, "--image=nginx"]);
        assert_eq!(out, "deployment.apps/d created\n");
        let d = get_json(&server, bin, &["deployment", "d", "-n", n]);
        assert_eq!(at(&d, "spec.replicas"), &json!(1));
        assert_eq!(at(&d, "spec.selector"), &json!({"matchLabels": {"app": "d"}}));
        assert_eq!(at(&d, "spec.revisionHistoryLimit"), &json!(10));
        assert_eq!(at(&d, "spec.progressDeadlineSeconds"), &json!(600));
        assert_eq!(
            at(&d, "spec.strategy"),
            &json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}})
        );
        assert_eq!(s(&d, "spec.template.spec.restartPolicy"), "Always");
        assert_eq!(s(&d, "spec.template.spec.dnsPolicy"), "ClusterFirst");
        assert_eq!(at(&d, "spec.template.spec.terminationGracePeriodSeconds"), &json!(30));
        let c0 = at(&d, "spec.template.spec.containers.0");
        assert_eq!(s(c0, "name"), "nginx");
        assert_eq!(s(c0, "image"), "nginx");
        assert_eq!(s(c0, "imagePullPolicy"), "Always");
        assert_eq!(s(c0, "terminationMessagePath"), "/dev/termination-log");
    }
}

#[test]
fn typed_create_service() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("typed-create-service-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);

        // Service clusterip: a ClusterIP from 10.43.0.0/16, port named "80-8080".
        let out = kc_ok(&server, bin, &["create", "service", "clusterip", "s", "-n", n, "--tcp=80:8080"]);
        assert_eq!(out, "service/s created\n");
        let svc = get_json(&server, bin, &["service", "s", "-n", n]);
        assert_eq!(s(&svc, "spec.type"), "ClusterIP");
        assert_eq!(s(&svc, "spec.sessionAffinity"), "None");
        assert_eq!(at(&svc, "spec.selector"), &json!({"app": "s"}));
        let ports = at(&svc, "spec.ports").as_array().expect("ports");
        assert_eq!(ports.len(), 1);
        for (key, want) in
            [("name", json!("80-8080")), ("port", json!(80)), ("protocol", json!("TCP")), ("targetPort", json!(8080))]
        {
            assert_eq!(ports[0][key], want, "{key} in {}", ports[0]);
        }
        let ip = s(&svc, "spec.clusterIP");
        assert!(ip.starts_with("10.43.") && ip != "10.43.0.1", "cluster IP {ip}");
        assert_eq!(at(&svc, "spec.clusterIPs"), &json!([ip]));
    }
}

#[test]
fn typed_create_serviceaccount_job_cronjob() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("typed-create-service-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);

        // ServiceAccount
        let out = kc_ok(&server, bin, &["create", "serviceaccount", "sa", "-n", n]);
        assert_eq!(out, "serviceaccount/sa created\n");
        assert_eq!(s(&get_json(&server, bin, &["serviceaccount", "sa", "-n", n]), "kind"), "ServiceAccount");

        // Job
        let out = kc_ok(&server, bin, &["create", "job", "j", "-n", n, "--image=busybox", "--", "echo", "hi"]);
        assert_eq!(out, "job.batch/j created\n");
        let job = get_json(&server, bin, &["job", "j", "-n", n]);
        let jc = at(&job, "spec.template.spec.containers.0");
        assert_eq!((s(jc, "name"), s(jc, "image")), ("j", "busybox"));
        assert_eq!(at(jc, "command"), &json!(["echo", "hi"]));
        assert_eq!(s(&job, "spec.template.spec.restartPolicy"), "Never");
        assert_eq!(at(&job, "spec.backoffLimit"), &json!(6));
        assert_eq!(at(&job, "spec.completions"), &json!(1));
        assert_eq!(at(&job, "spec.parallelism"), &json!(1));

        // CronJob
        let out = kc_ok(
            &server,
            bin,
            &["create", "cronjob", "cj", "-n", n, "--image=busybox", "--schedule=*/5 * * * *", "--", "date"],
        );
        assert_eq!(out, "cronjob.batch/cj created\n");
        let cj = get_json(&server, bin, &["cronjob", "cj", "-n", n]);
        assert_eq!(s(&cj, "spec.schedule"), "*/5 * * * *");
        assert_eq!(s(&cj, "spec.concurrencyPolicy"), "Allow");
        assert_eq!(at(&cj, "spec.suspend"), &json!(false));
        assert_eq!(at(&cj, "spec.successfulJobsHistoryLimit"), &json!(3));
        assert_eq!(at(&cj, "spec.failedJobsHistoryLimit"), &json!(1));
        assert_eq!(s(&cj, "spec.jobTemplate.spec.template.spec.containers.0.image"), "busybox");
    }
}

#[test]
fn typed_create_rbac_priorityclass_quota() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("typed-create-rbac-pr-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);

        // Role and RoleBinding
        let out = kc_ok(&server, bin, &["create", "role", "r", "-n", n, "--verb=get,list", "--resource=pods"]);
        assert_eq!(out, "role.rbac.authorization.k8s.io/r created\n");
        let role = get_json(&server, bin, &["role", "r", "-n", n]);
        assert_eq!(at(&role, "rules"), &json!([{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]));
        let out = kc_ok(&server, bin, &["create", "rolebinding", "rb", "-n", n, "--role=r", "--user=alice"]);
        assert_eq!(out, "rolebinding.rbac.authorization.k8s.io/rb created\n");
        let rb = get_json(&server, bin, &["rolebinding", "rb", "-n", n]);
        assert_eq!(at(&rb, "roleRef"), &json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"}));
        assert_eq!(
            at(&rb, "subjects"),
            &json!([{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}])
        );

        // PriorityClass (cluster-scoped)
        let pc = format!("pc-{v}");
        let out = kc_ok(&server, bin, &["create", "priorityclass", &pc, "--value=1000", "--description=test class"]);
        assert_eq!(out, format!("priorityclass.scheduling.k8s.io/{pc} created\n"));
        let pco = get_json(&server, bin, &["priorityclass", &pc]);
        assert_eq!(at(&pco, "value"), &json!(1000));
        assert_eq!(s(&pco, "description"), "test class");
        assert_eq!(s(&pco, "preemptionPolicy"), "PreemptLowerPriority");
        assert!(at(&pco, "metadata.namespace").is_null());

        // ResourceQuota
        let out = kc_ok(&server, bin, &["create", "quota", "q", "-n", n, "--hard=pods=10,cpu=2"]);
        assert_eq!(out, "resourcequota/q created\n");
        let q = get_json(&server, bin, &["resourcequota", "q", "-n", n]);
        assert_eq!(at(&q, "spec.hard"), &json!({"pods": "10", "cpu": "2"}));
    }
}

#[test]
fn create_from_files_with_several_documents() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("files-{v}");
        kc_ok(&server, bin, &["create", "namespace", &ns]);
        let manifest = format!(
            r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: m1
  namespace: {ns}
  labels:
    from: file
data:
  k: v
---
apiVersion: v1
kind: Secret
metadata:
  name: m2
  namespace: {ns}
stringData:
  k: v
---
# a comment-only document separator case
apiVersion: apps/v1
kind: Deployment
metadata:
  name: m3
  namespace: {ns}
spec:
  selector:
    matchLabels:
      app: m3
  template:
    metadata:
      labels:
        app: m3
    spec:
      containers:
      - name: web
        image: nginx:1.25
"#
        );
        let file = write_file(&server, &format!("multi-{v}.yaml"), &manifest);
        let out = kc_ok(&server, bin, &["create", "-f", p(&file)]);
        assert_eq!(lines(&out), ["configmap/m1 created", "secret/m2 created", "deployment.apps/m3 created"]);
        let cm = get_json(&server, bin, &["configmap", "m1", "-n", &ns]);
        assert_eq!(at(&cm, "data"), &json!({"k": "v"}));
        assert_eq!(at(&cm, "metadata.labels"), &json!({"from": "file"}));
        // stringData is merged into data (base64) and not stored.
        let sec = get_json(&server, bin, &["secret", "m2", "-n", &ns]);
        assert_eq!(at(&sec, "data"), &json!({"k": "dg=="}));
        assert!(at(&sec, "stringData").is_null());
        let d = get_json(&server, bin, &["deployment", "m3", "-n", &ns]);
        assert_eq!(s(&d, "spec.template.spec.containers.0.image"), "nginx:1.25");
        assert_eq!(s(&d, "spec.template.spec.containers.0.imagePullPolicy"), "IfNotPresent");

        // Creating the file again: every document already exists (exit 1).
        let err = kc_fails(&server, bin, &["create", "-f", p(&file)]);
        assert!(
            err.contains(&format!(
                "Error from server (AlreadyExists): error when creating \"{}\": configmaps \"m1\" already exists",
                p(&file)
            )),
            "{err}"
        );
    }
}

/// `kind: List` documents (validation off: see `create_list_with_default_validation`).
#[test]
fn create_from_list_files() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("list-{v}");
        kc_ok(&server, bin, &["create", "namespace", &ns]);
        // A List (JSON), namespace from the command line.
        let list = json!({
            "apiVersion": "v1",
            "kind": "List",
            "items": [
                {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l1"}, "data": {"a": "1"}},
                {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "l2"}},
                {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "l3"},
                 "spec": {"ports": [{"port": 53, "protocol": "UDP", "name": "dns"}], "selector": {"app": "x"}}}
            ]
        });
        let file = write_file(&server, &format!("list-{v}.json"), &list.to_string());
        let out = kc_ok(&server, bin, &["create", "--validate=false", "-f", p(&file), "-n", &ns]);
        assert_eq!(lines(&out), ["configmap/l1 created", "serviceaccount/l2 created", "service/l3 created"]);
        assert_eq!(at(&get_json(&server, bin, &["configmap", "l1", "-n", &ns]), "data"), &json!({"a": "1"}));
        let svc = get_json(&server, bin, &["service", "l3", "-n", &ns]);
        assert_eq!(at(&svc, "spec.ports"), &json!([{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53}]));

        // A YAML List from stdin.
        let yaml_list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: s1\n  data:\n    x: \"1\"\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: s2\n";
        let out = kc_stdin(&server, bin, &["create", "--validate=false", "-f", "-", "-n", &ns], yaml_list);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines(&String::from_utf8_lossy(&out.stdout)), ["configmap/s1 created", "configmap/s2 created"]);
    }
}

/// With the default `--validate=strict`, kubectl validates a `kind: List` document against the
/// OpenAPI v2 schema (`GET /openapi/v2`, protobuf), not v3 (query_param_verifier_v3 refuses List).
#[test]
fn create_list_with_default_validation() {
    let server = start_server();
    for (bin, v) in BINS {
        let yaml_list = format!(
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata:\n    name: strict-{v}\n  data:\n    x: \"1\"\n"
        );
        let out = kc_stdin(&server, bin, &["create", "-f", "-"], &yaml_list);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("configmap/strict-{v} created\n"));
        assert_eq!(s(&get_json(&server, bin, &["configmap", &format!("strict-{v}")]), "data.x"), "1");
    }
}

/// Typed commands send protobuf; fields that are zero in the message but `omitempty` in JSON
/// must not appear in the stored object (upstream decodes into Go structs and omits them).
#[test]
fn protobuf_create_omits_zero_value_fields() {
    let server = start_server();
    for (bin, v) in BINS {
        let name = format!("pb-{v}");
        kc_ok(&server, bin, &["create", "service", "clusterip", &name, "--tcp=80:8080"]);
        let svc = get_json(&server, bin, &["service", &name]);
        assert_eq!(
            at(&svc, "spec.ports"),
            &json!([{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}])
        );
        let spec = svc["spec"].as_object().unwrap();
        for key in ["healthCheckNodePort", "publishNotReadyAddresses", "loadBalancerIP", "externalName"] {
            assert!(!spec.contains_key(key), "{key} in {}", svc["spec"]);
        }
    }
}

/// Node ports follow a Service's type: given when it turns NodePort (with `kubectl patch`),
/// kept across updates, refused to another Service while held, and given back when it
/// turns ClusterIP again (upstream's allocateUpdate and dropTypeDependentFields).
#[test]
fn node_ports_follow_type_changes() {
    let server = start_server();
    let bin = KUBECTL_133;
    kc_ok(&server, bin, &["create", "service", "clusterip", "web", "--tcp=80:8080"]);
    let svc = get_json(&server, bin, &["service", "web"]);
    assert!(at(&svc, "spec.ports.0").get("nodePort").is_none(), "{}", svc["spec"]);

    kc_ok(&server, bin, &["patch", "service", "web", "--type=merge", "-p", r#"{"spec":{"type":"NodePort"}}"#]);
    let svc = get_json(&server, bin, &["service", "web"]);
    let port = at(&svc, "spec.ports.0.nodePort").as_i64().expect("a node port");
    assert!((30000..=32767).contains(&port), "{port}");
    // Kept across an unrelated update.
    kc_ok(&server, bin, &["label", "service", "web", "tier=front"]);
    assert_eq!(at(&get_json(&server, bin, &["service", "web"]), "spec.ports.0.nodePort").as_i64(), Some(port));

    // Held: another Service cannot take it.
    let taken = format!("--node-port={port}");
    let err = kc_fails(&server, bin, &["create", "service", "nodeport", "other", "--tcp=81:8080", &taken]);
    assert!(
        err.contains(&format!("spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated")),
        "{err}"
    );

    // Back to ClusterIP: the port is dropped and free again.
    kc_ok(&server, bin, &["patch", "service", "web", "--type=merge", "-p", r#"{"spec":{"type":"ClusterIP"}}"#]);
    let svc = get_json(&server, bin, &["service", "web"]);
    assert!(at(&svc, "spec.ports.0").get("nodePort").is_none(), "{}", svc["spec"]);
    kc_ok(&server, bin, &["create", "service", "nodeport", "other", "--tcp=81:8080", &taken]);
    let other = get_json(&server, bin, &["service", "other"]);
    assert_eq!(at(&other, "spec.ports.0.nodePort").as_i64(), Some(port));
}
