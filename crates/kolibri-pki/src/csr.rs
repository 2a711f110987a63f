//! Signing CertificateSigningRequests with the cluster CA (what upstream's
//! kube-controller-manager does for the `kubernetes.io/kube-apiserver-client*` signers).
//! The certificate keeps the request's subject byte for byte (every O attribute is a
//! group) and its subject alternative names; the usages and lifetime come from the API
//! object, not from the request.

use std::time::{Duration, SystemTime};

use rcgen::{CertificateSigningRequestParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use time::OffsetDateTime;
use x509_parser::prelude::FromDer;

use crate::{der, issue, PkiError};

/// Certificates start being valid a little in the past, for clocks that lag.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// The subject of a parsed certificate signing request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrSubject {
    pub common_name: String,
    pub organizations: Vec<String>,
    /// Whether the request asks for any DNS, IP, email or URI name.
    pub has_alt_names: bool,
}

/// Parses the PEM `CERTIFICATE REQUEST` (its signature is checked when it is signed).
pub fn csr_subject(csr_pem: &str) -> Result<CsrSubject, PkiError> {
    let der = csr_der(csr_pem)?;
    let (_, csr) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
        .map_err(|e| PkiError::Csr(format!("PEM block type must be CERTIFICATE REQUEST: {e}")))?;
    let subject = &csr.certification_request_info.subject;
    let text = |a: &x509_parser::x509::AttributeTypeAndValue<'_>| a.as_str().ok().map(str::to_string);
    let has_alt_names = csr.requested_extensions().into_iter().flatten().any(|e| {
        matches!(e, x509_parser::extensions::ParsedExtension::SubjectAlternativeName(san) if !san.general_names.is_empty())
    });
    let common_name = subject.iter_common_name().next().and_then(text).unwrap_or_default();
    let organizations = subject.iter_organization().filter_map(text).collect();
    Ok(CsrSubject { common_name, organizations, has_alt_names })
}

fn csr_der(csr_pem: &str) -> Result<Vec<u8>, PkiError> {
    let (_, pem) = x509_parser::pem::parse_x509_pem(csr_pem.as_bytes())
        .map_err(|_| PkiError::Csr("PEM block type must be CERTIFICATE REQUEST".into()))?;
    if pem.label != "CERTIFICATE REQUEST" && pem.label != "NEW CERTIFICATE REQUEST" {
        return Err(PkiError::Csr("PEM block type must be CERTIFICATE REQUEST".into()));
    }
    Ok(pem.contents)
}

/// Signs requests with one CA.
pub struct CsrSigner {
    ca: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for CsrSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsrSigner").finish_non_exhaustive()
    }
}

impl CsrSigner {
    /// A signer from the CA's certificate and PKCS#8 key, both PEM.
    pub fn new(ca_cert_pem: &str, ca_key_pem: &str) -> Result<Self, PkiError> {
        let key = KeyPair::from_pem(ca_key_pem).map_err(|e| PkiError::Csr(format!("unusable CA key: {e}")))?;
        let ca = Issuer::from_ca_cert_pem(ca_cert_pem, key)
            .map_err(|e| PkiError::Csr(format!("unusable CA certificate: {e}")))?;
        Ok(Self { ca })
    }

    /// Signs `csr_pem` for `usages` (the API's names: `client auth`, `digital signature`,
    /// ...), valid for `validity` from now. Returns the certificate, PEM-encoded.
    pub fn sign(&self, csr_pem: &str, usages: &[String], validity: Duration) -> Result<String, PkiError> {
        let der = csr_der(csr_pem)?;
        let mut csr = CertificateSigningRequestParams::from_der(&der.as_slice().into())
            .map_err(|e| PkiError::Csr(format!("unable to parse the request: {e}")))?;
        let params = &mut csr.params;
        params.is_ca = IsCa::ExplicitNoCa;
        params.use_authority_key_identifier_extension = true;
        params.key_usages.clear();
        params.extended_key_usages.clear();
        for usage in usages {
            match usage.as_str() {
                "digital signature" => params.key_usages.push(KeyUsagePurpose::DigitalSignature),
                "content commitment" => params.key_usages.push(KeyUsagePurpose::ContentCommitment),
                "key encipherment" => params.key_usages.push(KeyUsagePurpose::KeyEncipherment),
                "key agreement" => params.key_usages.push(KeyUsagePurpose::KeyAgreement),
                "data encipherment" => params.key_usages.push(KeyUsagePurpose::DataEncipherment),
                "cert sign" => params.key_usages.push(KeyUsagePurpose::KeyCertSign),
                "crl sign" => params.key_usages.push(KeyUsagePurpose::CrlSign),
                "client auth" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::ClientAuth),
                "server auth" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::ServerAuth),
                "code signing" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::CodeSigning),
                "email protection" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::EmailProtection),
                "timestamping" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::TimeStamping),
                "ocsp signing" => params.extended_key_usages.push(ExtendedKeyUsagePurpose::OcspSigning),
                other => return Err(PkiError::Csr(format!("unsupported key usage: {other}"))),
            }
        }
        let now = OffsetDateTime::from(SystemTime::now());
        params.not_before = now - BACKDATE;
        params.not_after = now + validity;
        let cert = csr.signed_by(&self.ca)?;
        // The request's subject as it was sent: rcgen keeps one value per attribute type.
        let (_, request) = x509_parser::certification_request::X509CertificationRequest::from_der(&der)
            .map_err(|e| PkiError::Csr(format!("unable to parse the request: {e}")))?;
        let subject = request.certification_request_info.subject.as_raw();
        let signed = der::with_subject(cert.der(), subject, self.ca.key())?;
        Ok(issue::pem("CERTIFICATE", &signed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{CertificateParams, DnType};

    #[test]
    fn signed_certificates_keep_the_subject_and_the_asked_lifetime() {
        let ca_key = issue::new_key().expect("key");
        let ca_pem = issue::self_signed_ca("test-ca", &ca_key, SystemTime::now()).expect("ca");
        let signer = CsrSigner::new(&ca_pem, &ca_key.serialize_pem()).expect("signer");

        let key = issue::new_key().expect("key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name.push(DnType::CommonName, "alice");
        let request = params.serialize_request(&key).expect("csr").pem().expect("pem");
        let pem = signer.sign(&request, &["client auth".to_string()], Duration::from_secs(3600)).expect("sign");
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).expect("pem");
        let cert = block.parse_x509().expect("x509");
        assert_eq!(cert.subject().iter_common_name().next().and_then(|c| c.as_str().ok()), Some("alice"));
        let lifetime = cert.validity().not_after.timestamp() - cert.validity().not_before.timestamp();
        assert_eq!(lifetime, 3600 + BACKDATE.as_secs() as i64);
        let eku = cert.extended_key_usage().expect("eku").expect("present");
        assert!(eku.value.client_auth && !eku.value.server_auth);

        assert_eq!(
            csr_subject(&request).expect("subject"),
            CsrSubject { common_name: "alice".into(), organizations: vec![], has_alt_names: false }
        );
        let bad = signer.sign(&request, &["teleport".to_string()], Duration::from_secs(600));
        assert_eq!(bad.expect_err("unknown usage").to_string(), "unsupported key usage: teleport");
        assert!(csr_subject("not a pem").is_err());
    }
}
