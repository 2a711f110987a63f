//! Reading and atomically writing credential files.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::PkiError;

/// Mode of private keys and kubeconfigs: they grant cluster access.
pub(crate) const SECRET_MODE: u32 = 0o600;
/// Mode of certificates: public material.
pub(crate) const PUBLIC_MODE: u32 = 0o644;

/// Reads a UTF-8 file, `None` if it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, PkiError> {
    match fs::read(path) {
        Ok(bytes) => {
            String::from_utf8(bytes).map(Some).map_err(|_| PkiError::invalid(path, "not a PEM file (not UTF-8)"))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PkiError::io(path, e)),
    }
}

/// Creates `dir` (and parents) with mode 0700 if it is missing.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| PkiError::io(dir, e))
}

/// Replaces `path` with `contents` so that readers see either the old or the new file,
/// never a torn one: write a sibling temporary file, flush it, rename it over `path`.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| PkiError::invalid(path, "not a file path"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = dir.join(tmp_name);

    let result = (|| {
        let mut file = OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(&tmp)?;
        // The mode given to open() is filtered by the umask, and a stale temporary file
        // keeps its old mode: set it explicitly.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        // Best effort: the temporary file is garbage either way.
        let _ = fs::remove_file(&tmp);
        return Err(PkiError::io(path, e));
    }
    // Persist the rename itself; a failure here does not undo the write, so only log it.
    if let Err(e) = fs::File::open(dir).and_then(|d| d.sync_all()) {
        tracing::debug!(dir = %dir.display(), error = %e, "fsync of directory failed");
    }
    Ok(())
}
