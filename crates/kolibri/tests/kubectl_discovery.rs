//! Discovery and server information through kubectl: api-resources, api-versions, version,
//! auth whoami, auth can-i, get --raw, explain.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;
use serde_json::Value;

#[test]
fn api_resources_and_versions() {
    let server = start_server();
    for (bin, _) in BINS {
        let out = kc_ok(&server, bin, &["api-resources"]);
        let (header, rows) = table(&out);
        assert_eq!(header, ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]);
        // Rows without short names have four cells.
        let find = |name: &str, apiversion: &str| -> Vec<String> {
            rows.iter()
                .find(|r| r[0] == name && r.iter().any(|c| c == apiversion))
                .cloned()
                .unwrap_or_else(|| panic!("no api-resources row {name} {apiversion}:\n{out}"))
        };
        let expected: &[&[&str]] = &[
            &["deployments", "deploy", "apps/v1", "true", "Deployment"],
            &["replicasets", "rs", "apps/v1", "true", "ReplicaSet"],
            &["daemonsets", "ds", "apps/v1", "true", "DaemonSet"],
            &["statefulsets", "sts", "apps/v1", "true", "StatefulSet"],
            &["configmaps", "cm", "v1", "true", "ConfigMap"],
            &["namespaces", "ns", "v1", "false", "Namespace"],
            &["services", "svc", "v1", "true", "Service"],
            &["pods", "po", "v1", "true", "Pod"],
            &["nodes", "no", "v1", "false", "Node"],
            &["secrets", "v1", "true", "Secret"],
            &["serviceaccounts", "sa", "v1", "true", "ServiceAccount"],
            &["resourcequotas", "quota", "v1", "true", "ResourceQuota"],
            &["jobs", "batch/v1", "true", "Job"],
            &["cronjobs", "cj", "batch/v1", "true", "CronJob"],
            &["roles", "rbac.authorization.k8s.io/v1", "true", "Role"],
            &["rolebindings", "rbac.authorization.k8s.io/v1", "true", "RoleBinding"],
            &["clusterroles", "rbac.authorization.k8s.io/v1", "false", "ClusterRole"],
            &["priorityclasses", "pc", "scheduling.k8s.io/v1", "false", "PriorityClass"],
        ];
        for want in expected {
            let apiversion = want[want.len() - 3];
            assert_eq!(find(want[0], apiversion), *want, "api-resources row for {}", want[0]);
        }
        // Subresources are not listed.
        assert!(!rows.iter().any(|r| r[0].contains('/')), "{out}");

        // -o name, filtered by group / namespaced / verbs.
        let apps = lines(&kc_ok(&server, bin, &["api-resources", "--api-group=apps", "-o", "name"]));
        for r in ["deployments.apps", "replicasets.apps", "daemonsets.apps", "statefulsets.apps"] {
            assert!(apps.contains(&r.to_string()), "{apps:?}");
        }
        assert!(apps.iter().all(|r| r.ends_with(".apps")), "{apps:?}");
        let cluster = lines(&kc_ok(&server, bin, &["api-resources", "--namespaced=false", "-o", "name"]));
        assert!(
            cluster.contains(&"namespaces".to_string())
                && cluster.contains(&"priorityclasses.scheduling.k8s.io".to_string()),
            "{cluster:?}"
        );
        assert!(!cluster.contains(&"configmaps".to_string()), "{cluster:?}");
        let (header, rows) = table(&kc_ok(&server, bin, &["api-resources", "--api-group=apps", "-o", "wide"]));
        assert_eq!(header, ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND", "VERBS", "CATEGORIES"]);
        let deploy = rows.iter().find(|r| r[0] == "deployments").expect("deployments row");
        assert_eq!(deploy[5], "create,delete,deletecollection,get,list,patch,update,watch");
        assert_eq!(deploy[6], "all");

        // Short names resolve.
        kc_ok(&server, bin, &["get", "deploy,cm,svc,ns,sa,quota,cj,pc"]);

        // api-versions: sorted, one per line.
        let versions = lines(&kc_ok(&server, bin, &["api-versions"]));
        for gv in [
            "v1",
            "apps/v1",
            "batch/v1",
            "rbac.authorization.k8s.io/v1",
            "scheduling.k8s.io/v1",
            "authentication.k8s.io/v1",
            "authorization.k8s.io/v1",
        ] {
            assert!(versions.contains(&gv.to_string()), "{gv} missing from {versions:?}");
        }
        let mut sorted = versions.clone();
        sorted.sort();
        assert_eq!(versions, sorted);
    }
}

