//! The cluster's credentials on disk: created on first start, reused and renewed later.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::{Duration, SystemTime};

use rcgen::{Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};

use crate::fsio::{self, PUBLIC_MODE, SECRET_MODE};
use crate::issue::{self, LeafProfile, San, LEAF_VALIDITY};
use crate::{host, inspect, PkiError};

const CA_CERT: &str = "server-ca.crt";
const CA_KEY: &str = "server-ca.key";
const SERVING: &str = "serving-kube-apiserver";
const ADMIN: &str = "client-admin";
const SERVICE_KEY: &str = "service.key";

/// The CA is never renewed automatically; warn this long before it expires.
const CA_WARN_BEFORE: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// What the serving certificate must cover, and the clock to judge validity by.
#[derive(Debug, Clone)]
pub struct PkiOptions {
    /// Extra names or IP addresses for the serving certificate (`--tls-san`).
    pub tls_sans: Vec<String>,
    /// The host's name; a serving certificate SAN.
    pub hostname: String,
    /// The host's addresses; serving certificate SANs.
    pub host_ips: Vec<IpAddr>,
    /// The `kubernetes` Service's cluster IP (first address of the service CIDR).
    pub api_service_ip: IpAddr,
    /// The cluster DNS domain, for `kubernetes.default.svc.<domain>`.
    pub cluster_domain: String,
    /// The current time; injectable so that tests can move through certificate lifetimes.
    pub now: SystemTime,
}

impl PkiOptions {
    /// Options for this host: its detected name and addresses, k3s's default service IP
    /// and domain, the current time, and `tls_sans`.
    pub fn detect(tls_sans: Vec<String>) -> Self {
        Self {
            tls_sans,
            hostname: host::hostname(),
            host_ips: host::host_ips(),
            api_service_ip: IpAddr::V4(Ipv4Addr::new(10, 43, 0, 1)),
            cluster_domain: "cluster.local".to_owned(),
            now: SystemTime::now(),
        }
    }

    /// Every SAN the serving certificate must cover, in a stable order.
    fn serving_sans(&self) -> Result<Vec<San>, PkiError> {
        let mut sans = Vec::new();
        match San::parse(&self.hostname) {
            Ok(san) => sans.push(san),
            // An odd host name must not keep the server from starting.
            Err(_) => {
                tracing::warn!(hostname = %self.hostname, "host name is not a valid DNS name; not adding it to the serving certificate")
            }
        }
        sans.extend(self.host_ips.iter().copied().map(San::Ip));
        sans.push(San::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        sans.push(San::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
        sans.push(San::Ip(self.api_service_ip));
        for name in ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"] {
            sans.push(San::Dns(name.to_owned()));
        }
        sans.push(San::parse(&format!("kubernetes.default.svc.{}", self.cluster_domain))?);
        for extra in &self.tls_sans {
            sans.push(San::parse(extra)?);
        }
        let mut seen = std::collections::BTreeSet::new();
        sans.retain(|s| seen.insert(s.clone()));
        Ok(sans)
    }
}

impl Default for PkiOptions {
    fn default() -> Self {
        Self::detect(Vec::new())
    }
}

/// The cluster's CA and the credentials issued from it.
///
/// Files in the TLS directory (keys mode 0600, certificates 0644, each written atomically):
/// `server-ca.crt/.key` (the CA, 10 years), `serving-kube-apiserver.crt/.key` (the API
/// server's certificate, 1 year), `client-admin.crt/.key` (`system:admin` in
/// `system:masters`, 1 year) and `service.key` (the service-account token signing key).
/// All keys are ECDSA P-256 in PKCS#8.
pub struct Pki {
    ca_cert_pem: String,
    ca_cert_der: CertificateDer<'static>,
    ca: Issuer<'static, KeyPair>,
    serving_cert_der: CertificateDer<'static>,
    serving_key_der: PrivateKeyDer<'static>,
    admin_cert_pem: String,
    admin_key_pem: String,
    service_key_pem: String,
}

impl Pki {
    /// Loads the credentials in `tls_dir`, creating whatever is missing.
    ///
    /// The CA is created only when neither of its files exists; it is never replaced. A
    /// leaf certificate is re-issued from the CA when it is missing, expires within 90 days,
    /// was issued by another CA, does not match its key, or (serving certificate) does not
    /// cover every SAN that `opts` asks for. Unreadable or corrupt files are errors naming
    /// the file, never silently overwritten.
    pub fn load_or_create(tls_dir: &Path, opts: &PkiOptions) -> Result<Pki, PkiError> {
        fsio::create_private_dir(tls_dir)?;
        let (ca_cert_pem, ca_cert_der, ca_key) = load_or_create_ca(tls_dir, opts.now)?;
        let ca_path = tls_dir.join(CA_CERT);
        let ca_x509 = inspect::parse_x509(&ca_path, &ca_cert_der)?;

        let serving = LeafProfile::Serving { cn: "kube-apiserver".to_owned(), sans: opts.serving_sans()? };
        let admin = LeafProfile::Client { cn: "system:admin".to_owned(), groups: vec!["system:masters".to_owned()] };
        let ca = Issuer::from_ca_cert_der(&ca_cert_der, ca_key)
            .map_err(|e| PkiError::invalid(&ca_path, format!("unusable CA certificate: {e}")))?;
        let leaves = Leaves { dir: tls_dir, ca: &ca, ca_x509: &ca_x509, now: opts.now };
        let (serving_cert_pem, serving_key_pem) = leaves.ensure(SERVING, &serving)?;
        let (admin_cert_pem, admin_key_pem) = leaves.ensure(ADMIN, &admin)?;
        let service_key_pem = load_or_create_key(&tls_dir.join(SERVICE_KEY))?;

        let serving_cert_der = inspect::parse_cert_pem(&tls_dir.join(format!("{SERVING}.crt")), &serving_cert_pem)?;
        let key_path = tls_dir.join(format!("{SERVING}.key"));
        let serving_key_der = rustls_pemfile::private_key(&mut serving_key_pem.as_bytes())
            .ok()
            .flatten()
            .ok_or_else(|| PkiError::invalid(&key_path, "no PRIVATE KEY block"))?;

        Ok(Pki {
            ca_cert_pem,
            ca_cert_der,
            ca,
            serving_cert_der,
            serving_key_der,
            admin_cert_pem,
            admin_key_pem,
            service_key_pem,
        })
    }

