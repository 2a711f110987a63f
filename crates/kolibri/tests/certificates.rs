//! CertificateSigningRequests end to end: the requester recorded by the server,
//! `kubectl certificate approve|deny`, signing with the cluster CA, the signed certificate
//! accepted by the API (`kubectl auth whoami`), condition validation of the approval
//! subresource, and the automatic approval of a node's request from a bootstrap identity.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use kubectl_common::*;
use rcgen::{CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair};
use serde_json::{json, Value};

const BIN: &str = KUBECTL_133;

/// A new key and a PEM certificate request for `cn` in `orgs`.
fn request(cn: &str, orgs: &[&str]) -> (KeyPair, String) {
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    for o in orgs {
        dn.push(DnType::OrganizationName, *o);
    }
    params.distinguished_name = dn;
    let csr = params.serialize_request(&key).expect("csr");
    (key, csr.pem().expect("pem"))
}

fn csr_object(name: &str, pem: &str, signer: &str, usages: &[&str], seconds: Option<i64>) -> Value {
    let mut spec = json!({"request": STANDARD.encode(pem), "signerName": signer, "usages": usages});
    if let Some(s) = seconds {
        spec["expirationSeconds"] = json!(s);
    }
    json!({"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
        "metadata": {"name": name}, "spec": spec})
}