#[test]
fn version_whoami_raw() {
    let server = start_server();
    for (bin, v) in BINS {
        let out = kc(&server, bin, &["version"]);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{stderr}");
        assert!(!stderr.contains("WARNING"), "skew warning: {stderr}");
        let server_line =
            stdout.lines().find(|l| l.starts_with("Server Version: ")).unwrap_or_else(|| panic!("{stdout}"));
        assert!(server_line.starts_with("Server Version: v1.33.0+kolibri"), "{server_line}");
        let client_line = stdout.lines().next().unwrap();
        assert!(client_line.starts_with(&format!("Client Version: v1.{}.", &v[1..])), "{client_line}");

        let json: Value = serde_json::from_str(&kc_ok(&server, bin, &["version", "-o", "json"])).unwrap();
        let sv = &json["serverVersion"];
        assert_eq!((s(sv, "major"), s(sv, "minor")), ("1", "33"));
        assert!(s(sv, "gitVersion").starts_with("v1.33.0+kolibri"));
        assert!(s(sv, "platform").starts_with("linux/"), "{sv}");

        // whoami (SelfSubjectReview)
        let (header, rows) = table(&kc_ok(&server, bin, &["auth", "whoami"]));
        assert_eq!(header, ["ATTRIBUTE", "VALUE"]);
        assert_eq!(rows[0], ["Username", "system:admin"]);
        assert_eq!(rows[1], ["Groups", "[system:masters", "system:authenticated]"]);
        let who: Value = serde_json::from_str(&kc_ok(&server, bin, &["auth", "whoami", "-o", "json"])).unwrap();
        assert_eq!((s(&who, "kind"), s(&who, "apiVersion")), ("SelfSubjectReview", "authentication.k8s.io/v1"));
        assert_eq!(s(&who, "status.userInfo.username"), "system:admin");
        assert_eq!(who["status"]["userInfo"]["groups"], serde_json::json!(["system:masters", "system:authenticated"]));

        // can-i (SelfSubjectAccessReview): the admin can do everything.
        assert_eq!(kc_ok(&server, bin, &["auth", "can-i", "create", "deployments"]), "yes\n");
        assert_eq!(kc_ok(&server, bin, &["auth", "can-i", "*", "*"]), "yes\n");

        // Non-resource endpoints
        assert_eq!(kc_ok(&server, bin, &["get", "--raw", "/readyz"]), "ok");
        assert_eq!(kc_ok(&server, bin, &["get", "--raw", "/livez"]), "ok");
        assert_eq!(kc_ok(&server, bin, &["get", "--raw", "/healthz"]), "ok");
        let raw: Value = serde_json::from_str(&kc_ok(&server, bin, &["get", "--raw", "/version"])).unwrap();
        for key in ["major", "minor", "gitVersion", "platform"] {
            assert_eq!(raw[key], sv[key], "{key}");
        }
        let api: Value = serde_json::from_str(&kc_ok(&server, bin, &["get", "--raw", "/api"])).unwrap();
        assert_eq!(s(&api, "kind"), "APIVersions");
        assert_eq!(api["versions"], serde_json::json!(["v1"]));
        let cms: Value =
            serde_json::from_str(&kc_ok(&server, bin, &["get", "--raw", "/api/v1/namespaces/default/configmaps"]))
                .unwrap();
        assert_eq!((s(&cms, "kind"), s(&cms, "apiVersion")), ("ConfigMapList", "v1"));
        let err = kc_fails(&server, bin, &["get", "--raw", "/api/v1/namespaces/default/configmaps/nope"]);
        assert_eq!(err, "Error from server (NotFound): configmaps \"nope\" not found\n");

        // cluster-info names the control plane URL.
        let out = kc_ok(&server, bin, &["cluster-info"]);
        assert!(out.contains(&format!("https://127.0.0.1:{}", server.port)), "{out}");
    }
}

#[test]
fn explain_uses_openapi_v3() {
    let server = start_server();
    for (bin, _) in BINS {
        let out = kc_ok(&server, bin, &["explain", "deployment.spec.replicas"]);
        assert!(out.contains("GROUP:      apps"), "{out}");
        assert!(out.contains("KIND:       Deployment"), "{out}");
        assert!(out.contains("VERSION:    v1"), "{out}");
        assert!(out.contains("FIELD: replicas <integer>"), "{out}");
        let out = kc_ok(&server, bin, &["explain", "configmap"]);
        assert!(out.contains("KIND:       ConfigMap"), "{out}");
        assert!(out.contains("data\t<map[string]string>"), "{out}");
    }
}
