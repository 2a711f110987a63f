//! cert-manager's CustomResourceDefinitions, as users install them, with kubectl 1.32 and
//! 1.33: client-side and server-side apply of the definitions, an object of every kind,
//! their printer columns, short names and categories. The definitions are read from the
//! shared test data, never copied into the project.

mod common;
#[macro_use]
#[path = "kubectl_common.rs"]
mod kubectl_common;
cluster_impl!();

use kubectl_common::*;

/// cert-manager's definitions in the shared test data: `$KOLIBRI_TESTDATA/crds/cert-manager`, or
/// the `shared/testdata` folder beside the checkout, or the machine's `/work/shared/testdata`.
fn crd_dir() -> String {
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata");
    let candidates = [
        std::env::var_os("KOLIBRI_TESTDATA").map(std::path::PathBuf::from),
        Some(beside),
        Some("/work/shared/testdata".into()),
    ];
    let found = candidates.into_iter().flatten().map(|d| d.join("crds/cert-manager")).find(|d| d.is_dir());
    let dir = found
        .unwrap_or_else(|| panic!("cert-manager CRDs not found: set KOLIBRI_TESTDATA to the shared testdata folder"));
    dir.canonicalize().expect("canonical path").display().to_string()
}

const NAMES: [&str; 6] = [
    "challenges.acme.cert-manager.io",
    "orders.acme.cert-manager.io",
    "certificaterequests.cert-manager.io",
    "certificates.cert-manager.io",
    "clusterissuers.cert-manager.io",
    "issuers.cert-manager.io",
];

/// One object of every kind; `n` keeps names apart.
fn objects(n: &str) -> String {
    format!(
        r#"apiVersion: cert-manager.io/v1
kind: ClusterIssuer
metadata:
  name: ca-{n}
spec:
  ca:
    secretName: ca-key-pair
---
apiVersion: cert-manager.io/v1
kind: Issuer
metadata:
  name: selfsigned-{n}
spec:
  selfSigned: {{}}
---
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: web-{n}
spec:
  secretName: web-{n}-tls
  dnsNames: [web.example.com]
  duration: 2160h
  privateKey:
    algorithm: ECDSA
    size: 256
  issuerRef:
    name: selfsigned-{n}
    kind: Issuer
---
apiVersion: cert-manager.io/v1
kind: CertificateRequest
metadata:
  name: web-{n}-1
spec:
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K
  usages: [digital signature, key encipherment]
  issuerRef:
    name: selfsigned-{n}
---
apiVersion: acme.cert-manager.io/v1
kind: Order
metadata:
  name: web-{n}-1
spec:
  request: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURSBSRVFVRVNULS0tLS0K
  dnsNames: [web.example.com]
  issuerRef:
    name: letsencrypt
---
apiVersion: acme.cert-manager.io/v1
kind: Challenge
metadata:
  name: web-{n}-1-1
spec:
  authorizationURL: https://acme.example.com/authz/1
  dnsName: web.example.com
  key: abc
  token: def
  type: HTTP-01
  url: https://acme.example.com/chall/1
  issuerRef:
    name: letsencrypt
  solver:
    http01:
      ingress:
        ingressClassName: nginx
"#
    )
}

fn header(server: &common::Server, bin: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    let out = kc_ok(server, bin, &all);
    lines(&out).first().map(|h| h.split_whitespace().map(String::from).collect()).unwrap_or_default()
}