/// A kubeconfig for this server with a client certificate and key.
fn kubeconfig(server: &common::Server, name: &str, cert_pem: &str, key_pem: &str) -> PathBuf {
    let admin: serde_yaml::Value =
        serde_yaml::from_str(&std::fs::read_to_string(&server.kubeconfig).expect("kubeconfig")).expect("yaml");
    let ca = admin["clusters"][0]["cluster"]["certificate-authority-data"].as_str().expect("ca data").to_string();
    let config = json!({"apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "k", "cluster": {"server": server.url(), "certificate-authority-data": ca}}],
        "users": [{"name": "u", "user": {"client-certificate-data": STANDARD.encode(cert_pem),
            "client-key-data": STANDARD.encode(key_pem)}}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
        "current-context": "c"});
    write_file(server, name, &config.to_string())
}

fn kubectl_as(server: &common::Server, config: &PathBuf, args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("--kubeconfig")
        .arg(config)
        .arg("--cache-dir")
        .arg(server.dir.path().join("kubectl-cache-other"))
        .args(args)
        .env_remove("KUBECONFIG")
        .env("HOME", server.dir.path());
    run_with_deadline(cmd, None, DEADLINE)
}

fn whoami(server: &common::Server, config: &PathBuf) -> Value {
    let out = kubectl_as(server, config, &["auth", "whoami", "-o", "json"]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "whoami failed: {}{stdout}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_str(&stdout).expect("whoami json")
}

/// Waits (bounded) for the request's certificate.
fn certificate(server: &common::Server, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let csr = get_json(server, BIN, &["csr", name]);
        if let Some(cert) = csr["status"]["certificate"].as_str() {
            return String::from_utf8(STANDARD.decode(cert).expect("base64")).expect("pem");
        }
        assert!(Instant::now() < deadline, "no certificate for {name}: {}", csr["status"]);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn condition<'a>(csr: &'a Value, kind: &str) -> Option<&'a Value> {
    csr["status"]["conditions"].as_array().and_then(|cs| cs.iter().find(|c| c["type"] == kind))
}

#[test]
fn approved_request_is_signed_and_accepted() {
    let server = start_server();
    let (key, pem) = request("alice", &["dev"]);
    let file = write_file(
        &server,
        "alice.json",
        &csr_object("alice", &pem, "kubernetes.io/kube-apiserver-client", &["client auth"], Some(3600)).to_string(),
    );
    kc_ok(&server, BIN, &["create", "-f", p(&file)]);
    let csr = get_json(&server, BIN, &["csr", "alice"]);
    // The server records who asked, whatever the body says.
    assert_eq!(csr["spec"]["username"], "system:admin");
    assert_eq!(csr["spec"]["groups"], json!(["system:masters", "system:authenticated"]));
    assert!(condition(&csr, "Approved").is_none());

    let out = kc_ok(&server, BIN, &["certificate", "approve", "alice"]);
    assert_eq!(out.trim(), "certificatesigningrequest.certificates.k8s.io/alice approved");
    let cert_pem = certificate(&server, "alice");
    let csr = get_json(&server, BIN, &["csr", "alice"]);
    let approved = condition(&csr, "Approved").expect("Approved condition");
    assert_eq!(approved["reason"], "KubectlApprove");
    assert!(approved["lastUpdateTime"].is_string() && approved["lastTransitionTime"].is_string(), "{approved}");

    // The certificate lives as long as asked (plus the backdating) and is a client certificate.
    let der = STANDARD
        .decode(cert_pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>())
        .expect("certificate base64");
    let (_, cert) = x509_parser::parse_x509_certificate(&der).expect("x509");
    let lifetime = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
    assert!((3600..=3600 + 600).contains(&lifetime), "lifetime {lifetime}");
    assert!(!cert.is_ca());

    let config = kubeconfig(&server, "alice.kubeconfig", &cert_pem, &key.serialize_pem());
    let me = whoami(&server, &config);
    assert_eq!(me["status"]["userInfo"]["username"], "alice");
    assert_eq!(me["status"]["userInfo"]["groups"], json!(["dev", "system:authenticated"]));
    // Alice has no rights beyond asking who she is.
    let out = kubectl_as(&server, &config, &["get", "pods"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("User \"alice\" cannot list resource \"pods\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn denied_request_gets_no_certificate() {
    let server = start_server();
    let (_, pem) = request("bob", &[]);
    let file = write_file(
        &server,
        "bob.json",
        &csr_object("bob", &pem, "kubernetes.io/kube-apiserver-client", &["client auth"], None).to_string(),
    );
    kc_ok(&server, BIN, &["create", "-f", p(&file)]);
    let out = kc_ok(&server, BIN, &["certificate", "deny", "bob"]);
    assert_eq!(out.trim(), "certificatesigningrequest.certificates.k8s.io/bob denied");
    let csr = get_json(&server, BIN, &["csr", "bob"]);
    let denied = condition(&csr, "Denied").expect("Denied condition");
    assert_eq!(denied["status"], "True");
    assert_eq!(denied["reason"], "KubectlDeny");

    // Approving as well is refused by the approval subresource's validation.
    let client = server.client().await;
    let api: kube::Api<k8s_openapi::api::certificates::v1::CertificateSigningRequest> = kube::Api::all(client);
    let mut both = api.get("bob").await.expect("get bob");
    let mut conditions = both.status.clone().unwrap_or_default().conditions.unwrap_or_default();
    conditions.push(k8s_openapi::api::certificates::v1::CertificateSigningRequestCondition {
        type_: "Approved".into(),
        status: "True".into(),
        ..Default::default()
    });
    both.status.get_or_insert_with(Default::default).conditions = Some(conditions);
    match api.replace_subresource("approval", "bob", &Default::default(), &both).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 422, "{status:?}");
            assert!(
                status.message.contains(
                    "status.conditions[1].type: Invalid value: \"Approved\": Approved condition may not be set once the Denied condition is set"
                ),
                "{}",
                status.message
            );
        }
        other => panic!("approving a denied request should fail: {other:?}"),
    }

    // Certificates live at least ten minutes.
    let short = csr_object("short", &pem, "kubernetes.io/kube-apiserver-client", &["client auth"], Some(599));
    let file = write_file(&server, "short.json", &short.to_string());
    let err = kc_fails(&server, BIN, &["create", "-f", p(&file)]);
    assert!(
        err.contains(
            "spec.expirationSeconds: Invalid value: 599: may not specify a duration less than 600 seconds (10 minutes)"
        ),
        "{err}"
    );

    // The signer leaves a denied request alone.
    std::thread::sleep(Duration::from_secs(1));
    let csr = get_json(&server, BIN, &["csr", "bob"]);
    assert!(csr["status"].get("certificate").is_none(), "{}", csr["status"]);
    assert!(condition(&csr, "Approved").is_none());
}

#[test]
fn node_request_from_a_bootstrap_identity_is_approved_automatically() {
    let server = start_server();
    // A bootstrap identity, as a joining node holds (signed by the cluster CA).
    let tls = server.data_dir().join("server").join("tls");
    let ca_cert = std::fs::read_to_string(tls.join("server-ca.crt")).expect("ca cert");
    let ca_key = KeyPair::from_pem(&std::fs::read_to_string(tls.join("server-ca.key")).expect("ca key")).expect("key");
    let issuer = Issuer::from_ca_cert_pem(&ca_cert, ca_key).expect("issuer");
    let boot_key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
    params.distinguished_name.push(DnType::CommonName, "system:bootstrap:abcdef");
    params.distinguished_name.push(DnType::OrganizationName, "system:bootstrappers");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let boot_cert = params.signed_by(&boot_key, &issuer).expect("sign").pem();
    let boot = kubeconfig(&server, "boot.kubeconfig", &boot_cert, &boot_key.serialize_pem());

    let signer = "kubernetes.io/kube-apiserver-client-kubelet";
    let usages = ["digital signature", "client auth"];
    let (node_key, pem) = request("system:node:node-9", &["system:nodes"]);
    let file = write_file(&server, "node.json", &csr_object("node-csr-9", &pem, signer, &usages, None).to_string());
    let out = kubectl_as(&server, &boot, &["create", "-f", p(&file)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let cert_pem = certificate(&server, "node-csr-9");
    let csr = get_json(&server, BIN, &["csr", "node-csr-9"]);
    assert_eq!(csr["spec"]["username"], "system:bootstrap:abcdef");
    let approved = condition(&csr, "Approved").expect("Approved condition");
    assert_eq!(approved["reason"], "AutoApproved");
    assert_eq!(approved["message"], "Auto approving kubelet client certificate after SubjectAccessReview.");
    let node = kubeconfig(&server, "node.kubeconfig", &cert_pem, &node_key.serialize_pem());
    let me = whoami(&server, &node);
    assert_eq!(me["status"]["userInfo"]["username"], "system:node:node-9");
    assert_eq!(me["status"]["userInfo"]["groups"], json!(["system:nodes", "system:authenticated"]));

    // Another identity for a node from a bootstrapper is not approved on its own.
    let (_, pem) = request("alice", &["system:nodes"]);
    let file = write_file(&server, "odd.json", &csr_object("odd", &pem, signer, &usages, None).to_string());
    let out = kubectl_as(&server, &boot, &["create", "-f", p(&file)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::thread::sleep(Duration::from_secs(1));
    let csr = get_json(&server, BIN, &["csr", "odd"]);
    assert!(csr["status"].get("conditions").is_none_or(|c| c.as_array().is_none_or(|a| a.is_empty())), "{csr}");
    // Approved by hand, the kubelet signer refuses a subject that is not a node's.
    kc_ok(&server, BIN, &["certificate", "approve", "odd"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let csr = get_json(&server, BIN, &["csr", "odd"]);
        if let Some(failed) = condition(&csr, "Failed") {
            assert_eq!(failed["reason"], "SignerValidationFailure");
            assert!(csr["status"].get("certificate").is_none());
            break;
        }
        assert!(Instant::now() < deadline, "no Failed condition: {}", csr["status"]);
        std::thread::sleep(Duration::from_millis(100));
    }
}
