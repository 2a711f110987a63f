//! `kubectl get` output formats, selectors, chunking and NotFound; `kubectl describe`; the
//! built-in state of a fresh server.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;
use serde_json::{json, Value};

#[test]
fn get_output_formats() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("fmt-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        kc_ok(&server, bin, &["create", "configmap", "c", "-n", n, "--from-literal=a=b"]);
        kc_ok(&server, bin, &["label", "configmap", "c", "-n", n, "app=x", "tier=t"]);
        kc_ok(&server, bin, &["create", "configmap", "other", "-n", n, "--from-literal=a=a", "--from-literal=b=y"]);
        kc_ok(&server, bin, &["label", "configmap", "other", "-n", n, "app=y"]);
        kc_ok(&server, bin, &["create", "deployment", "d", "-n", n, "--image=nginx"]);

        // -o yaml
        let yaml = kc_ok(&server, bin, &["get", "configmap", "c", "-n", n, "-o", "yaml"]);
        let obj: Value = serde_yaml::from_str(&yaml).expect("yaml");
        assert_eq!(s(&obj, "apiVersion"), "v1");
        assert_eq!(s(&obj, "kind"), "ConfigMap");
        assert_eq!(s(&obj, "metadata.name"), "c");
        assert_eq!(s(&obj, "metadata.namespace"), n);
        assert_eq!(at(&obj, "data"), &json!({"a": "b"}));
        assert_eq!(at(&obj, "metadata.labels"), &json!({"app": "x", "tier": "t"}));

        // -o json of a list: kubectl prints a v1 List whose items carry kind/apiVersion.
        let list = get_json(&server, bin, &["configmaps", "-n", n, "-l", "app"]);
        assert_eq!((s(&list, "kind"), s(&list, "apiVersion")), ("List", "v1"));
        assert_eq!(names(&list), ["c", "other"]);
        for item in list["items"].as_array().unwrap() {
            assert_eq!((s(item, "kind"), s(item, "apiVersion")), ("ConfigMap", "v1"));
        }

        // -o jsonpath
        assert_eq!(kc_ok(&server, bin, &["get", "configmap", "c", "-n", n, "-o", "jsonpath={.data.a}"]), "b");
        assert_eq!(
            kc_ok(
                &server,
                bin,
                &["get", "configmaps", "-n", n, "-l", "app", "-o", "jsonpath={.items[*].metadata.name}"]
            ),
            "c other"
        );
        // -o custom-columns
        let (header, rows) = table(&kc_ok(
            &server,
            bin,
            &["get", "configmaps", "-n", n, "-l", "app", "-o", "custom-columns=NAME:.metadata.name,A:.data.a"],
        ));
        assert_eq!(header, ["NAME", "A"]);
        assert_eq!(rows, [["c", "b"], ["other", "a"]]);

        // -o name
        assert_eq!(kc_ok(&server, bin, &["get", "configmap", "c", "-n", n, "-o", "name"]), "configmap/c\n");
        assert_eq!(
            lines(&kc_ok(&server, bin, &["get", "configmaps,deployments", "-n", n, "-l", "app", "-o", "name"])),
            ["configmap/c", "configmap/other", "deployment.apps/d"]
        );
        assert_eq!(kc_ok(&server, bin, &["get", "deploy", "-n", n, "-o", "name"]), "deployment.apps/d\n");

        // --sort-by (rows sorted client-side from the full objects): "a" < "b".
        let out = kc_ok(&server, bin, &["get", "configmaps", "-n", n, "-l", "app", "--sort-by=.data.a", "-o", "name"]);
        assert_eq!(lines(&out), ["configmap/other", "configmap/c"]);
        // Label selectors
        let sel = |s: &str| lines(&kc_ok(&server, bin, &["get", "configmaps", "-n", n, "-l", s, "-o", "name"]));
        assert_eq!(sel("app=x"), ["configmap/c"]);
        assert_eq!(sel("app!=x,app"), ["configmap/other"]);
        assert_eq!(sel("app in (x,y)"), ["configmap/c", "configmap/other"]);
        assert_eq!(sel("app notin (x),app"), ["configmap/other"]);
        assert_eq!(sel("tier"), ["configmap/c"]);
        assert_eq!(sel("!tier,app"), ["configmap/other"]);
        let none = kc(&server, bin, &["get", "configmaps", "-n", n, "-l", "app=none"]);
        assert!(none.status.success());
        assert_eq!(String::from_utf8_lossy(&none.stdout), "");
        assert_eq!(String::from_utf8_lossy(&none.stderr), format!("No resources found in {n} namespace.\n"));

        // Field selectors
        let fs =
            |s: &str| lines(&kc_ok(&server, bin, &["get", "configmaps", "-n", n, "--field-selector", s, "-o", "name"]));
        assert_eq!(fs("metadata.name=c"), ["configmap/c"]);
        assert_eq!(fs("metadata.name==other"), ["configmap/other"]);
        assert!(!fs("metadata.name!=c").contains(&"configmap/c".to_string()));
        assert!(fs("metadata.name!=c").contains(&"configmap/other".to_string()));

        // Missing object
        let out = kc(&server, bin, &["get", "configmap", "nope", "-n", n]);
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "Error from server (NotFound): configmaps \"nope\" not found\n"
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), "");
        let out = kc(&server, bin, &["get", "deployment", "nope", "-n", n]);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "Error from server (NotFound): deployments.apps \"nope\" not found\n"
        );
        let out = kc(&server, bin, &["get", "namespace", "nope"]);
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            "Error from server (NotFound): namespaces \"nope\" not found\n"
        );
        // Listing in a namespace that does not exist is not an error upstream: an empty list.
        let out = kc(&server, bin, &["get", "configmaps", "-n", "does-not-exist"]);
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stderr), "No resources found in does-not-exist namespace.\n");
    }

    let list = get_json(
        &server,
        KUBECTL_133_BIN,
        &["configmaps", "--all-namespaces", "--field-selector", "metadata.namespace=fmt-132", "-l", "app"],
    );
    assert_eq!(names(&list), ["c", "other"]);
}

