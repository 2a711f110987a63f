//! `kubectl apply --server-side` with kubectl 1.32 and 1.33: create, update, no-op,
//! conflicts and `--force-conflicts`, managers sharing a list, field removal,
//! `--show-managed-fields`, client-side ↔ server-side apply, server dry run, status
//! writes. Expected values are upstream's (written by hand from its behaviour).

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;
use serde_json::{json, Value};

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

fn deployment(name: &str, replicas: u32, image: &str, tier: bool) -> String {
    let mut doc =
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n");
    if tier {
        doc.push_str("    tier: web\n");
    }
    doc.push_str(&format!(
        "spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n      containers:\n      - name: web\n        image: {image}\n        ports:\n        - containerPort: 80\n"
    ));
    doc
}

fn ssa(server: &common::Server, bin: &str, file: &std::path::Path, extra: &[&str]) -> String {
    let mut args = vec!["apply", "--server-side", "-f", p(file)];
    args.extend_from_slice(extra);
    kc_ok(server, bin, &args)
}

/// The object with its managedFields (`kubectl get` hides them unless asked).
fn get_managed(server: &common::Server, bin: &str, kind: &str, name: &str) -> Value {
    get_json(server, bin, &[kind, name, "--show-managed-fields"])
}

/// The managedFields entry of `manager` with `operation`, or null.
fn entry<'a>(obj: &'a Value, manager: &str, operation: &str) -> &'a Value {
    obj["metadata"]["managedFields"]
        .as_array()
        .and_then(|a| a.iter().find(|e| e["manager"] == manager && e["operation"] == operation))
        .unwrap_or(&Value::Null)
}

