//! kolibri's public key infrastructure: the cluster CA, the API server's serving
//! certificate, the admin client certificate, the service-account signing key and admin
//! kubeconfig files.
//!
//! Credentials live as PEM files in one directory (`<data-dir>/server/tls`). The first
//! start creates them (ECDSA P-256, a few milliseconds); later starts reuse them and
//! re-issue only leaves that are missing, near expiry or no longer cover the requested
//! names. See [`Pki::load_or_create`].

mod csr;
mod der;
mod error;
mod fsio;
mod host;
mod inspect;
mod issue;
pub mod kubeconfig;
mod pki;
mod tls;

pub use csr::{csr_subject, CsrSigner, CsrSubject};
pub use error::PkiError;
pub use pki::{Pki, PkiOptions};