    /// The CA certificate, PEM-encoded (what clients trust; k3s serves it at `/cacerts`).
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// The CA certificate, DER-encoded.
    pub fn ca_cert_der(&self) -> &CertificateDer<'static> {
        &self.ca_cert_der
    }

    /// Hex SHA-256 of [`Self::ca_cert_pem`]'s bytes: the CA hash that k3s-style join tokens
    /// (`K10<hash>::...`) pin.
    pub fn ca_cert_hash(&self) -> String {
        hex::encode(Sha256::digest(self.ca_cert_pem.as_bytes()))
    }

    /// The API server's certificate chain (the leaf; clients already hold the CA).
    pub fn serving_cert_chain(&self) -> Vec<CertificateDer<'static>> {
        vec![self.serving_cert_der.clone()]
    }

    /// The API server's private key.
    pub fn serving_key(&self) -> PrivateKeyDer<'static> {
        self.serving_key_der.clone_key()
    }

    /// The admin client certificate (`system:admin`, group `system:masters`), PEM-encoded.
    pub fn admin_cert_pem(&self) -> &str {
        &self.admin_cert_pem
    }

    /// The admin client key, PEM-encoded (PKCS#8).
    pub fn admin_key_pem(&self) -> &str {
        &self.admin_key_pem
    }

    /// The CA's private key, PEM-encoded (PKCS#8): for signing certificate requests.
    pub fn ca_key_pem(&self) -> String {
        self.ca.key().serialize_pem()
    }

    /// The service-account token signing key, PEM-encoded (PKCS#8, ECDSA P-256, so ES256).
    pub fn service_account_key_pem(&self) -> &str {
        &self.service_key_pem
    }

    /// Issues a client certificate for user `cn` in `groups`, valid for `validity` from now.
    /// Returns `(certificate PEM, private key PEM)`; nothing is written to disk.
    pub fn issue_client_cert(
        &self,
        cn: &str,
        groups: &[&str],
        validity: Duration,
    ) -> Result<(String, String), PkiError> {
        let profile =
            LeafProfile::Client { cn: cn.to_owned(), groups: groups.iter().map(|g| (*g).to_owned()).collect() };
        let issued = issue::leaf(&profile, &self.ca, SystemTime::now(), validity)?;
        Ok((issued.cert_pem, issued.key_pem))
    }
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print key material.
        f.debug_struct("Pki").field("ca_cert_hash", &self.ca_cert_hash()).finish_non_exhaustive()
    }
}

