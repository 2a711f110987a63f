//! The server as a process and as an HTTP endpoint: shutdown, crash safety, restart,
//! configuration layering, authentication, and bad input.

mod common;

use std::time::Duration;

use common::{fails, ok, Server};
use http::{Method, Request, StatusCode};
use serde_json::{json, Value};

/// Sends a raw request with the admin client and returns status and JSON body.
async fn send(
    client: &kube::Client,
    method: Method,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(body)
        .unwrap();
    let resp = client.send(req.map(kube::client::Body::from)).await.unwrap();
    let status = resp.status();
    let bytes = http_body_util::BodyExt::collect(resp.into_body()).await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

#[test]
fn sigterm_stops_within_two_seconds_and_restart_keeps_everything() {
    let mut server = Server::start();
    ok(server.kubectl(&["create", "configmap", "kept", "--from-literal=a=1"]));
    let ca_before = std::fs::read(server.data_dir().join("server/tls/server-ca.crt")).unwrap();
    let serving_before = std::fs::read(server.data_dir().join("server/tls/serving-kube-apiserver.crt")).unwrap();
    // An open watch must not hold up shutdown.
    let mut watch = server
        .kubectl_bin(common::KUBECTL_133, &["get", "configmaps", "-w"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let took = server.stop();
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(took < Duration::from_secs(2), "shutdown took {took:?}");
    assert!(server.server_log().contains("stopped"), "{}", server.server_log());

    server.spawn(&[]);
    assert_eq!(ok(server.kubectl(&["get", "configmap", "kept", "-o", "jsonpath={.data.a}"])), "1");
    // Certificates are reused, not re-issued.
    assert_eq!(std::fs::read(server.data_dir().join("server/tls/server-ca.crt")).unwrap(), ca_before);
    assert_eq!(std::fs::read(server.data_dir().join("server/tls/serving-kube-apiserver.crt")).unwrap(), serving_before);
    // The kubeconfig is private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&server.kubeconfig).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[tokio::test]
async fn kill_nine_loses_no_acknowledged_write() {
    let mut server = Server::start();
    let client = server.client().await;
    let mut acknowledged = Vec::new();
    for i in 0..60 {
        let body = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": format!("ack-{i}")}, "data": {"i": i.to_string()}}))
        .unwrap();
        let (status, _) =
            send(&client, Method::POST, "/api/v1/namespaces/default/configmaps", "application/json", body).await;
        assert_eq!(status, StatusCode::CREATED);
        acknowledged.push(format!("ack-{i}"));
    }
    server.kill();
    server.spawn(&[]);
    let names = ok(server.kubectl(&["get", "configmaps", "-o", "name"]));
    for name in acknowledged {
        assert!(names.contains(&format!("configmap/{name}\n")), "{name} was acknowledged but is missing");
    }
}

#[test]
fn config_file_environment_and_flags_layer_like_k3s() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    let dropins = dir.path().join("config.yaml.d");
    std::fs::create_dir(&dropins).unwrap();
    let (p1, p2, p3) = (common::free_port(), common::free_port(), common::free_port());
    std::fs::write(&config, format!("https-listen-port: {p1}\ntls-san: [from-file.example]\n")).unwrap();
    std::fs::write(dropins.join("10-port.yaml"), format!("https-listen-port: {p2}\ntls-san+: [from-dropin.example]\n"))
        .unwrap();
    let data = dir.path().join("data");
    let run = |env_port: Option<u16>| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kolibri"));
        cmd.arg("server")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(["--bind-address", "127.0.0.1", "--write-kubeconfig"])
            .arg(dir.path().join("kc.yaml"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        if let Some(p) = env_port {
            cmd.env("KOLIBRI_HTTPS_LISTEN_PORT", p.to_string());
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut ready_line = String::new();
        for line in std::io::BufRead::lines(std::io::BufReader::new(stderr)).map_while(Result::ok) {
            if line.contains("is ready") {
                ready_line = line;
                break;
            }
        }
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let _ = child.wait();
        ready_line
    };
    // The drop-in overrides the file.
    assert!(run(None).contains(&format!("127.0.0.1:{p2}")));
    // The environment overrides both.
    assert!(run(Some(p3)).contains(&format!("127.0.0.1:{p3}")));
    // `tls-san+:` appended to the file's list: both names are in the serving certificate.
    let pem = std::fs::read_to_string(data.join("server/tls/serving-kube-apiserver.crt")).unwrap();
    let der = rustls_pemfile_first(&pem);
    let (_, cert) = x509_parser::parse_x509_certificate(&der).unwrap();
    let sans = format!("{:?}", cert.subject_alternative_name().unwrap().unwrap().value.general_names);
    assert!(sans.contains("from-file.example") && sans.contains("from-dropin.example"), "{sans}");
}

fn rustls_pemfile_first(pem: &str) -> Vec<u8> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).unwrap()
}

#[test]
fn corrupt_database_gives_a_clear_error_naming_the_file() {
    let mut server = Server::start();
    server.stop();
    let db = server.data_dir().join("server/db/state.db");
    std::fs::write(&db, vec![0x42u8; 8192]).unwrap();
    for wal in ["state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(server.data_dir().join("server/db").join(wal));
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kolibri"))
        .arg("server")
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["--bind-address", "127.0.0.1", "--https-listen-port", &common::free_port().to_string()])
        .arg("--write-kubeconfig")
        .arg(server.dir.path().join("other.yaml"))
        .arg("--config")
        .arg(server.dir.path().join("config.yaml"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(db.to_str().unwrap()), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[tokio::test]
async fn anonymous_and_unprivileged_users_get_upstream_errors() {
    let server = Server::start();
    // Anonymous: health and version only.
    let mut config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap(),
        &Default::default(),
    )
    .await
    .unwrap();
    config.auth_info = Default::default();
    let anonymous = kube::Client::try_from(config).unwrap();
    for path in ["/healthz", "/livez", "/readyz", "/version"] {
        let (status, _) = send(&anonymous, Method::GET, path, "application/json", vec![]).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    let (status, body) = send(&anonymous, Method::GET, "/api/v1/namespaces", "application/json", vec![]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["reason"], "Unauthorized");

    // A user with a certificate but no rights: upstream's 403 message.
    let pki = kolibri_pki::Pki::load_or_create(
        &server.data_dir().join("server/tls"),
        &kolibri_pki::PkiOptions::detect(Vec::new()),
    )
    .unwrap();
    let (cert, key) = pki.issue_client_cert("jane", &["developers"], Duration::from_secs(3600)).unwrap();
    let mut kubeconfig = kube::config::Kubeconfig::read_from(&server.kubeconfig).unwrap();
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    for auth in &mut kubeconfig.auth_infos {
        if let Some(info) = auth.auth_info.as_mut() {
            info.client_certificate_data = Some(b64(&cert));
            info.client_key_data = Some(b64(&key).into());
        }
    }
    let jane =
        kube::Client::try_from(kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap())
            .unwrap();
    let (status, body) = send(&jane, Method::GET, "/api/v1/namespaces/default/pods", "application/json", vec![]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        body["message"],
        "pods is forbidden: User \"jane\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\""
    );
    // Everyone may ask who they are.
    let review =
        serde_json::to_vec(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})).unwrap();
    let (status, body) =
        send(&jane, Method::POST, "/apis/authentication.k8s.io/v1/selfsubjectreviews", "application/json", review)
            .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["status"]["userInfo"]["username"], "jane");
    assert_eq!(body["status"]["userInfo"]["groups"], json!(["developers", "system:authenticated"]));
}

#[tokio::test]
async fn bad_input_gets_upstream_errors_and_changes_nothing() {
    let server = Server::start();
    let client = server.client().await;
    let cms = "/api/v1/namespaces/default/configmaps";
    let before = server.kubectl(&["get", "configmaps", "-o", "name"]);

    let (status, body) =
        send(&client, Method::POST, cms, "application/json", b"{\"apiVersion\": \"v1\", ".to_vec()).await;
    assert_eq!((status, body["reason"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")));

    let (status, body) = send(&client, Method::POST, cms, "application/yaml", b"kind: [unclosed".to_vec()).await;
    assert_eq!((status, body["reason"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")));

    let (status, body) =
        send(&client, Method::POST, cms, "application/vnd.kubernetes.protobuf", b"k8s\0\x0a\xff\xff".to_vec()).await;
    assert_eq!((status, body["reason"].as_str()), (StatusCode::BAD_REQUEST, Some("BadRequest")));

    let (status, body) = send(&client, Method::POST, cms, "text/plain", b"hello".to_vec()).await;
    assert_eq!((status, body["reason"].as_str()), (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("UnsupportedMediaType")));

    // Over 3 MiB: 413.
    let big = serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "big"},
        "data": {"x": "a".repeat(3 * 1024 * 1024 + 10)}}))
    .unwrap();
    let (status, body) = send(&client, Method::POST, cms, "application/json", big).await;
    assert_eq!((status, body["reason"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("RequestEntityTooLarge")));

    // Unknown field with Strict field validation: 400 naming the field.
    let unknown =
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "u"}, "bogus": 1}))
            .unwrap();
    let (status, body) =
        send(&client, Method::POST, &format!("{cms}?fieldValidation=Strict"), "application/json", unknown).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: strict decoding error: unknown field \"bogus\""
    );

    // A name that is not a DNS-1123 subdomain: 422 with a field cause.
    let bad_name =
        serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name"}}))
            .unwrap();
    let (status, body) = send(&client, Method::POST, cms, "application/json", bad_name).await;
    assert_eq!((status, body["reason"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("Invalid")));
    assert_eq!(body["details"]["causes"][0]["field"], "metadata.name");

    // A resourceVersion that is not a number.
    let (status, body) =
        send(&client, Method::GET, &format!("{cms}?resourceVersion=abc"), "application/json", vec![]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["message"].as_str().unwrap().contains("abc"));

    // Watch from a revision in the future: 504 Timeout with the ResourceVersionTooLarge
    // cause and Retry-After (asked with curl: clients retry such answers by themselves).
    let tls = server.data_dir().join("server/tls");
    let out = std::process::Command::new("curl")
        .args(["-sk", "-i", "--cert"])
        .arg(tls.join("client-admin.crt"))
        .arg("--key")
        .arg(tls.join("client-admin.key"))
        .arg(format!("{}{cms}?watch=true&resourceVersion=99999999", server.url()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.starts_with("http/2 504") || text.starts_with("http/1.1 504"), "{text}");
    assert!(text.contains("retry-after: 1"), "{text}");
    assert!(text.contains("\"reason\":\"resourceversiontoolarge\""), "{text}");

    // The server keeps serving and nothing was stored.
    assert_eq!(server.kubectl(&["get", "configmaps", "-o", "name"]).stdout, before.stdout);
    fails(server.kubectl(&["get", "configmap", "big"]));
}