fn check_kinds(server: &common::Server, bin: &str, n: &str) {
    let file = write_file(server, &format!("objects-{n}.yaml"), &objects(n));
    let out = kc_ok(server, bin, &["apply", "-f", p(&file)]);
    for created in [
        format!("clusterissuer.cert-manager.io/ca-{n} created"),
        format!("issuer.cert-manager.io/selfsigned-{n} created"),
        format!("certificate.cert-manager.io/web-{n} created"),
        format!("certificaterequest.cert-manager.io/web-{n}-1 created"),
        format!("order.acme.cert-manager.io/web-{n}-1 created"),
        format!("challenge.acme.cert-manager.io/web-{n}-1-1 created"),
    ] {
        assert!(out.contains(&created), "missing {created:?} in {out}");
    }
    // Printer columns as the definitions declare them, `-o wide` adding priority 1.
    assert_eq!(header(server, bin, &["certificates"]), ["NAME", "READY", "SECRET", "AGE"]);
    assert_eq!(
        header(server, bin, &["certificates", "-o", "wide"]),
        ["NAME", "READY", "SECRET", "ISSUER", "STATUS", "EXPIRATION", "AGE"]
    );
    assert_eq!(
        header(server, bin, &["certificaterequests"]),
        ["NAME", "APPROVED", "DENIED", "READY", "ISSUER", "REQUESTER", "AGE"]
    );
    assert_eq!(header(server, bin, &["issuers"]), ["NAME", "READY", "AGE"]);
    assert_eq!(header(server, bin, &["clusterissuers", "-o", "wide"]), ["NAME", "READY", "STATUS", "AGE"]);
    assert_eq!(header(server, bin, &["orders", "-o", "wide"]), ["NAME", "STATE", "ISSUER", "REASON", "AGE"]);
    assert_eq!(header(server, bin, &["challenges"]), ["NAME", "STATE", "DOMAIN", "AGE"]);
    let (_, rows) = table(&kc_ok(server, bin, &["get", "cert", &format!("web-{n}")]));
    assert_eq!(rows[0][..2], [format!("web-{n}"), format!("web-{n}-tls")]);
    let (_, rows) = table(&kc_ok(server, bin, &["get", "challenges", &format!("web-{n}-1-1")]));
    assert_eq!(rows[0][..2], [format!("web-{n}-1-1"), "web.example.com".to_string()]);

    // A Ready condition written through the status subresource shows in the columns.
    kc_ok(
        server,
        bin,
        &[
            "patch",
            "certificate",
            &format!("web-{n}"),
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"conditions":[{"type":"Ready","status":"True","reason":"Ready","message":"Certificate is up to date and has not expired","lastTransitionTime":"2026-01-01T00:00:00Z"}],"notAfter":"2027-01-01T00:00:00Z"}}"#,
        ],
    );
    let out = kc_ok(server, bin, &["get", "certs", &format!("web-{n}"), "-o", "wide"]);
    let row = lines(&out)[1].clone();
    assert!(row.starts_with(&format!("web-{n}")), "{out}");
    for cell in [
        "True",
        &format!("web-{n}-tls"),
        &format!("selfsigned-{n}"),
        "Certificate is up to date and has not expired",
        "2027-01-01T00:00:00Z",
    ] {
        assert!(row.contains(cell), "missing {cell:?} in {out}");
    }

    // Short names and categories.
    let issuers = kc_ok(server, bin, &["get", "iss", "-o", "name"]);
    assert!(issuers.contains(&format!("issuer.cert-manager.io/selfsigned-{n}")), "{issuers}");
    assert!(
        kc_ok(server, bin, &["get", "ciss", "-o", "name"]).contains(&format!("clusterissuer.cert-manager.io/ca-{n}"))
    );
    let all = kc_ok(server, bin, &["get", "cert-manager", "-o", "name"]);
    for name in [
        format!("certificate.cert-manager.io/web-{n}"),
        format!("certificaterequest.cert-manager.io/web-{n}-1"),
        format!("issuer.cert-manager.io/selfsigned-{n}"),
        format!("order.acme.cert-manager.io/web-{n}-1"),
        format!("challenge.acme.cert-manager.io/web-{n}-1-1"),
    ] {
        assert!(all.contains(&name), "missing {name} in {all}");
    }
    let acme = kc_ok(server, bin, &["get", "cert-manager-acme", "-o", "name"]);
    assert!(!acme.contains("certificate.cert-manager.io"), "{acme}");
    assert!(acme.contains(&format!("order.acme.cert-manager.io/web-{n}-1")), "{acme}");

    // Their schemas validate: a Certificate without secretName is refused.
    let file = write_file(
        server,
        &format!("bad-{n}.yaml"),
        "apiVersion: cert-manager.io/v1\nkind: Certificate\nmetadata:\n  name: bad\nspec:\n  issuerRef:\n    name: x\n  dnsNames: [a]\n",
    );
    let err = kc_fails(server, bin, &["create", "-f", p(&file)]);
    assert!(err.contains("spec.secretName: Required value"), "{err}");
    let out = kc_ok(server, bin, &["explain", "certificate.spec.issuerRef"]);
    assert!(out.contains("FIELD: issuerRef <Object>") && out.contains("name\t<string> -required-"), "{out}");
}

#[test]
fn cert_manager_installs_with_client_side_apply() {
    let server = start_server();
    let dir = crd_dir();
    let out = kc_ok(&server, kubectl_common::KUBECTL_132, &["apply", "-f", &dir]);
    for name in NAMES {
        assert!(out.contains(&format!("customresourcedefinition.apiextensions.k8s.io/{name} created")), "{out}");
    }
    let out = kc_ok(&server, kubectl_common::KUBECTL_133, &["apply", "-f", &dir]);
    for name in NAMES {
        assert!(out.contains(&format!("customresourcedefinition.apiextensions.k8s.io/{name} unchanged")), "{out}");
    }
    kc_ok(
        &server,
        kubectl_common::KUBECTL_133,
        &["wait", "--for=condition=Established", "--timeout=10s", "crd", "--all"],
    );
    for (bin, v) in BINS {
        check_kinds(&server, bin, v);
    }
}

#[test]
fn cert_manager_installs_with_server_side_apply() {
    let server = start_server();
    let dir = crd_dir();
    let out = kc_ok(&server, kubectl_common::KUBECTL_133, &["apply", "--server-side", "-f", &dir]);
    for name in NAMES {
        assert!(
            out.contains(&format!("customresourcedefinition.apiextensions.k8s.io/{name} serverside-applied")),
            "{out}"
        );
    }
    let out = kc_ok(&server, kubectl_common::KUBECTL_132, &["apply", "--server-side", "-f", &dir]);
    for name in NAMES {
        assert!(
            out.contains(&format!("customresourcedefinition.apiextensions.k8s.io/{name} serverside-applied")),
            "{out}"
        );
    }
    kc_ok(
        &server,
        kubectl_common::KUBECTL_132,
        &["wait", "--for=condition=Established", "--timeout=10s", "crd", "--all"],
    );
    let crd = get_json(
        &server,
        kubectl_common::KUBECTL_133,
        &["crd", "certificates.cert-manager.io", "--show-managed-fields"],
    );
    let managers: Vec<&str> = at(&crd, "metadata.managedFields")
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert!(managers.contains(&"kubectl"), "{managers:?}");
    for (bin, v) in BINS {
        let file = write_file(&server, &format!("objects-ssa-{v}.yaml"), &objects(&format!("s{v}")));
        let out = kc_ok(&server, bin, &["apply", "--server-side", "-f", p(&file)]);
        assert!(out.contains(&format!("certificate.cert-manager.io/web-s{v} serverside-applied")), "{out}");
        assert!(out.contains(&format!("challenge.acme.cert-manager.io/web-s{v}-1-1 serverside-applied")), "{out}");
        let cert = get_json(&server, bin, &["certificate", &format!("web-s{v}")]);
        assert_eq!(s(&cert, "spec.secretName"), format!("web-s{v}-tls"));
    }
}