/// Unknown field selectors: 400. Kinds without their own field-label conversion (ConfigMap) use
/// apimachinery's DefaultMetaV1FieldSelectorConversion; Pods have their own ("field label not
/// supported"). kubectl prefixes the server's message.
#[test]
fn get_with_unknown_field_selector() {
    let server = start_server();
    for (bin, _) in BINS {
        let err = kc_fails(&server, bin, &["get", "pods", "--field-selector", "foo=bar"]);
        assert_eq!(
            err,
            "Error from server (BadRequest): Unable to find \"/v1, Resource=pods\" that match label selector \"\", field selector \"foo=bar\": field label not supported: foo\n"
        );
        let err = kc_fails(&server, bin, &["get", "configmaps", "--field-selector", "data.a=b"]);
        assert_eq!(
            err,
            "Error from server (BadRequest): Unable to find \"/v1, Resource=configmaps\" that match label selector \"\", field selector \"data.a=b\": \"data.a\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\"\n"
        );
    }
}

const KUBECTL_133_BIN: &str = common::KUBECTL_133;

#[test]
fn get_with_chunk_size_lists_every_object_once() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("chunk-{v}");
        kc_ok(&server, bin, &["create", "namespace", &ns]);
        let mut expected = Vec::new();
        for i in 0..7 {
            let name = format!("cm-{i}");
            kc_ok(&server, bin, &["create", "configmap", &name, "-n", &ns, "--from-literal=i=x"]);
            kc_ok(&server, bin, &["label", "configmap", &name, "-n", &ns, "chunk=yes"]);
            expected.push(format!("configmap/{name}"));
        }
        // -o name, pages of two; -v=6 shows the paged requests.
        let out = kc(
            &server,
            bin,
            &["get", "configmaps", "-n", &ns, "-l", "chunk=yes", "--chunk-size=2", "-o", "name", "-v=6"],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines(&String::from_utf8_lossy(&out.stdout)), expected);
        let log = String::from_utf8_lossy(&out.stderr);
        let pages = log.lines().filter(|l| l.contains("limit=2") && l.contains("200 OK")).count();
        let continued = log.lines().filter(|l| l.contains("continue=") && l.contains("200 OK")).count();
        assert!(pages >= 4 && continued >= 3, "expected paged requests:\n{log}");

        // Without a selector, chunked JSON: every created object once.
        let list = get_json(&server, bin, &["configmaps", "-n", &ns, "--chunk-size=3"]);
        let mut got: Vec<String> = kubectl_common::names(&list).into_iter().filter(|n| n.starts_with("cm-")).collect();
        got.sort();
        assert_eq!(got, (0..7).map(|i| format!("cm-{i}")).collect::<Vec<_>>());
    }
}

