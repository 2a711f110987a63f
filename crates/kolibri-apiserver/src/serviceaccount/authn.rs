//! Authentication of a bearer token as a service account (upstream's service-account token
//! authenticator): the signature, lifetime, issuer and audience, then the account and the
//! object the token is bound to must still exist with the same uid.

use std::collections::BTreeMap;

use serde_json::Value;

use base64::Engine;

use super::legacy::LegacyClaims;
use super::Claims;
use crate::handlers::meta;
use crate::identity::UserInfo;
use crate::{encoding, ApiServer};

/// Why a token was refused; the client only learns 401.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AuthnError {
    #[error(transparent)]
    Token(#[from] super::TokenError),
    #[error("{0}")]
    Stale(String),
}

impl ApiServer {
    /// The service account a bearer token authenticates.
    pub(crate) async fn authenticate_token(&self, token: &str) -> Result<UserInfo, AuthnError> {
        if let Some(legacy) = self.tokens.verify_legacy(token) {
            return self.authenticate_legacy(token, legacy).await;
        }
        let audiences = vec![self.tokens.issuer().to_string()];
        let claims = self.tokens.verify(token, &audiences)?;
        let k = &claims.kubernetes;
        let sa_key = format!("/registry/core/serviceaccounts/{}/{}", k.namespace, k.serviceaccount.name);
        self.check_uid(&sa_key, &k.serviceaccount.uid, "service account").await?;
        if let Some(pod) = &k.pod {
            self.check_uid(&format!("/registry/core/pods/{}/{}", k.namespace, pod.name), &pod.uid, "pod").await?;
        }
        if let Some(secret) = &k.secret {
            self.check_uid(&format!("/registry/core/secrets/{}/{}", k.namespace, secret.name), &secret.uid, "secret")
                .await?;
        }
        Ok(user_of(&claims))
    }

    /// A legacy token is valid while its Secret holds it and its account exists.
    async fn authenticate_legacy(&self, token: &str, claims: LegacyClaims) -> Result<UserInfo, AuthnError> {
        let secret_key = format!("/registry/core/secrets/{}/{}", claims.namespace, claims.secret_name);
        let stale = || AuthnError::Stale(format!("the token Secret {secret_key} no longer holds the token"));
        let kv = self.store.get(&secret_key).await.map_err(|e| AuthnError::Stale(e.to_string()))?.ok_or_else(stale)?;
        let secret: Value = serde_json::from_slice(&kv.value).map_err(|_| stale())?;
        let stored = secret.pointer("/data/token").and_then(Value::as_str).unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD.decode(stored).unwrap_or_default();
        if decoded != token.as_bytes() || meta::is_deleting(&secret) {
            return Err(stale());
        }
        let sa_key = format!("/registry/core/serviceaccounts/{}/{}", claims.namespace, claims.account_name);
        self.check_uid(&sa_key, &claims.account_uid, "service account").await?;
        // Legacy tokens carry no token id, so no credential-id.
        Ok(UserInfo {
            name: claims.sub.clone(),
            uid: claims.account_uid.clone(),
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{}", claims.namespace),
                "system:authenticated".into(),
            ],
            extra: BTreeMap::new(),
        })
    }

    async fn check_uid(&self, key: &str, uid: &str, what: &str) -> Result<(), AuthnError> {
        let stale = || AuthnError::Stale(format!("the {what} of the token ({key}) no longer exists"));
        let kv = self.store.get(key).await.map_err(|e| AuthnError::Stale(e.to_string()))?.ok_or_else(stale)?;
        let obj: Value = encoding::decode_stored(&kv.value, kv.mod_revision).map_err(|_| stale())?;
        if meta::meta_str(&obj, "uid").unwrap_or_default() != uid || meta::is_deleting(&obj) {
            return Err(stale());
        }
        Ok(())
    }
}

/// The user upstream derives from a token's claims.
fn user_of(claims: &Claims) -> UserInfo {
    let k = &claims.kubernetes;
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    extra.insert("authentication.kubernetes.io/credential-id".into(), vec![format!("JTI={}", claims.jti)]);
    if let Some(pod) = &k.pod {
        extra.insert("authentication.kubernetes.io/pod-name".into(), vec![pod.name.clone()]);
        extra.insert("authentication.kubernetes.io/pod-uid".into(), vec![pod.uid.clone()]);
    }
    if let Some(node) = &k.node {
        extra.insert("authentication.kubernetes.io/node-name".into(), vec![node.name.clone()]);
        if !node.uid.is_empty() {
            extra.insert("authentication.kubernetes.io/node-uid".into(), vec![node.uid.clone()]);
        }
    }
    UserInfo {
        name: format!("system:serviceaccount:{}:{}", k.namespace, k.serviceaccount.name),
        uid: k.serviceaccount.uid.clone(),
        groups: vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{}", k.namespace),
            "system:authenticated".into(),
        ],
        extra,
    }
}
