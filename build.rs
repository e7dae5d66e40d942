//! Names the git revision in `--version` when built from a checkout:
//! `leakwatch 0.1.0 (1a2b3c4d5e6f)`, with `-dirty` for uncommitted changes.

use std::path::Path;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let full = match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(rev) if !rev.is_empty() => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            format!("{version} ({rev}{})", if dirty { "-dirty" } else { "" })
        }
        _ => version,
    };
    println!("cargo:rustc-env=LEAKWATCH_VERSION={full}");
    println!("cargo:rerun-if-changed=build.rs");
    // In a worktree `.git` is a file: its HEAD and index are in its own git
    // directory, the branches in the repository's common one.
    let dir = git(&["rev-parse", "--git-dir"]).unwrap_or_else(|| ".git".into());
    let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or_else(|| dir.clone());
    let (dir, common) = (Path::new(&dir), Path::new(&common));
    for f in [
        dir.join("HEAD"),
        dir.join("index"),
        common.join("refs"),
        common.join("packed-refs"),
    ] {
        if f.exists() {
            println!("cargo:rerun-if-changed={}", f.display());
        }
    }
}