#[test]
fn describe_configmap_namespace_deployment() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("desc-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        kc_ok(&server, bin, &["create", "configmap", "c", "-n", n, "--from-literal=greeting=hello"]);
        kc_ok(&server, bin, &["label", "configmap", "c", "-n", n, "app=x"]);
        kc_ok(&server, bin, &["create", "deployment", "d", "-n", n, "--image=nginx:1.25", "--replicas=2"]);

        let out = kc_ok(&server, bin, &["describe", "configmap", "c", "-n", n]);
        assert_eq!(describe_field(&out, "Name").as_deref(), Some("c"), "{out}");
        assert_eq!(describe_field(&out, "Namespace").as_deref(), Some(n), "{out}");
        assert_eq!(describe_field(&out, "Labels").as_deref(), Some("app=x"), "{out}");
        assert_eq!(describe_field(&out, "Annotations").as_deref(), Some("<none>"), "{out}");
        let ls = lines(&out);
        let i = ls.iter().position(|l| l == "greeting:").unwrap_or_else(|| panic!("no data key: {out}"));
        assert_eq!(ls[i + 1], "----");
        assert_eq!(ls[i + 2], "hello");

        let out = kc_ok(&server, bin, &["describe", "namespace", n]);
        assert_eq!(describe_field(&out, "Name").as_deref(), Some(n), "{out}");
        assert_eq!(
            describe_field(&out, "Labels").as_deref(),
            Some(format!("kubernetes.io/metadata.name={n}").as_str()),
            "{out}"
        );
        assert_eq!(describe_field(&out, "Status").as_deref(), Some("Active"), "{out}");
        assert!(out.contains("No resource quota."), "{out}");
        assert!(out.contains("No LimitRange resource."), "{out}");

        let out = kc_ok(&server, bin, &["describe", "deployment", "d", "-n", n]);
        assert_eq!(describe_field(&out, "Name").as_deref(), Some("d"), "{out}");
        assert_eq!(describe_field(&out, "Namespace").as_deref(), Some(n), "{out}");
        assert_eq!(describe_field(&out, "Labels").as_deref(), Some("app=d"), "{out}");
        assert_eq!(describe_field(&out, "Selector").as_deref(), Some("app=d"), "{out}");
        assert_eq!(describe_field(&out, "StrategyType").as_deref(), Some("RollingUpdate"), "{out}");
        assert_eq!(
            describe_field(&out, "RollingUpdateStrategy").as_deref(),
            Some("25% max unavailable, 25% max surge"),
            "{out}"
        );
        assert!(describe_field(&out, "Replicas").unwrap_or_default().starts_with("2 desired"), "{out}");
        assert!(out.lines().any(|l| l.trim().starts_with("Image:") && l.trim().ends_with(" nginx:1.25")), "{out}");

        // describe of everything of a kind in the namespace, and of a missing object.
        let out = kc_ok(&server, bin, &["describe", "configmaps", "-n", n, "-l", "app=x"]);
        assert_eq!(describe_field(&out, "Name").as_deref(), Some("c"), "{out}");
        let err = kc_fails(&server, bin, &["describe", "configmap", "nope", "-n", n]);
        assert_eq!(err, "Error from server (NotFound): configmaps \"nope\" not found\n");
    }
}

#[test]
fn built_in_state() {
    let server = start_server();
    for (bin, _) in BINS {
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let o = get_json(&server, bin, &["namespace", ns]);
            assert_eq!(at(&o, "metadata.labels"), &json!({"kubernetes.io/metadata.name": ns}));
            assert_eq!(s(&o, "status.phase"), "Active");
        }
        let svc = get_json(&server, bin, &["service", "kubernetes", "-n", "default"]);
        assert_eq!(at(&svc, "metadata.labels"), &json!({"component": "apiserver", "provider": "kubernetes"}));
        assert_eq!(at(&svc, "spec.clusterIPs"), &json!(["10.43.0.1"]));
        let port = at(&svc, "spec.ports.0");
        assert_eq!((s(port, "name"), at(port, "port"), s(port, "protocol")), ("https", &json!(443), "TCP"));
        assert_eq!(s(&svc, "spec.type"), "ClusterIP");

        // `kubectl get all` in default shows the kubernetes service.
        let out = kc_ok(&server, bin, &["get", "all", "-o", "name"]);
        assert!(lines(&out).contains(&"service/kubernetes".to_string()), "{out}");
    }
}

