//! Admin kubeconfig files, in the shape k3s writes them.

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::fsio::{self, SECRET_MODE};
use crate::{Pki, PkiError};

/// A kubeconfig for `system:admin` at `server_url`, credentials embedded.
///
/// Like k3s, the cluster, user and context are all named `default`.
pub fn admin(server_url: &str, pki: &Pki) -> String {
    let ca = STANDARD.encode(pki.ca_cert_pem());
    let cert = STANDARD.encode(pki.admin_cert_pem());
    let key = STANDARD.encode(pki.admin_key_pem());
    let server = yaml_quote(server_url);
    format!(
        "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {server}
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {{}}
users:
- name: default
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
"
    )
}

/// Writes a kubeconfig to `path` atomically with mode 0600, creating parent directories.
pub fn write_kubeconfig(path: &Path, contents: &str) -> Result<(), PkiError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| PkiError::io(parent, e))?;
    }
    fsio::write_atomic(path, contents.as_bytes(), SECRET_MODE)
}

/// Quotes `s` as a YAML double-quoted scalar, so that any URL stays one string.
fn yaml_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
