//! Legacy service-account token Secrets (`type: kubernetes.io/service-account-token`),
//! which users still create on request: the server fills `token`, `ca.crt` and `namespace`
//! and records the account's uid, as upstream's tokens controller does. Their tokens never
//! expire and stay valid while the Secret and the account exist.

use std::sync::Arc;

use base64::Engine;
use kolibri_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Tokens;
use crate::handlers::meta;
use crate::{encoding, ApiServer};

const PREFIX: &str = "/registry/core/secrets/";
const TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
const NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
const UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";
/// `iss` of legacy tokens.
pub(crate) const LEGACY_ISSUER: &str = "kubernetes/serviceaccount";

/// Upstream's legacy claims.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct LegacyClaims {
    pub iss: String,
    #[serde(rename = "kubernetes.io/serviceaccount/namespace")]
    pub namespace: String,
    #[serde(rename = "kubernetes.io/serviceaccount/secret.name")]
    pub secret_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.name")]
    pub account_name: String,
    #[serde(rename = "kubernetes.io/serviceaccount/service-account.uid")]
    pub account_uid: String,
    pub sub: String,
}

impl Tokens {
    fn sign_legacy(&self, claims: &LegacyClaims) -> Option<String> {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(self.key_id.clone());
        header.typ = None;
        jsonwebtoken::encode(&header, claims, &self.encoding).ok()
    }

    /// The claims of a legacy token this cluster signed (they carry no expiry).
    pub(crate) fn verify_legacy(&self, token: &str) -> Option<LegacyClaims> {
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_issuer(&[LEGACY_ISSUER]);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        jsonwebtoken::decode::<LegacyClaims>(token, &self.decoding, &validation).ok().map(|d| d.claims)
    }
}

impl ApiServer {
    /// Fills the token Secrets that are stored, then those written later.
    pub(crate) async fn start_legacy_tokens(self: &Arc<Self>) -> Result<(), StoreError> {
        self.follow(PREFIX, |server, key, value| async move {
            if value.is_some_and(|v| is_unfilled_token_secret(&v)) {
                server.fill_token_secret(&key).await;
            }
        })
        .await
    }

    async fn fill_token_secret(&self, key: &str) {
        let Ok(Some(kv)) = self.store.get(key).await else { return };
        if !is_unfilled_token_secret(&kv.value) {
            return;
        }
        let Ok(mut secret) = encoding::decode_stored(&kv.value, kv.mod_revision) else { return };
        let namespace = meta::meta_str(&secret, "namespace").unwrap_or_default().to_string();
        let name = meta::name(&secret).to_string();
        let account = secret
            .pointer(&format!("/metadata/annotations/{}", NAME_ANNOTATION.replace('/', "~1")))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let sa_key = format!("/registry/core/serviceaccounts/{namespace}/{account}");
        let Ok(Some(sa_kv)) = self.store.get(&sa_key).await else {
            // Upstream fills it once the account exists; the account's creation does not
            // come back here, so a later write of the Secret does.
            tracing::info!(secret = %name, namespace = %namespace, account = %account, "token Secret waits for its service account");
            return;
        };
        let Ok(sa) = encoding::decode_stored(&sa_kv.value, sa_kv.mod_revision) else { return };
        let uid = meta::meta_str(&sa, "uid").unwrap_or_default().to_string();
        let claims = LegacyClaims {
            iss: LEGACY_ISSUER.into(),
            namespace: namespace.clone(),
            secret_name: name.clone(),
            account_name: account.clone(),
            account_uid: uid.clone(),
            sub: format!("system:serviceaccount:{namespace}:{account}"),
        };
        let Some(token) = self.tokens.sign_legacy(&claims) else { return };
        let b64 = base64::engine::general_purpose::STANDARD;
        let data = secret["data"].as_object().cloned().unwrap_or_default();
        let mut data = Value::Object(data);
        data["token"] = json!(b64.encode(token));
        data["namespace"] = json!(b64.encode(&namespace));
        if let Some(ca) = &self.config.cluster_ca_pem {
            data["ca.crt"] = json!(b64.encode(ca));
        }
        secret["data"] = data;
        let m = meta::metadata_mut(&mut secret);
        m.remove("resourceVersion");
        if let Some(annotations) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.insert(UID_ANNOTATION.into(), json!(uid));
        }
        // A concurrent write of the Secret comes back through the watch.
        let _ = self.store.update(key, encoding::to_stored(&secret), kv.mod_revision).await;
    }
}

fn is_unfilled_token_secret(stored: &[u8]) -> bool {
    let Ok(secret) = serde_json::from_slice::<Value>(stored) else { return false };
    secret.get("type").and_then(Value::as_str) == Some(TOKEN_TYPE)
        && secret.pointer("/data/token").is_none()
        && !meta::is_deleting(&secret)
}
