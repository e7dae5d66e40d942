//! Finding the cgroups a scan watches: every leaf cgroup below the root
//! that holds processes, walked again each tick.

use crate::cgroup::{CgroupFiles, Hierarchy};
use anyhow::Result;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A cgroup that joins the scan.
pub struct NewCgroup {
    /// Its directory.
    pub dir: PathBuf,
    /// Its path inside the hierarchy.
    pub name: String,
    /// Its memory files, open.
    pub files: CgroupFiles,
    /// Its lowest PID, and that process's command line.
    pub pid: u32,
    /// The command line of that process.
    pub command: String,
    /// Its memory limit (the smallest on its path), bytes, and the file it is in.
    pub limit: Option<(f64, &'static str)>,
}

/// Finds cgroups that came to hold processes since the last tick.
pub struct Finder {
    h: Hierarchy,
    root: PathBuf,
    known: HashSet<PathBuf>,
}

impl Finder {
    /// A finder of the leaf cgroups below `root` (`None`: the hierarchy's root).
    pub fn new(root: Option<&Path>) -> Result<Finder> {
        let (h, root) = super::cgroup_root(root)?;
        Ok(Finder {
            h,
            root,
            known: HashSet::new(),
        })
    }

    /// The directory walked.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The leaf cgroups holding processes now that were not watched before.
    pub fn find(&mut self) -> Vec<NewCgroup> {
        let mut out = Vec::new();
        for dir in self.h.leaves(&self.root) {
            if self.known.contains(&dir) {
                continue;
            }
            let Ok(files) = CgroupFiles::open(&dir, self.h.version) else {
                continue;
            };
            let Some((pid, command)) = super::cgroup_pid(&dir) else {
                continue;
            };
            self.known.insert(dir.clone());
            out.push(NewCgroup {
                name: self.h.name(&dir),
                limit: self.h.limit(&dir).map(|l| (l, self.h.version.limit_file())),
                files,
                pid,
                command,
                dir,
            });
        }
        out
    }

    /// A cgroup emptied or went away: if it holds processes again, it is new.
    pub fn forget(&mut self, dir: &Path) {
        self.known.remove(dir);
    }
}
