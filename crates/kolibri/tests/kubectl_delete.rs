//! `kubectl delete`: by name, by selector, --all, -f, finalizers, namespaces (Terminating,
//! no new content), and the namespaces that may not be deleted.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;
use serde_json::json;

#[test]
fn delete_by_name_selector_all_and_file() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("del-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        for (name, app) in [("a", "x"), ("b", "x"), ("c", "y"), ("d", "z"), ("e", "z")] {
            kc_ok(&server, bin, &["create", "configmap", name, "-n", n]);
            kc_ok(&server, bin, &["label", "configmap", name, "-n", n, &format!("app={app}")]);
        }
        let ours = || {
            let list = get_json(&server, bin, &["configmaps", "-n", n, "-l", "app"]);
            names(&list)
        };

        // By name
        assert_eq!(kc_ok(&server, bin, &["delete", "configmap", "a", "-n", n]), "configmap \"a\" deleted\n");
        assert!(is_not_found(&server, bin, &["configmap", "a", "-n", n]));
        assert_eq!(ours(), ["b", "c", "d", "e"]);

        // Missing object: NotFound, exit 1; --ignore-not-found: quiet success.
        let err = kc_fails(&server, bin, &["delete", "configmap", "nope", "-n", n]);
        assert_eq!(err, "Error from server (NotFound): configmaps \"nope\" not found\n");
        let out = kc(&server, bin, &["delete", "configmap", "nope", "-n", n, "--ignore-not-found"]);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "");

        // By label selector
        let out = kc_ok(&server, bin, &["delete", "configmaps", "-n", n, "-l", "app=z"]);
        assert_eq!(lines(&out), ["configmap \"d\" deleted", "configmap \"e\" deleted"]);
        assert_eq!(ours(), ["b", "c"]);

        // From a file
        let file = write_file(
            &server,
            &format!("del-{v}.yaml"),
            &format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: {n}\n"),
        );
        assert_eq!(kc_ok(&server, bin, &["delete", "-f", p(&file)]), "configmap \"c\" deleted\n");
        assert_eq!(ours(), ["b"]);

        // --all
        kc_ok(&server, bin, &["create", "configmap", "f", "-n", n]);
        let out = kc_ok(&server, bin, &["delete", "configmaps", "--all", "-n", n]);
        let deleted = lines(&out);
        assert!(deleted.contains(&"configmap \"b\" deleted".to_string()), "{out}");
        assert!(deleted.contains(&"configmap \"f\" deleted".to_string()), "{out}");
        assert!(ours().is_empty());
        assert!(is_not_found(&server, bin, &["configmap", "f", "-n", n]));
        // Other namespaces are untouched by --all.
        assert_eq!(
            s(&get_json(&server, bin, &["service", "kubernetes", "-n", "default"]), "metadata.name"),
            "kubernetes"
        );

        // A Deployment
        kc_ok(&server, bin, &["create", "deployment", "web", "-n", n, "--image=nginx"]);
        assert_eq!(kc_ok(&server, bin, &["delete", "deployment", "web", "-n", n]), "deployment.apps \"web\" deleted\n");
        assert!(is_not_found(&server, bin, &["deployment", "web", "-n", n]));

        // An object with a finalizer stays (with a deletionTimestamp) until the finalizer is removed.
        let held = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {n}\n  finalizers:\n  - example.com/hold\n"
        );
        let o = kc_stdin(&server, bin, &["create", "-f", "-"], &held);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(
            kc_ok(&server, bin, &["delete", "configmap", "held", "-n", n, "--wait=false"]),
            "configmap \"held\" deleted\n"
        );
        let o = get_json(&server, bin, &["configmap", "held", "-n", n]);
        assert!(o["metadata"]["deletionTimestamp"].is_string(), "{o}");
        assert_eq!(at(&o, "metadata.finalizers"), &json!(["example.com/hold"]));
        kc_ok(
            &server,
            bin,
            &["patch", "configmap", "held", "-n", n, "--type=merge", "-p", r#"{"metadata":{"finalizers":null}}"#],
        );
        assert!(is_not_found(&server, bin, &["configmap", "held", "-n", n]));
    }
}

