//! Service-account tokens end to end with kubectl 1.32 and 1.33: `kubectl create token`
//! (TokenRequest), the token authenticating on the API with upstream's user, groups and
//! extra fields, bound tokens dying with their pod, the OIDC discovery documents, and the
//! projected `kube-api-access-*` volume the admission adds to pods.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use base64::Engine;
use kubectl_common::*;
use serde_json::Value;

/// The claims of a JWT (not verified: the server does that).
fn claims(token: &str) -> Value {
    let payload = token.trim().split('.').nth(1).expect("a JWT has three parts");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

/// A kubeconfig that authenticates with `token` only (no client certificate).
fn token_kubeconfig(server: &common::Server, bin: &str, name: &str, token: &str) -> std::path::PathBuf {
    let ca = kc_ok(
        server,
        bin,
        &["config", "view", "--raw", "--minify", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}"],
    );
    let doc = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {}\n    certificate-authority-data: {ca}\nusers:\n- name: u\n  user:\n    token: {}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\n    namespace: default\ncurrent-context: x\n",
        server.url(),
        token.trim()
    );
    write_file(server, name, &doc)
}

#[test]
fn tokens_authenticate_as_their_service_account() {
    let server = start_server();
    for (bin, v) in BINS {
        let sa = format!("robot-{v}");
        kc_ok(&server, bin, &["create", "serviceaccount", &sa]);
        let token = kc_ok(&server, bin, &["create", "token", &sa]);
        let c = claims(&token);
        assert_eq!(c["sub"], format!("system:serviceaccount:default:{sa}"));
        assert_eq!(c["iss"], "https://kubernetes.default.svc.cluster.local");
        assert_eq!(c["aud"], serde_json::json!(["https://kubernetes.default.svc.cluster.local"]));
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 3600);
        let account = get_json(&server, bin, &["serviceaccount", &sa]);
        assert_eq!(c["kubernetes.io"]["serviceaccount"]["uid"], account["metadata"]["uid"]);

        let config = token_kubeconfig(&server, bin, &format!("token-{v}.yaml"), &token);
        let as_robot = |args: &[&str]| {
            let mut all = vec!["--kubeconfig", p(&config)];
            all.extend_from_slice(args);
            kc(&server, bin, &all)
        };
        let out = as_robot(&["auth", "whoami", "-o", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let review: Value = serde_json::from_slice(&out.stdout).expect("json");
        let user = &review["status"]["userInfo"];
        assert_eq!(user["username"], format!("system:serviceaccount:default:{sa}"));
        assert_eq!(user["uid"], account["metadata"]["uid"]);
        assert_eq!(
            user["groups"],
            serde_json::json!(["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"])
        );
        let jti = c["jti"].as_str().unwrap();
        assert_eq!(
            user["extra"]["authentication.kubernetes.io/credential-id"],
            serde_json::json!([format!("JTI={jti}")])
        );

        // Authenticated, but not allowed to list pods: upstream's 403.
        let out = as_robot(&["get", "pods"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "pods is forbidden: User \"system:serviceaccount:default:{sa}\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
            )),
            "{stderr}"
        );
        // Discovery and the OIDC documents are readable with the token.
        let out = as_robot(&["get", "--raw", "/.well-known/openid-configuration"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let oidc: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(oidc["issuer"], "https://kubernetes.default.svc.cluster.local");
        assert_eq!(oidc["id_token_signing_alg_values_supported"], serde_json::json!(["ES256"]));
        assert!(oidc["jwks_uri"].as_str().unwrap().ends_with("/openid/v1/jwks"));
        let out = as_robot(&["get", "--raw", "/openid/v1/jwks"]);
        let jwks: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(jwks["keys"][0]["kty"], "EC");
        assert_eq!(jwks["keys"][0]["crv"], "P-256");

        // A token of a deleted account is refused.
        kc_ok(&server, bin, &["delete", "serviceaccount", &sa]);
        let out = as_robot(&["auth", "whoami"]);
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Unauthorized"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A garbage token too.
        let config = token_kubeconfig(&server, bin, &format!("garbage-{v}.yaml"), "not.a.jwt");
        let out = kc(&server, bin, &["--kubeconfig", p(&config), "auth", "whoami"]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("Unauthorized"));
    }
}

#[test]
fn bound_tokens_and_projected_volumes() {
    let server = start_server();
    for (bin, v) in BINS {
        let sa = format!("bound-{v}");
        let pod = format!("app-{v}");
        kc_ok(&server, bin, &["create", "serviceaccount", &sa]);
        let doc = format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {pod}\nspec:\n  serviceAccountName: {sa}\n  containers:\n  - name: app\n    image: busybox\n  initContainers:\n  - name: init\n    image: busybox\n"
        );
        let file = write_file(&server, &format!("{pod}.yaml"), &doc);
        kc_ok(&server, bin, &["create", "-f", p(&file)]);
        let created = get_json(&server, bin, &["pod", &pod]);
        let volume = &at(&created, "spec.volumes")[0];
        let volume_name = s(volume, "name").to_string();
        assert!(volume_name.starts_with("kube-api-access-") && volume_name.len() == 21, "{volume}");
        assert_eq!(at(volume, "projected.sources.0.serviceAccountToken.expirationSeconds"), 3607);
        assert_eq!(s(volume, "projected.sources.1.configMap.name"), "kube-root-ca.crt");
        assert_eq!(s(volume, "projected.sources.2.downwardAPI.items.0.fieldRef.fieldPath"), "metadata.namespace");
        for list in ["containers", "initContainers"] {
            let mount = &at(&created, &format!("spec.{list}.0.volumeMounts"))[0];
            assert_eq!(s(mount, "mountPath"), "/var/run/secrets/kubernetes.io/serviceaccount");
            assert_eq!(s(mount, "name"), volume_name);
            assert_eq!(at(mount, "readOnly"), true);
        }

        // A token bound to the pod names it, and dies with it.
        let token = kc_ok(
            &server,
            bin,
            &["create", "token", &sa, "--bound-object-kind", "Pod", "--bound-object-name", &pod, "--duration", "20m"],
        );
        let c = claims(&token);
        assert_eq!(c["kubernetes.io"]["pod"]["name"], pod.as_str());
        assert_eq!(c["kubernetes.io"]["pod"]["uid"], created["metadata"]["uid"]);
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 1200);
        let config = token_kubeconfig(&server, bin, &format!("bound-{v}.yaml"), &token);
        let out = kc(&server, bin, &["--kubeconfig", p(&config), "auth", "whoami", "-o", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let review: Value = serde_json::from_slice(&out.stdout).unwrap();
        let extra = &review["status"]["userInfo"]["extra"];
        assert_eq!(extra["authentication.kubernetes.io/pod-name"], serde_json::json!([pod]));
        assert_eq!(extra["authentication.kubernetes.io/pod-uid"], serde_json::json!([created["metadata"]["uid"]]));
        kc_ok(&server, bin, &["delete", "pod", &pod, "--wait=false"]);
        let out = kc(&server, bin, &["--kubeconfig", p(&config), "auth", "whoami"]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("Unauthorized"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );

        // Bad requests: too short a lifetime, a missing bound object.
        let err = kc_fails(&server, bin, &["create", "token", &sa, "--duration", "5m"]);
        assert!(
            err.contains("spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"),
            "{err}"
        );
        let err = kc_fails(
            &server,
            bin,
            &["create", "token", &sa, "--bound-object-kind", "Pod", "--bound-object-name", "nope"],
        );
        assert!(err.contains("pods \"nope\" not found"), "{err}");
        let err = kc_fails(&server, bin, &["create", "token", "no-such-account"]);
        assert!(err.contains("serviceaccounts \"no-such-account\" not found"), "{err}");
    }
}

#[test]
fn legacy_token_secrets_are_filled_and_authenticate() {
    let server = start_server();
    for (bin, v) in BINS {
        let sa = format!("legacy-{v}");
        kc_ok(&server, bin, &["create", "serviceaccount", &sa]);
        let doc = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {sa}-token\n  annotations:\n    kubernetes.io/service-account.name: {sa}\ntype: kubernetes.io/service-account-token\n"
        );
        let file = write_file(&server, &format!("{sa}.yaml"), &doc);
        kc_ok(&server, bin, &["create", "-f", p(&file)]);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let secret = loop {
            let secret = get_json(&server, bin, &["secret", &format!("{sa}-token")]);
            if secret["data"]["token"].is_string() {
                break secret;
            }
            assert!(std::time::Instant::now() < deadline, "token never filled: {secret}");
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let token = String::from_utf8(b64.decode(s(&secret, "data.token")).unwrap()).unwrap();
        assert_eq!(String::from_utf8(b64.decode(s(&secret, "data.namespace")).unwrap()).unwrap(), "default");
        assert!(secret["data"]["ca.crt"].is_string(), "{secret}");
        let account = get_json(&server, bin, &["serviceaccount", &sa]);
        assert_eq!(secret["metadata"]["annotations"]["kubernetes.io/service-account.uid"], account["metadata"]["uid"]);
        let c = claims(&token);
        assert_eq!(c["iss"], "kubernetes/serviceaccount");
        assert_eq!(c["kubernetes.io/serviceaccount/secret.name"], format!("{sa}-token"));
        assert!(c.get("exp").is_none(), "{c}");

        let config = token_kubeconfig(&server, bin, &format!("legacy-{v}.yaml"), &token);
        let out = kc(&server, bin, &["--kubeconfig", p(&config), "auth", "whoami", "-o", "json"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let review: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(review["status"]["userInfo"]["username"], format!("system:serviceaccount:default:{sa}"));
        // Deleting the Secret revokes the token.
        kc_ok(&server, bin, &["delete", "secret", &format!("{sa}-token")]);
        let out = kc(&server, bin, &["--kubeconfig", p(&config), "auth", "whoami"]);
        assert!(String::from_utf8_lossy(&out.stderr).contains("Unauthorized"));
    }
}
