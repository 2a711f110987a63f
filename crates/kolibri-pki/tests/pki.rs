//! Behaviour of `Pki::load_or_create` and the credentials it hands out.

use std::collections::BTreeSet;
use std::fs;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use kolibri_pki::{Pki, PkiError, PkiOptions};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

const DAY: u64 = 24 * 60 * 60;

const FILES: &[&str] = &[
    "server-ca.crt",
    "server-ca.key",
    "serving-kube-apiserver.crt",
    "serving-kube-apiserver.key",
    "client-admin.crt",
    "client-admin.key",
    "service.key",
];

fn opts(now: SystemTime) -> PkiOptions {
    PkiOptions {
        tls_sans: vec!["api.example.com".into(), "10.0.0.7".into()],
        hostname: "node-a".into(),
        host_ips: vec!["192.168.5.10".parse().unwrap()],
        api_service_ip: "10.43.0.1".parse().unwrap(),
        cluster_domain: "cluster.local".into(),
        now,
    }
}

fn der_of(pem: &str) -> Vec<u8> {
    rustls_pemfile::certs(&mut pem.as_bytes()).next().expect("a certificate").expect("valid PEM").to_vec()
}

fn with_cert<R>(path: &Path, f: impl FnOnce(&X509Certificate<'_>) -> R) -> R {
    let der = der_of(&fs::read_to_string(path).unwrap());
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    f(&cert)
}

fn sans(cert: &X509Certificate<'_>) -> BTreeSet<String> {
    let ext = cert.subject_alternative_name().unwrap().expect("SAN extension");
    ext.value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::DNSName(d) => d.to_string(),
            GeneralName::IPAddress(b) if b.len() == 4 => IpAddr::from(<[u8; 4]>::try_from(*b).unwrap()).to_string(),
            GeneralName::IPAddress(b) => IpAddr::from(<[u8; 16]>::try_from(*b).unwrap()).to_string(),
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect()
}

fn unix(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn snapshot(dir: &Path) -> Vec<Vec<u8>> {
    FILES.iter().map(|f| fs::read(dir.join(f)).unwrap()).collect()
}

fn cn(cert: &X509Certificate<'_>) -> String {
    cert.subject().iter_common_name().next().unwrap().as_str().unwrap().to_owned()
}

fn orgs(cert: &X509Certificate<'_>) -> Vec<String> {
    cert.subject().iter_organization().map(|o| o.as_str().unwrap().to_owned()).collect()
}

#[test]
fn first_start_creates_files_with_modes_and_extensions() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("server/tls");
    let now = SystemTime::now();

    let started = Instant::now();
    let pki = Pki::load_or_create(&dir, &opts(now)).unwrap();
    let elapsed = started.elapsed();
    // Generous for debug builds on a loaded machine; a release build takes a few ms.
    assert!(elapsed < Duration::from_millis(500), "took {elapsed:?}");

    for f in FILES {
        let mode = fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
        let want = if f.ends_with(".key") { 0o600 } else { 0o644 };
        assert_eq!(mode, want, "mode of {f}");
    }
    assert_eq!(fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    // No temporary files are left behind.
    assert_eq!(fs::read_dir(&dir).unwrap().count(), FILES.len());

    with_cert(&dir.join("server-ca.crt"), |ca| {
        assert_eq!(cn(ca), format!("kolibri-server-ca@{}", unix(now)));
        assert!(ca.basic_constraints().unwrap().unwrap().value.ca);
        assert_eq!(ca.issuer(), ca.subject());
        let not_after = ca.validity().not_after.timestamp();
        assert_eq!(not_after - unix(now), 3650 * DAY as i64);
    });

    with_cert(&dir.join("serving-kube-apiserver.crt"), |cert| {
        let want: BTreeSet<String> = [
            "node-a",
            "192.168.5.10",
            "127.0.0.1",
            "::1",
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
            "10.43.0.1",
            "api.example.com",
            "10.0.0.7",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        assert_eq!(sans(cert), want);
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth);
        assert!(!eku.client_auth);
        assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
        assert_eq!(cert.validity().not_after.timestamp() - unix(now), 365 * DAY as i64);
        assert!(cert.validity().not_before.timestamp() <= unix(now));
        assert!(cert.issuer().to_string().contains("kolibri-server-ca@"));
    });

    with_cert(&dir.join("client-admin.crt"), |cert| {
        assert_eq!(cn(cert), "system:admin");
        assert_eq!(orgs(cert), vec!["system:masters".to_owned()]);
        let eku = cert.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.client_auth);
        assert!(!eku.server_auth);
        assert_eq!(cert.validity().not_after.timestamp() - unix(now), 365 * DAY as i64);
    });

    let sa = fs::read_to_string(dir.join("service.key")).unwrap();
    assert!(sa.contains("BEGIN PRIVATE KEY"));
    assert_eq!(pki.service_account_key_pem(), sa);
    assert_eq!(pki.ca_cert_pem(), fs::read_to_string(dir.join("server-ca.crt")).unwrap());
    assert_eq!(pki.admin_cert_pem(), fs::read_to_string(dir.join("client-admin.crt")).unwrap());
    assert_eq!(pki.ca_cert_hash().len(), 64);
}

#[test]
fn restart_reuses_identical_files() {
    let tmp = tempfile::tempdir().unwrap();
    let now = SystemTime::now();
    let first = Pki::load_or_create(tmp.path(), &opts(now)).unwrap();
    let before = snapshot(tmp.path());

    let later = now + Duration::from_secs(30 * DAY);
    let second = Pki::load_or_create(tmp.path(), &opts(later)).unwrap();

    assert_eq!(snapshot(tmp.path()), before);
    assert_eq!(first.ca_cert_pem(), second.ca_cert_pem());
    assert_eq!(first.serving_cert_chain(), second.serving_cert_chain());
    assert_eq!(first.admin_key_pem(), second.admin_key_pem());
}

#[test]
fn leaf_near_expiry_is_renewed_from_the_same_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let t0 = SystemTime::now();
    Pki::load_or_create(dir, &opts(t0)).unwrap();
    let ca_before = fs::read(dir.join("server-ca.crt")).unwrap();
    let ca_key_before = fs::read(dir.join("server-ca.key")).unwrap();
    let serving_before = fs::read(dir.join("serving-kube-apiserver.crt")).unwrap();

    // 100 days left: kept.
    Pki::load_or_create(dir, &opts(t0 + Duration::from_secs(265 * DAY))).unwrap();
    assert_eq!(fs::read(dir.join("serving-kube-apiserver.crt")).unwrap(), serving_before);

    // 80 days left: re-issued, valid for a year from the new time, same CA.
    let t1 = t0 + Duration::from_secs(285 * DAY);
    let pki = Pki::load_or_create(dir, &opts(t1)).unwrap();
    assert_ne!(fs::read(dir.join("serving-kube-apiserver.crt")).unwrap(), serving_before);
    for leaf in ["serving-kube-apiserver.crt", "client-admin.crt"] {
        with_cert(&dir.join(leaf), |cert| {
            assert_eq!(cert.validity().not_after.timestamp() - unix(t1), 365 * DAY as i64, "{leaf}");
        });
    }
    assert_eq!(fs::read(dir.join("server-ca.crt")).unwrap(), ca_before);
    assert_eq!(fs::read(dir.join("server-ca.key")).unwrap(), ca_key_before);
    assert_eq!(pki.ca_cert_pem().as_bytes(), ca_before.as_slice());
}