#[test]
fn delete_namespace_terminates_and_protects() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("gone-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        // Content with a finalizer keeps the namespace in Terminating even with a namespace controller.
        let held = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {n}\n  finalizers:\n  - example.com/hold\n"
        );
        let o = kc_stdin(&server, bin, &["create", "-f", "-"], &held);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

        assert_eq!(
            kc_ok(&server, bin, &["delete", "namespace", n, "--wait=false"]),
            format!("namespace \"{n}\" deleted\n")
        );
        assert_eq!(kc_ok(&server, bin, &["get", "ns", n, "-o", "jsonpath={.status.phase}"]), "Terminating");
        let obj = get_json(&server, bin, &["namespace", n]);
        assert!(obj["metadata"]["deletionTimestamp"].is_string(), "{obj}");

        // No new content: 403 from the NamespaceLifecycle admission.
        let doc = format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: blocked\n  namespace: {n}\n");
        let o = kc_stdin(&server, bin, &["create", "-f", "-"], &doc);
        assert_eq!(o.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!(
                "Error from server (Forbidden): error when creating \"STDIN\": configmaps \"blocked\" is forbidden: unable to create new content in namespace {n} because it is being terminated\n"
            )
        );
        let err = kc_fails(&server, bin, &["create", "configmap", "y2", "-n", n]);
        assert!(
            err.contains(&format!(
                "configmaps \"y2\" is forbidden: unable to create new content in namespace {n} because it is being terminated"
            )),
            "{err}"
        );
        assert!(is_not_found(&server, bin, &["configmap", "blocked", "-n", n]));
        // Existing content can still be changed.
        kc_ok(&server, bin, &["label", "configmap", "held", "-n", n, "still=here"]);
    }
}

#[test]
fn protected_namespaces_cannot_be_deleted() {
    let server = start_server();
    for (bin, _) in BINS {
        for ns in ["default", "kube-system", "kube-public"] {
            let err = kc_fails(&server, bin, &["delete", "namespace", ns, "--wait=false"]);
            assert_eq!(
                err,
                format!(
                    "Error from server (Forbidden): namespaces \"{ns}\" is forbidden: this namespace may not be deleted\n"
                )
            );
            let obj = get_json(&server, bin, &["namespace", ns]);
            assert_eq!(s(&obj, "status.phase"), "Active");
            assert!(obj["metadata"]["deletionTimestamp"].is_null());
        }
        // default still accepts content.
        kc_ok(&server, bin, &["create", "configmap", &format!("after-{}", bin.rsplit('.').next().unwrap())]);
    }
}

/// Deleting a namespace that is already terminating (a finalizer pending): 409 Conflict
/// (pkg/registry/core/namespace/storage: "The system is ensuring all content is removed ...").
#[test]
fn delete_terminating_namespace_again_conflicts() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("twice-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        let held = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {n}\n  finalizers:\n  - example.com/hold\n"
        );
        assert!(kc_stdin(&server, bin, &["create", "-f", "-"], &held).status.success());
        kc_ok(&server, bin, &["delete", "namespace", n, "--wait=false"]);
        assert_eq!(kc_ok(&server, bin, &["get", "ns", n, "-o", "jsonpath={.status.phase}"]), "Terminating");
        // Deleting again while its finalizer is pending: 409 Conflict.
        let err = kc_fails(&server, bin, &["delete", "namespace", n, "--wait=false"]);
        assert_eq!(
            err,
            format!(
                "Error from server (Conflict): Operation cannot be fulfilled on namespaces \"{n}\": The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system.\n"
            )
        );
        assert_eq!(kc_ok(&server, bin, &["get", "ns", n, "-o", "jsonpath={.status.phase}"]), "Terminating");
    }
}
