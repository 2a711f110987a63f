//! Generating keys and signing certificates (the write side of the PKI).

use std::net::IpAddr;
use std::time::{Duration, SystemTime};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType, PKCS_ECDSA_P256_SHA256,
};
use time::OffsetDateTime;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::{der, PkiError};

const DAY: Duration = Duration::from_secs(24 * 60 * 60);
/// Lifetime of the CA (k3s: 10 years).
pub(crate) const CA_VALIDITY: Duration = Duration::from_secs(3650 * DAY.as_secs());
/// Lifetime of leaf certificates (k3s: 365 days).
pub(crate) const LEAF_VALIDITY: Duration = Duration::from_secs(365 * DAY.as_secs());
/// Certificates start being valid a little in the past so that hosts whose clocks lag
/// behind the server's accept them right away (kubeadm backdates by the same amount).
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// A subject alternative name, normalised so that requested and issued names compare.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum San {
    Ip(IpAddr),
    Dns(String),
}

impl San {
    /// Parses a `--tls-san` style value: an IP address or a DNS name.
    pub(crate) fn parse(s: &str) -> Result<Self, PkiError> {
        let s = s.trim();
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        let valid = !s.is_empty()
            && s.len() <= 253
            && s.split('.').enumerate().all(|(i, label)| {
                // A leading "*" label makes a wildcard name.
                (i == 0 && label == "*")
                    || (!label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            });
        if valid {
            Ok(Self::Dns(s.to_ascii_lowercase()))
        } else {
            Err(PkiError::InvalidSan(s.to_owned()))
        }
    }

    fn to_rcgen(&self) -> Result<SanType, PkiError> {
        Ok(match self {
            Self::Ip(ip) => SanType::IpAddress(*ip),
            Self::Dns(name) => {
                SanType::DnsName(name.clone().try_into().map_err(|_| PkiError::InvalidSan(name.clone()))?)
            }
        })
    }
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LeafProfile {
    /// A TLS server certificate for these names.
    Serving { cn: String, sans: Vec<San> },
    /// A TLS client certificate; Kubernetes reads the user from the CN and groups from O.
    Client { cn: String, groups: Vec<String> },
}

/// A freshly issued certificate and its key, both PEM-encoded.
pub(crate) struct Issued {
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

/// Generates an ECDSA P-256 key: fast to create (microseconds) and accepted everywhere.
pub(crate) fn new_key() -> Result<KeyPair, PkiError> {
    Ok(KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?)
}

/// Creates a self-signed CA certificate for `key`.
pub(crate) fn self_signed_ca(cn: &str, key: &KeyPair, now: SystemTime) -> Result<String, PkiError> {
    let mut params = CertificateParams::default();
    params.distinguished_name = name(cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    set_validity(&mut params, now, CA_VALIDITY);
    Ok(params.self_signed(key)?.pem())
}

/// Issues a leaf certificate with a new key, signed by `ca`.
pub(crate) fn leaf(
    profile: &LeafProfile,
    ca: &Issuer<'_, KeyPair>,
    now: SystemTime,
    validity: Duration,
) -> Result<Issued, PkiError> {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    match profile {
        LeafProfile::Serving { cn, sans } => {
            params.distinguished_name = name(cn);
            params.subject_alt_names = sans.iter().map(San::to_rcgen).collect::<Result<_, _>>()?;
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        }
        LeafProfile::Client { cn, .. } => {
            params.distinguished_name = name(cn);
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        }
    }
    set_validity(&mut params, now, validity);
    let key = new_key()?;
    let cert = params.signed_by(&key, ca)?;
    let der = match profile {
        // Groups are O attributes, which rcgen can hold only one of: set the subject
        // afterwards (one code path for any number of groups, so it is always exercised).
        LeafProfile::Client { cn, groups } => der::with_subject(cert.der(), &der::name(cn, groups), ca.key())?,
        LeafProfile::Serving { .. } => cert.der().to_vec(),
    };
    Ok(Issued { cert_pem: pem("CERTIFICATE", &der), key_pem: key.serialize_pem() })
}

/// PEM-encodes `der` with the usual 64-column lines.
pub(crate) fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

fn name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn set_validity(params: &mut CertificateParams, now: SystemTime, validity: Duration) {
    let now = OffsetDateTime::from(now);
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
}

/// Seconds since the Unix epoch, for the CA's name (`kolibri-server-ca@<unix time>`).
pub(crate) fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// How long before expiry a leaf is re-issued (k3s uses 120 days; 90 leaves 9 months of use).
pub(crate) const RENEW_BEFORE: Duration = Duration::from_secs(90 * DAY.as_secs());