/// The managers of an object, without kolibri's own in-process controllers (which may
/// write status and annotations of Deployments at any time).
fn managers(obj: &Value) -> Vec<(String, String)> {
    obj["metadata"]["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| !e["manager"].as_str().unwrap_or("").starts_with("kolibri-"))
                .map(|e| {
                    (e["manager"].as_str().unwrap_or("").to_string(), e["operation"].as_str().unwrap_or("").to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn server_side_apply_create_update_noop_and_managed_fields() {
    let server = start_server();
    for (bin, v) in BINS {
        let name = format!("web-{v}");
        let file = write_file(&server, &format!("{name}.yaml"), &deployment(&name, 2, "nginx:1.25", false));

        assert_eq!(ssa(&server, bin, &file, &[]), format!("deployment.apps/{name} serverside-applied\n"));
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(at(&d, "spec.replicas"), &json!(2));
        // Defaults are there, owned by nobody.
        assert_eq!(at(&d, "spec.template.spec.containers.0.ports.0.protocol"), &json!("TCP"));
        let e = entry(&d, "kubectl", "Apply");
        assert_eq!(e["apiVersion"], "apps/v1");
        assert_eq!(e["fieldsType"], "FieldsV1");
        assert!(e["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{e}");
        assert!(e.get("subresource").is_none(), "{e}");
        assert_eq!(
            e["fieldsV1"],
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {
                    "f:replicas": {},
                    "f:selector": {},
                    "f:template": {
                        "f:metadata": {"f:labels": {"f:app": {}}},
                        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                            ".": {}, "f:image": {}, "f:name": {},
                            "f:ports": {"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}},
                        }}},
                    },
                },
            })
        );
        assert_eq!(managers(&d), vec![("kubectl".to_string(), "Apply".to_string())]);
        // Without --show-managed-fields kubectl hides them.
        assert!(at(&get_json(&server, bin, &["deployment", &name]), "metadata.managedFields").is_null());

        // The same file again: nothing changes, not even the applier's time.
        assert_eq!(ssa(&server, bin, &file, &[]), format!("deployment.apps/{name} serverside-applied\n"));
        let again = get_managed(&server, bin, "deployment", &name);
        assert_eq!(entry(&again, "kubectl", "Apply"), entry(&d, "kubectl", "Apply"));
        assert_eq!(at(&again, "metadata.generation"), &json!(1));
        // Nothing is written at all: a ConfigMap (which no controller touches) keeps its
        // resourceVersion.
        let cm = write_file(
            &server,
            &format!("cm-{v}.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-{v}\ndata:\n  a: \"1\"\n"),
        );
        assert_eq!(ssa(&server, bin, &cm, &[]), format!("configmap/cm-{v} serverside-applied\n"));
        let rv = s(&get_json(&server, bin, &["configmap", &format!("cm-{v}")]), "metadata.resourceVersion").to_string();
        ssa(&server, bin, &cm, &[]);
        let after = get_managed(&server, bin, "configmap", &format!("cm-{v}"));
        assert_eq!(s(&after, "metadata.resourceVersion"), rv);
        assert_eq!(entry(&after, "kubectl", "Apply")["fieldsV1"], json!({"f:data": {"f:a": {}}}));

        // A change: applied, generation bumped.
        std::fs::write(&file, deployment(&name, 3, "nginx:1.26", true)).unwrap();
        ssa(&server, bin, &file, &[]);
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(at(&d, "spec.replicas"), &json!(3));
        assert_eq!(s(&d, "spec.template.spec.containers.0.image"), "nginx:1.26");
        assert_eq!(at(&d, "metadata.labels"), &json!({"app": name, "tier": "web"}));
        assert_eq!(at(&d, "metadata.generation"), &json!(2));
        assert_eq!(
            entry(&d, "kubectl", "Apply")["fieldsV1"]["f:metadata"],
            json!({"f:labels": {"f:app": {}, "f:tier": {}}})
        );

        // Dropping a field from the file removes it from the object.
        std::fs::write(&file, deployment(&name, 3, "nginx:1.26", false)).unwrap();
        ssa(&server, bin, &file, &[]);
        let d = get_json(&server, bin, &["deployment", &name]);
        assert_eq!(at(&d, "metadata.labels"), &json!({"app": name}));

        // Server dry run: reported, not stored.
        std::fs::write(&file, deployment(&name, 9, "nginx:1.26", false)).unwrap();
        assert_eq!(
            ssa(&server, bin, &file, &["--dry-run=server"]),
            format!("deployment.apps/{name} serverside-applied (server dry run)\n")
        );
        assert_eq!(at(&get_json(&server, bin, &["deployment", &name]), "spec.replicas"), &json!(3));
        // A dry-run create stores nothing either.
        let other = write_file(&server, &format!("dry-{v}.yaml"), &deployment(&format!("dry-{v}"), 1, "nginx", false));
        ssa(&server, bin, &other, &["--dry-run=server"]);
        assert!(is_not_found(&server, bin, &["deployment", &format!("dry-{v}")]));
    }
}

#[test]
fn conflicts_and_force_conflicts() {
    let server = start_server();
    for (bin, v) in BINS {
        let name = format!("web-{v}");
        let file = write_file(&server, &format!("{name}.yaml"), &deployment(&name, 1, "nginx:1.25", false));
        ssa(&server, bin, &file, &[]);
        // Someone else changes replicas with an ordinary patch: now they own it.
        kc_ok(&server, bin, &["patch", "deployment", &name, "--type=merge", "-p", r#"{"spec":{"replicas":5}}"#]);
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(entry(&d, "kubectl-patch", "Update")["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert!(entry(&d, "kubectl", "Apply")["fieldsV1"]["f:spec"].get("f:replicas").is_none());

        // Applying another value conflicts; nothing changes.
        std::fs::write(&file, deployment(&name, 2, "nginx:1.25", false)).unwrap();
        let stderr = kc_fails(&server, bin, &["apply", "--server-side", "-f", p(&file)]);
        assert!(
            stderr.starts_with(
                "error: Apply failed with 1 conflict: conflict with \"kubectl-patch\" using apps/v1: .spec.replicas\n"
            ),
            "{stderr}"
        );
        assert!(stderr.contains("--force-conflicts"), "{stderr}");
        assert_eq!(at(&get_json(&server, bin, &["deployment", &name]), "spec.replicas"), &json!(5));

        // Applying the value the field has is no conflict (no change).
        std::fs::write(&file, deployment(&name, 5, "nginx:1.25", false)).unwrap();
        ssa(&server, bin, &file, &[]);
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(entry(&d, "kubectl-patch", "Update")["fieldsV1"], json!({"f:spec": {"f:replicas": {}}}));
        assert_eq!(entry(&d, "kubectl", "Apply")["fieldsV1"]["f:spec"]["f:replicas"], json!({}), "shared ownership");

        // Forced: the applier takes the field, the other manager has nothing left.
        std::fs::write(&file, deployment(&name, 2, "nginx:1.25", false)).unwrap();
        ssa(&server, bin, &file, &["--force-conflicts"]);
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(at(&d, "spec.replicas"), &json!(2));
        assert_eq!(managers(&d), vec![("kubectl".to_string(), "Apply".to_string())]);

        // Two conflicting fields of another applier.
        let other = write_file(
            &server,
            &format!("other-{v}.yaml"),
            &format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 4\n  template:\n    spec:\n      containers:\n      - name: web\n        image: nginx:2\n"
            ),
        );
        let stderr = kc_fails(&server, bin, &["apply", "--server-side", "--field-manager=tool", "-f", p(&other)]);
        assert!(
            stderr.starts_with(
                "error: Apply failed with 2 conflicts: conflicts with \"kubectl\":\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image\n"
            ),
            "{stderr}"
        );
    }
}

#[test]
fn managers_share_a_list_map_and_remove_only_their_items() {
    let server = start_server();
    for (bin, v) in BINS {
        let name = format!("web-{v}");
        let file = write_file(&server, &format!("{name}.yaml"), &deployment(&name, 1, "nginx:1.25", false));
        ssa(&server, bin, &file, &[]);
        let sidecar = |with: bool| {
            let mut doc = format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n");
            if with {
                doc.push_str(
                    "spec:\n  template:\n    spec:\n      containers:\n      - name: proxy\n        image: envoy:1\n",
                );
            }
            doc
        };
        let side = write_file(&server, &format!("side-{v}.yaml"), &sidecar(true));
        ssa(&server, bin, &side, &["--field-manager=injector"]);
        let names = |d: &Value| -> Vec<String> {
            at(d, "spec.template.spec.containers")
                .as_array()
                .expect("containers")
                .iter()
                .map(|c| c["name"].as_str().unwrap_or("").to_string())
                .collect()
        };
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(names(&d), ["web", "proxy"]);
        assert_eq!(
            entry(&d, "injector", "Apply")["fieldsV1"],
            json!({"f:spec": {"f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"proxy\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}})
        );

        // The first manager applies its file again: the other's container stays.
        ssa(&server, bin, &file, &[]);
        assert_eq!(names(&get_json(&server, bin, &["deployment", &name])), ["web", "proxy"]);

        // The injector stops applying its container: it goes, the web container stays.
        std::fs::write(&side, sidecar(false)).unwrap();
        ssa(&server, bin, &side, &["--field-manager=injector"]);
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(names(&d), ["web"]);
        assert!(entry(&d, "injector", "Apply").is_null(), "an applier owning nothing is dropped: {d}");
    }
}

#[test]
fn client_side_apply_to_server_side_and_back() {
    let server = start_server();
    for (bin, v) in BINS {
        let name = format!("web-{v}");
        let file = write_file(&server, &format!("{name}.yaml"), &deployment(&name, 1, "nginx:1.25", false));
        assert_eq!(kc_ok(&server, bin, &["apply", "-f", p(&file)]), format!("deployment.apps/{name} created\n"));
        let d = get_managed(&server, bin, "deployment", &name);
        let csa = entry(&d, "kubectl-client-side-apply", "Update");
        assert_eq!(csa["apiVersion"], "apps/v1");
        // Created by an update: the annotation and labels maps are owned as a whole too,
        // defaults included.
        assert_eq!(
            csa["fieldsV1"]["f:metadata"],
            json!({"f:annotations": {".": {}, format!("f:{LAST_APPLIED}"): {}}, "f:labels": {".": {}, "f:app": {}}})
        );
        assert_eq!(csa["fieldsV1"]["f:spec"]["f:progressDeadlineSeconds"], json!({}));
        assert!(csa["fieldsV1"]["f:spec"].get(".").is_none());

        // Server-side apply with a change: kubectl moves the client-side manager's fields
        // to its own, no conflicts.
        std::fs::write(&file, deployment(&name, 3, "nginx:1.26", false)).unwrap();
        assert_eq!(ssa(&server, bin, &file, &[]), format!("deployment.apps/{name} serverside-applied\n"));
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(at(&d, "spec.replicas"), &json!(3));
        assert!(entry(&d, "kubectl-client-side-apply", "Update").is_null(), "{d}");
        assert!(!entry(&d, "kubectl", "Apply").is_null(), "{d}");

        // And back to client-side apply.
        std::fs::write(&file, deployment(&name, 4, "nginx:1.27", false)).unwrap();
        assert_eq!(kc_ok(&server, bin, &["apply", "-f", p(&file)]), format!("deployment.apps/{name} configured\n"));
        let d = get_json(&server, bin, &["deployment", &name]);
        assert_eq!(at(&d, "spec.replicas"), &json!(4));
        assert_eq!(s(&d, "spec.template.spec.containers.0.image"), "nginx:1.27");
        let la: Value =
            serde_json::from_str(d["metadata"]["annotations"][LAST_APPLIED].as_str().expect("annotation")).unwrap();
        assert_eq!(at(&la, "spec.replicas"), &json!(4));
        assert_eq!(kc_ok(&server, bin, &["apply", "-f", p(&file)]), format!("deployment.apps/{name} unchanged\n"));
    }
}

#[test]
fn server_side_apply_keeps_last_applied_in_step() {
    let server = start_server();
    for (bin, v) in BINS {
        // An object with the annotation but applied server-side by `kubectl`: the
        // annotation follows what was applied.
        let name = format!("cm-{v}");
        let file = write_file(
            &server,
            &format!("{name}.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: \"1\"\n"),
        );
        kc_ok(&server, bin, &["apply", "-f", p(&file)]);
        std::fs::write(
            &file,
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  a: \"2\"\n  b: \"3\"\n"),
        )
        .unwrap();
        ssa(&server, bin, &file, &[]);
        let cm = get_json(&server, bin, &["configmap", &name]);
        assert_eq!(at(&cm, "data"), &json!({"a": "2", "b": "3"}));
        let la: Value =
            serde_json::from_str(cm["metadata"]["annotations"][LAST_APPLIED].as_str().expect("annotation")).unwrap();
        assert_eq!(at(&la, "data"), &json!({"a": "2", "b": "3"}));
    }
}

#[test]
fn writes_record_update_managers_and_status() {
    let server = start_server();
    for (bin, v) in BINS {
        let name = format!("web-{v}");
        kc_ok(&server, bin, &["create", "deployment", &name, "--image=nginx"]);
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(managers(&d), vec![("kubectl-create".to_string(), "Update".to_string())]);
        let fields = &entry(&d, "kubectl-create", "Update")["fieldsV1"];
        assert_eq!(fields["f:metadata"], json!({"f:labels": {".": {}, "f:app": {}}}));
        assert_eq!(
            fields["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]["f:image"],
            json!({})
        );
        assert!(fields.get("f:status").is_none(), "status is not owned through the main resource");

        // A status write is its own manager, with the subresource recorded (a Service:
        // no controller writes its status).
        let svc = format!("svc-{v}");
        kc_ok(&server, bin, &["create", "service", "clusterip", &svc, "--tcp=80:8080"]);
        kc_ok(
            &server,
            bin,
            &[
                "patch",
                "service",
                &svc,
                "--subresource=status",
                "--type=merge",
                "-p",
                r#"{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.7"}]}}}"#,
            ],
        );
        let sv = get_managed(&server, bin, "service", &svc);
        let status = sv["metadata"]["managedFields"]
            .as_array()
            .and_then(|a| a.iter().find(|e| e["subresource"] == "status"))
            .cloned()
            .unwrap_or(Value::Null);
        assert_eq!(status["manager"], "kubectl-patch", "{sv}");
        assert_eq!(status["operation"], "Update");
        assert_eq!(status["apiVersion"], "v1");
        // `ingress` is an atomic list: owned as a whole.
        assert_eq!(status["fieldsV1"]["f:status"]["f:loadBalancer"]["f:ingress"], json!({}), "{status}");
        assert!(status["fieldsV1"].get("f:spec").is_none());
        assert_eq!(
            entry(&sv, "kubectl-create", "Update")["fieldsV1"]["f:spec"]["f:ports"]
                ["k:{\"port\":80,\"protocol\":\"TCP\"}"]["f:targetPort"],
            json!({})
        );

        // Clients may reset managedFields with an empty list.
        kc_ok(
            &server,
            bin,
            &["patch", "deployment", &name, "--type=merge", "-p", r#"{"metadata":{"managedFields":[{}]}}"#],
        );
        let d = get_managed(&server, bin, "deployment", &name);
        assert_eq!(managers(&d), vec![], "{d}");
    }
}

#[test]
fn apply_errors() {
    let server = start_server();
    let bin = KUBECTL_133;
    // A kind that does not match the file's.
    let file = write_file(
        &server,
        "dup.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: dup\nspec:\n  selector:\n    matchLabels:\n      app: d\n  template:\n    metadata:\n      labels:\n        app: d\n    spec:\n      containers:\n      - name: a\n        image: x\n      - name: a\n        image: y\n",
    );
    let stderr = kc_fails(&server, bin, &["apply", "--server-side", "-f", p(&file)]);
    assert!(
        stderr.contains(
            "failed to create typed patch object (default/dup; apps/v1, Kind=Deployment): .spec.template.spec.containers: duplicate entries for key [name=\"a\"]"
        ),
        "{stderr}"
    );
    assert!(is_not_found(&server, bin, &["deployment", "dup"]));
    let long = "m".repeat(129);
    let file = write_file(&server, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n");
    let stderr =
        kc_fails(&server, bin, &["apply", "--server-side", &format!("--field-manager={long}"), "-f", p(&file)]);
    assert!(
        stderr.contains("The PatchOptions \"\" is invalid: fieldManager: Too long: may not be more than 128 bytes"),
        "{stderr}"
    );
    assert!(is_not_found(&server, bin, &["configmap", "cm"]));
}

#[test]
fn custom_resources_follow_their_schema() {
    let server = start_server();
    let bin = KUBECTL_133;
    let crd = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.ssa.example.com
spec:
  group: ssa.example.com
  scope: Namespaced
  names: {plural: gadgets, singular: gadget, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              ports:
                type: array
                x-kubernetes-list-type: map
                x-kubernetes-list-map-keys: [name]
                items:
                  type: object
                  required: [name]
                  properties:
                    name: {type: string}
                    port: {type: integer}
              tags:
                type: array
                items: {type: string}
"#;
    let file = write_file(&server, "crd.yaml", crd);
    kc_ok(&server, bin, &["apply", "-f", p(&file)]);
    kc_ok(&server, bin, &["wait", "--for=condition=Established", "--timeout=10s", "crd/gadgets.ssa.example.com"]);
    let gadget = |ports: &str, tags: &str| {
        format!("apiVersion: ssa.example.com/v1\nkind: Gadget\nmetadata:\n  name: g\nspec:\n  ports:\n{ports}  tags: {tags}\n")
    };
    let a = write_file(&server, "a.yaml", &gadget("  - name: http\n    port: 80\n", "[a]"));
    ssa(&server, bin, &a, &["--field-manager=alice"]);
    let b = write_file(&server, "b.yaml", &gadget("  - name: https\n    port: 443\n", "[a]"));
    // `tags` has no list type: atomic, and alice applied the same value, so no conflict;
    // the `ports` items are merged by name.
    ssa(&server, bin, &b, &["--field-manager=bob"]);
    let g = get_managed(&server, bin, "gadget", "g");
    assert_eq!(at(&g, "spec.ports"), &json!([{"name": "http", "port": 80}, {"name": "https", "port": 443}]));
    assert_eq!(
        entry(&g, "bob", "Apply")["fieldsV1"],
        json!({"f:spec": {"f:ports": {"k:{\"name\":\"https\"}": {".": {}, "f:name": {}, "f:port": {}}}, "f:tags": {}}})
    );
    assert_eq!(entry(&g, "bob", "Apply")["apiVersion"], "ssa.example.com/v1");
    // A different atomic list conflicts as a whole.
    std::fs::write(&b, gadget("  - name: https\n    port: 443\n", "[a, b]")).unwrap();
    let stderr = kc_fails(&server, bin, &["apply", "--server-side", "--field-manager=bob", "-f", p(&b)]);
    assert!(
        stderr.starts_with("error: Apply failed with 1 conflict: conflict with \"alice\": .spec.tags\n"),
        "{stderr}"
    );
}