#[test]
fn added_tls_san_reissues_only_the_serving_cert() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = SystemTime::now();
    Pki::load_or_create(dir, &opts(now)).unwrap();
    let admin_before = fs::read(dir.join("client-admin.crt")).unwrap();
    let serving_before = fs::read(dir.join("serving-kube-apiserver.crt")).unwrap();

    let mut more = opts(now);
    more.tls_sans.push("New.Example.com".into());
    Pki::load_or_create(dir, &more).unwrap();

    assert_ne!(fs::read(dir.join("serving-kube-apiserver.crt")).unwrap(), serving_before);
    with_cert(&dir.join("serving-kube-apiserver.crt"), |cert| {
        let names = sans(cert);
        assert!(names.contains("new.example.com"), "{names:?}");
        assert!(names.contains("api.example.com"), "{names:?}");
    });
    assert_eq!(fs::read(dir.join("client-admin.crt")).unwrap(), admin_before);

    // Asking for fewer names is still covered: nothing changes.
    let after = snapshot(dir);
    Pki::load_or_create(dir, &opts(now)).unwrap();
    assert_eq!(snapshot(dir), after);
}

#[test]
fn mismatched_leaf_key_is_reissued() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let now = SystemTime::now();
    Pki::load_or_create(dir, &opts(now)).unwrap();
    fs::copy(dir.join("client-admin.key"), dir.join("serving-kube-apiserver.key")).unwrap();
    let pki = Pki::load_or_create(dir, &opts(now)).unwrap();
    // The pair works again: rustls accepts it.
    pki.server_config(vec![]).unwrap();
    assert_ne!(
        fs::read(dir.join("serving-kube-apiserver.key")).unwrap(),
        fs::read(dir.join("client-admin.key")).unwrap()
    );
}

