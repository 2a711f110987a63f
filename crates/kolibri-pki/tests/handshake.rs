//! The server configuration in real TLS handshakes on loopback.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use kolibri_pki::{Pki, PkiOptions};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn pki(dir: &std::path::Path) -> Pki {
    let mut opts = PkiOptions::detect(vec![]);
    opts.now = SystemTime::now();
    Pki::load_or_create(dir, &opts).unwrap()
}

fn client_config(pki: &Pki, identity: Option<(&str, &str)>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca_cert_der().clone()).unwrap();
    let builder = ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let mut config = match identity {
        Some((cert_pem, key_pem)) => {
            let certs: Vec<CertificateDer<'static>> =
                rustls_pemfile::certs(&mut cert_pem.as_bytes()).collect::<Result<_, _>>().unwrap();
            let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key_pem.as_bytes()).unwrap().unwrap();
            builder.with_client_auth_cert(certs, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Arc::new(config)
}

/// The client identity the server saw: common name and organizations (groups).
type Peer = (String, Vec<String>);

/// Runs one handshake; returns the client's view (ALPN) and the server's (the peer's
/// identity) or the server's handshake error.
async fn handshake(
    server: &Pki,
    client: Arc<ClientConfig>,
    server_name: &'static str,
) -> (Option<Vec<u8>>, Result<Option<Peer>, String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(server.server_config(vec![b"h2".to_vec(), b"http/1.1".to_vec()]).unwrap());
    let server_task = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
        let peer_cn = tls.get_ref().1.peer_certificates().map(|certs| {
            let (_, cert) = x509_parser::parse_x509_certificate(&certs[0]).unwrap();
            let cn = cert.subject().iter_common_name().next().unwrap();
            let orgs = cert.subject().iter_organization().map(|o| o.as_str().unwrap().to_owned()).collect();
            (cn.as_str().unwrap().to_owned(), orgs)
        });
        tls.write_all(b"ok").await.map_err(|e| e.to_string())?;
        tls.shutdown().await.map_err(|e| e.to_string())?;
        Ok(peer_cn)
    });

    let tcp = TcpStream::connect(addr).await.unwrap();
    let connector = TlsConnector::from(client);
    let name = ServerName::try_from(server_name).unwrap();
    let alpn = match connector.connect(name, tcp).await {
        Ok(mut tls) => {
            let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
            let mut buf = Vec::new();
            // With TLS 1.3 a rejected client certificate shows up here, not in connect().
            match tls.read_to_end(&mut buf).await {
                Ok(_) if buf == b"ok" => alpn,
                _ => None,
            }
        }
        Err(_) => None,
    };
    (alpn, server_task.await.unwrap())
}

#[tokio::test]
async fn admin_client_cert_is_verified_and_seen_by_the_server() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let client = client_config(&pki, Some((pki.admin_cert_pem(), pki.admin_key_pem())));
    let (alpn, server) = handshake(&pki, client, "127.0.0.1").await;
    assert_eq!(alpn.as_deref(), Some(&b"h2"[..]));
    assert_eq!(server.unwrap(), Some(("system:admin".to_owned(), vec!["system:masters".to_owned()])));
}

#[tokio::test]
async fn issued_client_cert_with_several_groups_is_verified() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let (cert, key) = pki
        .issue_client_cert(
            "system:node:node-a",
            &["system:nodes", "system:authenticated", "team-a"],
            Duration::from_secs(3600),
        )
        .unwrap();
    let client = client_config(&pki, Some((&cert, &key)));
    let (alpn, server) = handshake(&pki, client, "localhost").await;
    assert!(alpn.is_some());
    let (cn, groups) = server.unwrap().unwrap();
    assert_eq!(cn, "system:node:node-a");
    assert_eq!(groups, ["system:nodes", "system:authenticated", "team-a"]);
}

#[tokio::test]
async fn client_without_certificate_is_allowed_and_server_name_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = pki(tmp.path());
    let (alpn, server) = handshake(&pki, client_config(&pki, None), "kubernetes.default.svc").await;
    assert!(alpn.is_some());
    assert_eq!(server.unwrap(), None);

    // A name the certificate does not cover fails the client's verification.
    let (alpn, server) = handshake(&pki, client_config(&pki, None), "elsewhere.example").await;
    assert!(alpn.is_none());
    assert!(server.is_err());
}

#[tokio::test]
async fn client_cert_from_another_ca_is_rejected() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let server_pki = pki(ours.path());
    let other = pki(theirs.path());
    let (cert, key) = other.issue_client_cert("mallory", &["system:masters"], Duration::from_secs(3600)).unwrap();
    // The client trusts the server's CA, so only its own certificate can fail.
    let client = client_config(&server_pki, Some((&cert, &key)));
    let (alpn, server) = handshake(&server_pki, client, "localhost").await;
    assert!(alpn.is_none());
    assert!(server.is_err(), "{server:?}");
}
