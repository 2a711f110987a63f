//! Parsing existing credential files and deciding whether a leaf is still good (the read
//! side of the PKI).

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::Path;
use std::time::SystemTime;

use rcgen::KeyPair;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};

use crate::issue::{unix_seconds, LeafProfile, San, RENEW_BEFORE};
use crate::PkiError;

/// Returns the first certificate of a PEM file.
pub(crate) fn parse_cert_pem(path: &Path, pem: &str) -> Result<CertificateDer<'static>, PkiError> {
    let first = rustls_pemfile::certs(&mut pem.as_bytes()).next();
    let der = match first {
        Some(Ok(der)) => der,
        Some(Err(e)) => return Err(PkiError::invalid(path, format!("bad PEM: {e}"))),
        None => return Err(PkiError::invalid(path, "no CERTIFICATE block")),
    };
    // Parse once here so that later code can rely on the DER being a certificate.
    parse_x509(path, &der)?;
    Ok(der)
}

/// Parses DER into a certificate, naming `path` on failure.
pub(crate) fn parse_x509<'a>(path: &Path, der: &'a [u8]) -> Result<X509Certificate<'a>, PkiError> {
    x509_parser::parse_x509_certificate(der)
        .map(|(_, cert)| cert)
        .map_err(|e| PkiError::invalid(path, format!("bad certificate: {e}")))
}

/// Parses a PKCS#8 private key PEM file.
pub(crate) fn parse_key_pem(path: &Path, pem: &str) -> Result<KeyPair, PkiError> {
    let der: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut pem.as_bytes())
        .map_err(|e| PkiError::invalid(path, format!("bad PEM: {e}")))?
        .ok_or_else(|| PkiError::invalid(path, "no PRIVATE KEY block"))?;
    KeyPair::try_from(&der).map_err(|e| PkiError::invalid(path, format!("unsupported private key (want PKCS#8): {e}")))
}

/// Whether `key` is the private half of `cert`'s public key.
pub(crate) fn key_matches(cert: &X509Certificate<'_>, key: &KeyPair) -> bool {
    cert.public_key().subject_public_key.data.as_ref() == key.public_key_raw()
}

/// Whether a certificate is a CA (basicConstraints CA:TRUE).
pub(crate) fn is_ca(cert: &X509Certificate<'_>) -> bool {
    matches!(cert.basic_constraints(), Ok(Some(bc)) if bc.value.ca)
}

/// Seconds until `cert` expires, negative once it has.
pub(crate) fn seconds_left(cert: &X509Certificate<'_>, now: SystemTime) -> i64 {
    let now = i64::try_from(unix_seconds(now)).unwrap_or(i64::MAX);
    cert.validity().not_after.timestamp().saturating_sub(now)
}

/// Why an existing leaf must be re-issued, or `None` if it can be kept.
pub(crate) fn stale_reason(
    leaf: &X509Certificate<'_>,
    key: &KeyPair,
    ca: &X509Certificate<'_>,
    profile: &LeafProfile,
    now: SystemTime,
) -> Option<String> {
    if !key_matches(leaf, key) {
        return Some("the key does not match the certificate".into());
    }
    if !issued_by(leaf, ca) {
        return Some("it was issued by another CA".into());
    }
    let now_secs = i64::try_from(unix_seconds(now)).unwrap_or(i64::MAX);
    if leaf.validity().not_before.timestamp() > now_secs {
        return Some("it is not valid yet (did the clock move back?)".into());
    }
    let renew_before = i64::try_from(RENEW_BEFORE.as_secs()).unwrap_or(i64::MAX);
    if seconds_left(leaf, now) < renew_before {
        return Some(format!("it expires within {} days", RENEW_BEFORE.as_secs() / 86_400));
    }
    match profile {
        LeafProfile::Serving { cn, sans } => {
            if common_name(leaf).as_deref() != Some(cn.as_str()) {
                return Some("its common name changed".into());
            }
            let have = subject_alt_names(leaf);
            let missing: Vec<String> = sans
                .iter()
                .filter(|s| !have.contains(s))
                .map(|s| match s {
                    San::Ip(ip) => ip.to_string(),
                    San::Dns(d) => d.clone(),
                })
                .collect();
            if !missing.is_empty() {
                return Some(format!("it does not cover {}", missing.join(", ")));
            }
        }
        LeafProfile::Client { cn, groups } => {
            let orgs: Vec<String> =
                leaf.subject().iter_organization().filter_map(|o| o.as_str().ok().map(str::to_owned)).collect();
            if common_name(leaf).as_deref() != Some(cn.as_str()) || &orgs != groups {
                return Some("its subject changed".into());
            }
        }
    }
    None
}

/// The names and addresses a certificate is valid for.
pub(crate) fn subject_alt_names(cert: &X509Certificate<'_>) -> BTreeSet<San> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return BTreeSet::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(d) => Some(San::Dns(d.to_ascii_lowercase())),
            GeneralName::IPAddress(bytes) => ip_from_bytes(bytes).map(San::Ip),
            _ => None,
        })
        .collect()
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
        return Some(IpAddr::from(v4));
    }
    <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from)
}

fn common_name(cert: &X509Certificate<'_>) -> Option<String> {
    cert.subject().iter_common_name().next().and_then(|cn| cn.as_str().ok()).map(str::to_owned)
}

/// Whether `leaf` names `ca` as its issuer, by subject and, when both carry one, by key id.
fn issued_by(leaf: &X509Certificate<'_>, ca: &X509Certificate<'_>) -> bool {
    if leaf.issuer().as_raw() != ca.subject().as_raw() {
        return false;
    }
    let aki = leaf.extensions().iter().find_map(|e| match e.parsed_extension() {
        ParsedExtension::AuthorityKeyIdentifier(aki) => aki.key_identifier.as_ref().map(|k| k.0),
        _ => None,
    });
    let ski = ca.extensions().iter().find_map(|e| match e.parsed_extension() {
        ParsedExtension::SubjectKeyIdentifier(ski) => Some(ski.0),
        _ => None,
    });
    match (aki, ski) {
        (Some(aki), Some(ski)) => aki == ski,
        _ => true,
    }
}
