//! `kubectl apply` (client-side) round trips: create, change, remove fields (three-way merge
//! through last-applied-configuration), unchanged — for a Deployment, a ConfigMap and a Service.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;
use serde_json::{json, Value};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn deployment(name: &str, image: &str, replicas: Option<u32>, env: bool, tier: bool) -> String {
    let mut doc =
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n");
    if tier {
        doc.push_str("    tier: frontend\n");
    }
    doc.push_str("spec:\n");
    if let Some(r) = replicas {
        doc.push_str(&format!("  replicas: {r}\n"));
    }
    doc.push_str(&format!(
        "  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n        ports:\n        - containerPort: 80\n"
    ));
    if env {
        doc.push_str(
            "        env:\n        - name: FOO\n          value: bar\n        - name: MODE\n          value: test\n",
        );
    }
    doc
}

fn last_applied(obj: &Value) -> Value {
    let text =
        obj["metadata"]["annotations"][LAST_APPLIED].as_str().unwrap_or_else(|| panic!("no {LAST_APPLIED} in {obj}"));
    serde_json::from_str(text).expect("last-applied is JSON")
}

fn apply(server: &common::Server, bin: &str, file: &std::path::Path) -> String {
    kc_ok(server, bin, &["apply", "-f", p(file)])
}

#[test]
fn apply_deployment_round_trip() {
    let server = start_server();
    for (bin, v) in BINS {
        let name = format!("web-{v}");
        let file = server.dir.path().join(format!("{name}.yaml"));
        let get = || get_json(&server, bin, &["deployment", &name]);

        std::fs::write(&file, deployment(&name, "nginx:1.24", Some(1), false, false)).unwrap();
        assert_eq!(apply(&server, bin, &file), format!("deployment.apps/{name} created\n"));
        let d = get();
        assert_eq!(s(&d, "spec.template.spec.containers.0.image"), "nginx:1.24");
        let la = last_applied(&d);
        assert_eq!(s(&la, "metadata.name"), name);
        assert_eq!(s(&la, "kind"), "Deployment");
        assert_eq!(at(&la, "spec.replicas"), &json!(1));
        let uid = s(&d, "metadata.uid").to_string();
        let generation = at(&d, "metadata.generation").as_i64().expect("generation");
        assert_eq!(generation, 1);

        // The same file again: unchanged, nothing written (the deployment controller writes
        // status meanwhile, so compare what apply owns, not the resourceVersion).
        let before = get();
        assert_eq!(apply(&server, bin, &file), format!("deployment.apps/{name} unchanged\n"));
        let after = get();
        assert_eq!(after["spec"], before["spec"]);
        assert_eq!(after["metadata"]["generation"], before["metadata"]["generation"]);
        assert_eq!(after["metadata"]["annotations"], before["metadata"]["annotations"]);

        // Change image and replicas, add env vars and a label.
        std::fs::write(&file, deployment(&name, "nginx:1.25", Some(3), true, true)).unwrap();
        assert_eq!(apply(&server, bin, &file), format!("deployment.apps/{name} configured\n"));
        let d = get();
        assert_eq!(s(&d, "metadata.uid"), uid);
        assert_eq!(at(&d, "spec.replicas"), &json!(3));
        assert_eq!(at(&d, "metadata.labels"), &json!({"app": name, "tier": "frontend"}));
        let c = at(&d, "spec.template.spec.containers");
        assert_eq!(c.as_array().unwrap().len(), 1);
        assert_eq!(s(c, "0.image"), "nginx:1.25");
        assert_eq!(at(c, "0.env"), &json!([{"name": "FOO", "value": "bar"}, {"name": "MODE", "value": "test"}]));
        assert_eq!(at(c, "0.ports"), &json!([{"containerPort": 80, "protocol": "TCP"}]));
        assert_eq!(at(&d, "metadata.generation"), &json!(2));
        assert_eq!(at(&last_applied(&d), "spec.replicas"), &json!(3));

        // A change made outside apply to a field apply does not own survives the next apply.
        kc_ok(&server, bin, &["annotate", "deployment", &name, "owner=someone"]);

        // Remove the env vars and the label from the file: they disappear.
        std::fs::write(&file, deployment(&name, "nginx:1.25", Some(3), false, false)).unwrap();
        assert_eq!(apply(&server, bin, &file), format!("deployment.apps/{name} configured\n"));
        let d = get();
        assert_eq!(at(&d, "metadata.labels"), &json!({"app": name}));
        assert!(at(&d, "spec.template.spec.containers.0.env").is_null(), "env still there: {d}");
        assert_eq!(s(&d, "spec.template.spec.containers.0.image"), "nginx:1.25");
        assert_eq!(s(&d, "metadata.annotations.owner"), "someone");

        // Remove replicas from the file: the field is cleared and defaulted again (1).
        std::fs::write(&file, deployment(&name, "nginx:1.25", None, false, false)).unwrap();
        assert_eq!(apply(&server, bin, &file), format!("deployment.apps/{name} configured\n"));
        let d = get();
        assert_eq!(at(&d, "spec.replicas"), &json!(1));
        assert!(at(&last_applied(&d), "spec.replicas").is_null());

        // Unchanged again.
        assert_eq!(apply(&server, bin, &file), format!("deployment.apps/{name} unchanged\n"));

        // kubectl apply view-last-applied prints the file's content.
        let view = kc_ok(&server, bin, &["apply", "view-last-applied", "deployment", &name, "-o", "json"]);
        let view: Value = serde_json::from_str(&view).unwrap();
        assert_eq!(s(&view, "spec.template.spec.containers.0.image"), "nginx:1.25");
    }
}

