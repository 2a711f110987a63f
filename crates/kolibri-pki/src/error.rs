//! The crate's error type.

use std::io;
use std::path::PathBuf;

/// Why the PKI could not be loaded, created or used.
///
/// Every variant that concerns a file names it, so an operator knows which one to fix.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file or directory could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A file exists but does not hold what it should (bad PEM, wrong key type, ...).
    #[error("{}: {reason}", path.display())]
    InvalidFile {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// Only one half of the CA (certificate or key) exists. The CA is the root of trust of
    /// every issued credential, so it is never replaced behind the operator's back.
    #[error(
        "{} exists but {} is missing; restore the missing file, or remove both to create a new CA \
         (this invalidates every issued credential)",
        present.display(),
        missing.display()
    )]
    IncompleteCa {
        /// The half that exists.
        present: PathBuf,
        /// The half that does not.
        missing: PathBuf,
    },

    /// A requested subject alternative name is neither an IP address nor a valid DNS name.
    #[error("invalid subject alternative name {0:?}")]
    InvalidSan(String),

    /// Generating a key or signing a certificate failed.
    #[error("certificate generation: {0}")]
    Generate(#[from] rcgen::Error),

    /// The TLS configuration could not be built from the credentials.
    /// A certificate signing request that cannot be signed.
    #[error("{0}")]
    Csr(String),

    #[error("TLS configuration: {0}")]
    Tls(String),
}

impl PkiError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io { path: path.into(), source }
    }

    pub(crate) fn invalid(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::InvalidFile { path: path.into(), reason: reason.into() }
    }
}
