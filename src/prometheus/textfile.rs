//! Writing the exposition to a file for node_exporter's textfile collector:
//! atomically (a temporary file in the same directory, then a rename), so
//! the collector never reads half a file. The temporary file has a name no
//! one can guess, created exclusively (`O_CREAT|O_EXCL`, which follows no
//! link), so a symlink or FIFO planted in a shared directory can neither
//! redirect the write nor block it; and a PATH that is there already must be
//! a regular file, never a device, FIFO, socket or directory.

use crate::units::quoted;
use anyhow::{Context, Result, bail};
use std::fs::Permissions;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;

/// The directory `path` is in.
fn dir_of(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// `path`, quoted for a message.
fn shown(path: &Path) -> String {
    quoted(&path.to_string_lossy())
}

/// Refuses, at start, a `path` that is there and is not a regular file (it
/// would be replaced by one), and one whose directory is not there.
pub fn check(path: &Path) -> Result<()> {
    let what = match std::fs::symlink_metadata(path) {
        Ok(m) => {
            let t = m.file_type();
            if t.is_file() {
                return Ok(());
            }
            if t.is_dir() {
                "a directory"
            } else if t.is_symlink() {
                "a symbolic link"
            } else if t.is_char_device() {
                "a character device"
            } else if t.is_block_device() {
                "a block device"
            } else if t.is_fifo() {
                "a FIFO"
            } else if t.is_socket() {
                "a socket"
            } else {
                "no regular file"
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = dir_of(path);
            if !dir.is_dir() {
                bail!(
                    "cannot write the textfile {}: no directory {}; give a path in the collector's directory",
                    shown(path),
                    shown(dir)
                );
            }
            return Ok(());
        }
        Err(e) => bail!("cannot write the textfile {}: {e}", shown(path)),
    };
    bail!(
        "the textfile {} is {what}, not a regular file: give the path of a *.prom file in the collector's directory (it is replaced each second)",
        shown(path)
    )
}

/// Replaces `path` with `text`, atomically, readable by the collector
/// (mode 0644 less the umask).
pub fn write(path: &Path, text: &str) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A name the collector ignores (it reads *.prom only) until the rename,
    // with random letters between.
    let res = (|| -> std::io::Result<()> {
        let mut tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".tmp")
            .permissions(Permissions::from_mode(0o644))
            .tempfile_in(dir_of(path))?;
        tmp.write_all(text.as_bytes())?;
        tmp.as_file().sync_data()?;
        // On failure the temporary file is removed as it is dropped.
        tmp.persist(path).map(|_| ()).map_err(|e| e.error)
    })();
    res.with_context(|| format!("cannot write the textfile {}", shown(path)))
}