/// Loads the CA, or creates it when neither of its files exists.
fn load_or_create_ca(dir: &Path, now: SystemTime) -> Result<(String, CertificateDer<'static>, KeyPair), PkiError> {
    let cert_path = dir.join(CA_CERT);
    let key_path = dir.join(CA_KEY);
    match (fsio::read_optional(&cert_path)?, fsio::read_optional(&key_path)?) {
        (Some(cert_pem), Some(key_pem)) => {
            let der = inspect::parse_cert_pem(&cert_path, &cert_pem)?;
            let key = inspect::parse_key_pem(&key_path, &key_pem)?;
            let cert = inspect::parse_x509(&cert_path, &der)?;
            if !inspect::is_ca(&cert) {
                return Err(PkiError::invalid(&cert_path, "not a CA certificate"));
            }
            if !inspect::key_matches(&cert, &key) {
                return Err(PkiError::invalid(&key_path, format!("does not match {}", cert_path.display())));
            }
            let left = inspect::seconds_left(&cert, now);
            if left < i64::try_from(CA_WARN_BEFORE.as_secs()).unwrap_or(i64::MAX) {
                tracing::warn!(
                    file = %cert_path.display(),
                    days_left = left / 86_400,
                    "the cluster CA expires soon and is not renewed automatically"
                );
            }
            Ok((cert_pem, der, key))
        }
        (None, None) => {
            let key = issue::new_key()?;
            let cn = format!("kolibri-server-ca@{}", issue::unix_seconds(now));
            let cert_pem = issue::self_signed_ca(&cn, &key, now)?;
            // Key first: a crash in between leaves a key without certificate, which the
            // next start reports instead of minting a second CA.
            fsio::write_atomic(&key_path, key.serialize_pem().as_bytes(), SECRET_MODE)?;
            fsio::write_atomic(&cert_path, cert_pem.as_bytes(), PUBLIC_MODE)?;
            tracing::info!(file = %cert_path.display(), %cn, "created cluster CA");
            let der = inspect::parse_cert_pem(&cert_path, &cert_pem)?;
            Ok((cert_pem, der, key))
        }
        (Some(_), None) => Err(PkiError::IncompleteCa { present: cert_path, missing: key_path }),
        (None, Some(_)) => Err(PkiError::IncompleteCa { present: key_path, missing: cert_path }),
    }
}

/// Loads a PKCS#8 key file, or creates it with a new key when it does not exist.
fn load_or_create_key(path: &Path) -> Result<String, PkiError> {
    if let Some(pem) = fsio::read_optional(path)? {
        inspect::parse_key_pem(path, &pem)?;
        return Ok(pem);
    }
    let pem = issue::new_key()?.serialize_pem();
    fsio::write_atomic(path, pem.as_bytes(), SECRET_MODE)?;
    tracing::info!(file = %path.display(), "created key");
    Ok(pem)
}

/// Loads or (re-)issues leaf certificates from one CA.
struct Leaves<'a> {
    dir: &'a Path,
    ca: &'a Issuer<'static, KeyPair>,
    ca_x509: &'a x509_parser::certificate::X509Certificate<'a>,
    now: SystemTime,
}

impl Leaves<'_> {
    /// Returns `(cert PEM, key PEM)` of `<stem>.crt/.key`, issuing them if needed.
    fn ensure(&self, stem: &str, profile: &LeafProfile) -> Result<(String, String), PkiError> {
        let cert_path = self.dir.join(format!("{stem}.crt"));
        let key_path = self.dir.join(format!("{stem}.key"));
        let cert = fsio::read_optional(&cert_path)?;
        let key = fsio::read_optional(&key_path)?;
        let reason = match (cert, key) {
            (Some(cert_pem), Some(key_pem)) => {
                let der = inspect::parse_cert_pem(&cert_path, &cert_pem)?;
                let cert = inspect::parse_x509(&cert_path, &der)?;
                let key = inspect::parse_key_pem(&key_path, &key_pem)?;
                match inspect::stale_reason(&cert, &key, self.ca_x509, profile, self.now) {
                    None => return Ok((cert_pem, key_pem)),
                    Some(reason) => reason,
                }
            }
            _ => "it does not exist".to_owned(),
        };
        tracing::info!(file = %cert_path.display(), %reason, "issuing certificate");
        let issued = issue::leaf(profile, self.ca, self.now, LEAF_VALIDITY)?;
        // Key first, then certificate: an interrupted pair no longer matches and is
        // re-issued on the next start.
        fsio::write_atomic(&key_path, issued.key_pem.as_bytes(), SECRET_MODE)?;
        fsio::write_atomic(&cert_path, issued.cert_pem.as_bytes(), PUBLIC_MODE)?;
        Ok((issued.cert_pem, issued.key_pem))
    }
}