#[test]
fn corrupt_files_are_errors_naming_the_file() {
    for (file, content) in [
        ("serving-kube-apiserver.crt", "garbage"),
        ("server-ca.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
        ("server-ca.crt", ""),
        ("service.key", "not a key"),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        Pki::load_or_create(dir, &opts(SystemTime::now())).unwrap();
        fs::write(dir.join(file), content).unwrap();
        let err = Pki::load_or_create(dir, &opts(SystemTime::now())).unwrap_err();
        assert!(matches!(err, PkiError::InvalidFile { .. }), "{file}: {err:?}");
        assert!(err.to_string().contains(file), "{file}: {err}");
        // Nothing was overwritten.
        assert_eq!(fs::read_to_string(dir.join(file)).unwrap(), content);
    }
}

#[test]
fn half_a_ca_is_an_error_not_a_new_ca() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    Pki::load_or_create(dir, &opts(SystemTime::now())).unwrap();
    fs::remove_file(dir.join("server-ca.key")).unwrap();
    let err = Pki::load_or_create(dir, &opts(SystemTime::now())).unwrap_err();
    assert!(matches!(err, PkiError::IncompleteCa { .. }), "{err:?}");
    assert!(err.to_string().contains("server-ca.key"), "{err}");
    assert!(!dir.join("server-ca.key").exists());
}

#[test]
fn ca_key_of_another_ca_is_an_error() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    Pki::load_or_create(a.path(), &opts(SystemTime::now())).unwrap();
    Pki::load_or_create(b.path(), &opts(SystemTime::now())).unwrap();
    fs::copy(b.path().join("server-ca.key"), a.path().join("server-ca.key")).unwrap();
    let err = Pki::load_or_create(a.path(), &opts(SystemTime::now())).unwrap_err();
    assert!(err.to_string().contains("server-ca.key"), "{err}");
}

#[test]
fn invalid_tls_san_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let mut o = opts(SystemTime::now());
    o.tls_sans.push("not a name".into());
    let err = Pki::load_or_create(tmp.path(), &o).unwrap_err();
    assert!(matches!(err, PkiError::InvalidSan(ref s) if s == "not a name"), "{err:?}");
}

#[test]
fn issued_client_cert_carries_user_and_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::load_or_create(tmp.path(), &opts(SystemTime::now())).unwrap();
    let (cert_pem, key_pem) =
        pki.issue_client_cert("system:kube-scheduler", &["group-a", "group-b"], Duration::from_secs(DAY)).unwrap();
    assert!(key_pem.contains("BEGIN PRIVATE KEY"));
    let der = der_of(&cert_pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    assert_eq!(cn(&cert), "system:kube-scheduler");
    assert_eq!(orgs(&cert), vec!["group-a", "group-b"]);
    assert!(cert.extended_key_usage().unwrap().unwrap().value.client_auth);
    let lifetime = cert.validity().not_after.timestamp() - unix(SystemTime::now());
    assert!((DAY as i64 - 60..=DAY as i64).contains(&lifetime), "{lifetime}");
    let ca_der = pki.ca_cert_der().to_vec();
    let (_, ca) = x509_parser::parse_x509_certificate(&ca_der).unwrap();
    assert_eq!(cert.issuer(), ca.subject());
}