#[test]
fn apply_configmap_and_service_round_trips() {
    let server = start_server();
    for (bin, v) in BINS {
        // ConfigMap: change a value, remove a key, add a key.
        let cm = format!("cfg-{v}");
        let file = server.dir.path().join(format!("{cm}.yaml"));
        std::fs::write(
            &file,
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {cm}\ndata:\n  a: \"1\"\n  b: \"2\"\n"),
        )
        .unwrap();
        assert_eq!(apply(&server, bin, &file), format!("configmap/{cm} created\n"));
        assert_eq!(at(&get_json(&server, bin, &["configmap", &cm]), "data"), &json!({"a": "1", "b": "2"}));
        std::fs::write(
            &file,
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {cm}\ndata:\n  a: x\n  c: \"3\"\n"),
        )
        .unwrap();
        assert_eq!(apply(&server, bin, &file), format!("configmap/{cm} configured\n"));
        assert_eq!(at(&get_json(&server, bin, &["configmap", &cm]), "data"), &json!({"a": "x", "c": "3"}));
        assert_eq!(apply(&server, bin, &file), format!("configmap/{cm} unchanged\n"));
        // A key added by someone else (not in last-applied) is kept by the next apply.
        kc_ok(&server, bin, &["patch", "configmap", &cm, "--type=merge", "-p", r#"{"data":{"extra":"e"}}"#]);
        std::fs::write(
            &file,
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {cm}\ndata:\n  a: \"y\"\n  c: \"3\"\n"),
        )
        .unwrap();
        assert_eq!(apply(&server, bin, &file), format!("configmap/{cm} configured\n"));
        assert_eq!(
            at(&get_json(&server, bin, &["configmap", &cm]), "data"),
            &json!({"a": "y", "c": "3", "extra": "e"})
        );

        // Service: the allocated clusterIP survives applies; ports merge by `port`.
        let svc = format!("svc-{v}");
        let file = server.dir.path().join(format!("{svc}.yaml"));
        let service = |ports: &str| {
            format!(
                "apiVersion: v1\nkind: Service\nmetadata:\n  name: {svc}\nspec:\n  selector:\n    app: web\n  ports:\n{ports}"
            )
        };
        let http = "  - name: http\n    port: 80\n    targetPort: 8080\n";
        let https = "  - name: https\n    port: 443\n    targetPort: 8443\n";
        std::fs::write(&file, service(http)).unwrap();
        assert_eq!(apply(&server, bin, &file), format!("service/{svc} created\n"));
        let first = get_json(&server, bin, &["service", &svc]);
        let ip = s(&first, "spec.clusterIP").to_string();
        assert!(ip.starts_with("10.43."), "{ip}");
        std::fs::write(&file, service(&format!("{http}{https}"))).unwrap();
        assert_eq!(apply(&server, bin, &file), format!("service/{svc} configured\n"));
        let o = get_json(&server, bin, &["service", &svc]);
        assert_eq!(s(&o, "spec.clusterIP"), ip);
        assert_eq!(
            at(&o, "spec.ports"),
            &json!([
                {"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080},
                {"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}
            ])
        );
        std::fs::write(&file, service(https)).unwrap();
        assert_eq!(apply(&server, bin, &file), format!("service/{svc} configured\n"));
        let o = get_json(&server, bin, &["service", &svc]);
        assert_eq!(s(&o, "spec.clusterIP"), ip);
        assert_eq!(
            at(&o, "spec.ports"),
            &json!([{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 8443}])
        );
        assert_eq!(apply(&server, bin, &file), format!("service/{svc} unchanged\n"));
    }
}

#[test]
fn apply_several_documents_and_a_directory() {
    let server = start_server();
    for (bin, v) in BINS {
        let dir = server.dir.path().join(format!("manifests-{v}"));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(
            dir.join("a.yaml"),
            format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: app-{v}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: one\n  namespace: app-{v}\ndata:\n  k: \"1\"\n"),
        )
        .unwrap();
        std::fs::write(
            dir.join("b.yaml"),
            format!("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: robot\n  namespace: app-{v}\n"),
        )
        .unwrap();
        let out = kc_ok(&server, bin, &["apply", "-f", p(&dir)]);
        assert_eq!(
            lines(&out),
            [
                format!("namespace/app-{v} created"),
                "configmap/one created".into(),
                "serviceaccount/robot created".into()
            ]
        );
        let out = kc_ok(&server, bin, &["apply", "-f", p(&dir)]);
        assert_eq!(
            lines(&out),
            [
                format!("namespace/app-{v} unchanged"),
                "configmap/one unchanged".into(),
                "serviceaccount/robot unchanged".into()
            ]
        );
        assert_eq!(s(&get_json(&server, bin, &["configmap", "one", "-n", &format!("app-{v}")]), "data.k"), "1");
    }
}
