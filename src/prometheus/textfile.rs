//! Writing the exposition to a file for node_exporter's textfile collector:
//! atomically (a temporary file in the same directory, then a rename), so
//! the collector never reads half a file.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// Replaces `path` with `text`, atomically.
pub fn write(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A name the collector ignores (it reads *.prom only) until the rename.
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let res = (|| -> std::io::Result<()> {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_data()?;
        std::fs::rename(&tmp, path)
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res.with_context(|| format!("cannot write the textfile {}", path.display()))
}
