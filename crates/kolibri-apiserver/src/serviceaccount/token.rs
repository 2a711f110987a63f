//! The JWT of a service-account token: upstream's claims (`pkg/serviceaccount/claims.go`),
//! signed with ES256.

use serde::{Deserialize, Serialize};

use super::Tokens;

/// An object a token is bound to (`kubernetes.io.pod`, `.secret`, `.node`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Ref {
    pub name: String,
    pub uid: String,
}

/// The `kubernetes.io` claim.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Private {
    pub namespace: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<Ref>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<Ref>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Ref>,
    pub serviceaccount: Ref,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnafter: Option<i64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct Claims {
    pub aud: Vec<String>,
    pub exp: i64,
    pub iat: i64,
    pub iss: String,
    pub jti: String,
    #[serde(rename = "kubernetes.io")]
    pub kubernetes: Private,
    pub nbf: i64,
    pub sub: String,
}

/// Why a bearer token was not accepted (the client gets 401 either way).
#[derive(Debug, thiserror::Error)]
pub(crate) enum TokenError {
    #[error("invalid bearer token: {0}")]
    Invalid(String),
}

impl Tokens {
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        header.typ = None;
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(|e| TokenError::Invalid(e.to_string()))
    }

    /// The claims of a token this cluster signed, still valid, for one of `audiences`.
    pub(crate) fn verify(&self, token: &str, audiences: &[String]) -> Result<Claims, TokenError> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(audiences);
        validation.validate_nbf = true;
        validation.leeway = 60;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|d| d.claims)
            .map_err(|e| TokenError::Invalid(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp_in: i64) -> Claims {
        let now = chrono::Utc::now().timestamp();
        Claims {
            aud: vec![super::super::DEFAULT_ISSUER.into()],
            exp: now + exp_in,
            iat: now,
            iss: super::super::DEFAULT_ISSUER.into(),
            jti: "id".into(),
            kubernetes: Private {
                namespace: "default".into(),
                serviceaccount: Ref { name: "default".into(), uid: "u1".into() },
                ..Default::default()
            },
            nbf: now,
            sub: "system:serviceaccount:default:default".into(),
        }
    }

    #[test]
    fn tokens_round_trip_and_expire() {
        let tokens = Tokens::new(None, super::super::DEFAULT_ISSUER).unwrap();
        let aud = vec![super::super::DEFAULT_ISSUER.to_string()];
        let jwt = tokens.sign(&claims(600)).unwrap();
        assert_eq!(tokens.verify(&jwt, &aud).unwrap(), claims_of(&jwt));
        assert!(tokens.verify(&tokens.sign(&claims(-3600)).unwrap(), &aud).is_err());
        assert!(tokens.verify(&jwt, &["other".into()]).is_err());
        let other = Tokens::new(None, super::super::DEFAULT_ISSUER).unwrap();
        assert!(other.verify(&jwt, &aud).is_err());
        let jwks = tokens.jwks();
        assert_eq!(jwks["keys"][0]["kid"].as_str().map(str::len), Some(43));
    }

    fn claims_of(jwt: &str) -> Claims {
        use base64::Engine;
        let payload = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }
}