/// Server-side tables (`kubectl get` without -o): upstream's printer columns per kind.
#[test]
fn get_tables_have_upstream_columns() {
    let server = start_server();
    for (bin, v) in BINS {
        let ns = format!("fmt-{v}");
        let n = ns.as_str();
        kc_ok(&server, bin, &["create", "namespace", n]);
        kc_ok(&server, bin, &["create", "configmap", "c", "-n", n, "--from-literal=a=b"]);
        kc_ok(&server, bin, &["label", "configmap", "c", "-n", n, "app=x", "tier=t"]);
        kc_ok(&server, bin, &["create", "configmap", "other", "-n", n, "--from-literal=a=a", "--from-literal=b=y"]);
        kc_ok(&server, bin, &["label", "configmap", "other", "-n", n, "app=y"]);
        kc_ok(&server, bin, &["create", "deployment", "d", "-n", n, "--image=nginx"]);
        kc_ok(&server, bin, &["create", "service", "clusterip", "s", "-n", n, "--tcp=80:8080"]);
        for i in 0..7 {
            let name = format!("cm-{i}");
            kc_ok(&server, bin, &["create", "configmap", &name, "-n", n, "--from-literal=i=x"]);
            kc_ok(&server, bin, &["label", "configmap", &name, "-n", n, "chunk=yes"]);
        }
        let expected: Vec<String> = (0..7).map(|i| format!("configmap/cm-{i}")).collect();

        // Default table
        let (header, rows) = table(&kc_ok(&server, bin, &["get", "configmaps", "-n", n, "-l", "app"]));
        assert_eq!(header, ["NAME", "DATA", "AGE"]);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(&row(&rows, 0, "c")[..2], ["c", "1"]);
        assert_eq!(&row(&rows, 0, "other")[..2], ["other", "2"]);

        // -o wide of a Deployment
        let (header, rows) = table(&kc_ok(&server, bin, &["get", "deployment", "d", "-n", n, "-o", "wide"]));
        assert_eq!(header, ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]);
        let r = row(&rows, 0, "d");
        assert_eq!(r.len(), 8, "{r:?}");
        assert_eq!((r[1].as_str(), r[3].as_str()), ("0/1", "0"));
        assert_eq!(&r[5..], ["nginx", "nginx", "app=d"]);

        // --show-labels
        let (header, rows) = table(&kc_ok(&server, bin, &["get", "configmaps", "-n", n, "-l", "app", "--show-labels"]));
        assert_eq!(header, ["NAME", "DATA", "AGE", "LABELS"]);
        assert_eq!(row(&rows, 0, "c").last().unwrap(), "app=x,tier=t");
        assert_eq!(row(&rows, 0, "other").last().unwrap(), "app=y");

        let (_, rows) = table(&kc_ok(&server, bin, &["get", "configmaps", "-n", n, "-l", "app", "--sort-by=.data.a"]));
        assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["other", "c"]);

        // Table output: one header, every row once.
        let (header, rows) =
            table(&kc_ok(&server, bin, &["get", "configmaps", "-n", &ns, "-l", "chunk=yes", "--chunk-size=2"]));
        assert_eq!(header, ["NAME", "DATA", "AGE"]);
        let names: Vec<String> = rows.iter().map(|r| format!("configmap/{}", r[0])).collect();
        assert_eq!(names, expected);

        // Service
        let ip = s(&get_json(&server, bin, &["service", "s", "-n", n]), "spec.clusterIP").to_string();
        let (header, rows) = table(&kc_ok(&server, bin, &["get", "service", "s", "-n", n]));
        assert_eq!(header, ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]);
        assert_eq!(&rows[0][..5], ["s", "ClusterIP", ip.as_str(), "<none>", "80/TCP"]);

        // Built-in namespaces and the kubernetes service
        let (header, rows) = table(&kc_ok(&server, bin, &["get", "namespaces"]));
        assert_eq!(header, ["NAME", "STATUS", "AGE"]);
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            assert_eq!(row(&rows, 0, ns)[1], "Active");
        }

        let (header, rows) = table(&kc_ok(&server, bin, &["get", "svc", "kubernetes"]));
        assert_eq!(header, ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]);
        assert_eq!(rows.len(), 1);
        assert_eq!(&rows[0][..5], ["kubernetes", "ClusterIP", "10.43.0.1", "<none>", "443/TCP"]);

        // A terminating namespace shows its phase in STATUS.
        let gone = format!("gone-{v}");
        kc_ok(&server, bin, &["create", "namespace", &gone]);
        let held = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  namespace: {gone}\n  finalizers:\n  - example.com/hold\n"
        );
        assert!(kc_stdin(&server, bin, &["create", "-f", "-"], &held).status.success());
        kc_ok(&server, bin, &["delete", "namespace", &gone, "--wait=false"]);
        let (_, rows) = table(&kc_ok(&server, bin, &["get", "namespaces"]));
        assert_eq!(row(&rows, 0, &gone)[1], "Terminating");
    }
    // -A across the namespaces of both rounds
    let (header, rows) = table(&kc_ok(&server, KUBECTL_133_BIN, &["get", "configmaps", "-A", "-l", "app=x"]));
    assert_eq!(header, ["NAMESPACE", "NAME", "DATA", "AGE"]);
    let mut got: Vec<(String, String)> = rows.iter().map(|r| (r[0].clone(), r[1].clone())).collect();
    got.sort();
    assert_eq!(got, [("fmt-132".to_string(), "c".to_string()), ("fmt-133".to_string(), "c".to_string())]);
    let (header, _) = table(&kc_ok(&server, KUBECTL_133_BIN, &["get", "deployments", "-A"]));
    assert_eq!(header, ["NAMESPACE", "NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
}
