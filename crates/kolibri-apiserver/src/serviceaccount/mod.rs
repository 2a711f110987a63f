//! Service-account tokens: signed JWTs (ES256 with the cluster's service-account key) issued
//! through the TokenRequest API, authenticated on every request that carries one, and
//! published for outside verifiers at `/.well-known/openid-configuration` and
//! `/openid/v1/jwks`. The admission that gives pods their `kube-api-access-*` volume is in
//! `admission/service_account.rs`.

mod authn;
mod legacy;
pub(crate) mod request;
mod token;

pub(crate) use token::{Claims, TokenError};

use base64::Engine;
use sha2::{Digest, Sha256};

/// The issuer and audience of tokens, as k3s sets them.
pub const DEFAULT_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Why the token keys could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("service-account key: {0}")]
    Key(String),
}

/// Signs and verifies service-account tokens.
pub struct Tokens {
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
    /// `kid` of every token: base64url(SHA-256(SubjectPublicKeyInfo DER)), as upstream.
    key_id: String,
    /// The public point's coordinates, base64url, for the JWKS.
    x: String,
    y: String,
    issuer: String,
}

impl Tokens {
    /// Keys from a PEM (PKCS#8) ECDSA P-256 private key, or a new key when `None`
    /// (tokens then do not survive a restart).
    pub fn new(key_pem: Option<&str>, issuer: &str) -> Result<Tokens, KeyError> {
        let key = match key_pem {
            Some(pem) => rcgen::KeyPair::from_pem(pem).map_err(|e| KeyError::Key(e.to_string()))?,
            None => rcgen::KeyPair::generate().map_err(|e| KeyError::Key(e.to_string()))?,
        };
        let spki = rcgen::PublicKeyData::subject_public_key_info(&key);
        // An uncompressed P-256 point closes the SubjectPublicKeyInfo: 0x04 ‖ X ‖ Y.
        if spki.len() < 65 || spki[spki.len() - 65] != 4 {
            return Err(KeyError::Key("not an ECDSA P-256 key".into()));
        }
        let point = &spki[spki.len() - 65..];
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let encoding = jsonwebtoken::EncodingKey::from_ec_der(&key.serialize_der());
        let decoding = jsonwebtoken::DecodingKey::from_ec_der(point);
        Ok(Tokens {
            encoding,
            decoding,
            key_id: b64.encode(Sha256::digest(&spki)),
            x: b64.encode(&point[1..33]),
            y: b64.encode(&point[33..]),
            issuer: issuer.to_string(),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// `/.well-known/openid-configuration`.
    pub fn openid_configuration(&self, jwks_uri: &str) -> serde_json::Value {
        serde_json::json!({
            "issuer": self.issuer,
            "jwks_uri": jwks_uri,
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }

    /// `/openid/v1/jwks`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "use": "sig", "kty": "EC", "kid": self.key_id, "crv": "P-256", "alg": "ES256",
                "x": self.x, "y": self.y,
            }],
        })
    }
}
