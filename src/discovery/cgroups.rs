//! Every leaf cgroup below a root that holds processes (a container, a
//! service), found by walking the cgroupfs again each tick.

use super::{Discovery, Label, Limit, LimitSource, NewTarget};
use crate::sampler::cgroup::CgroupSampler;
use crate::sys::cgroupfs::{self, CgroupError, Hierarchy};
use crate::sys::procfs::ProcFs;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Finds cgroups that came to hold processes since the last tick.
pub struct Cgroups {
    fs: ProcFs,
    h: Hierarchy,
    root: PathBuf,
    /// The cgroups watched, by name.
    known: HashSet<String>,
    scope: String,
}

impl Cgroups {
    /// A finder of the leaf cgroups of `h` below `root` (`None`: the
    /// hierarchy's root); `fs` gives their processes' command lines.
    pub fn new(fs: ProcFs, h: Hierarchy, root: Option<&Path>) -> Result<Cgroups, CgroupError> {
        let root = match root {
            Some(r) => h.resolve(r)?,
            None => h.root.clone(),
        };
        Ok(Cgroups {
            scope: format!("cgroups below {}", root.display()),
            fs,
            h,
            root,
            known: HashSet::new(),
        })
    }
}

/// The label of the cgroup at `dir`: its lowest PID and that process's
/// command line; `None` when it holds no process.
pub fn label(fs: &ProcFs, h: &Hierarchy, dir: &Path) -> Option<Label> {
    let pid = *cgroupfs::procs(dir).iter().min()?;
    let name = h.name(dir);
    Some(Label {
        pid,
        command: fs.cmdline(pid, super::MAX_CMDLINE).unwrap_or_default(),
        cgroup: Some(name.clone()),
        name,
    })
}

/// The memory limit of the cgroup at `dir` (the smallest on its path).
pub fn limit(h: &Hierarchy, dir: &Path) -> Option<Limit> {
    h.limit(dir).map(|bytes| Limit {
        bytes,
        source: LimitSource::Cgroup(h.version.limit_file()),
    })
}

impl Discovery for Cgroups {
    fn discover(&mut self, _t: f64) -> Vec<NewTarget> {
        let mut out = Vec::new();
        for dir in self.h.leaves(&self.root) {
            let name = self.h.name(&dir);
            if self.known.contains(&name) {
                continue;
            }
            let Ok(sampler) = CgroupSampler::open(&self.h, &dir) else {
                continue;
            };
            let Some(mut label) = label(&self.fs, &self.h, &dir) else {
                continue;
            };
            label.pid = sampler.pid();
            self.known.insert(name);
            out.push(NewTarget {
                sampler: Box::new(sampler),
                limit: limit(&self.h, &dir),
                label,
                first: None,
                origin: None,
            });
        }
        out
    }

    fn forget(&mut self, label: &Label, _held: u64) {
        if let Some(c) = &label.cgroup {
            self.known.remove(c);
        }
    }

    fn open_ended(&self) -> bool {
        true
    }

    fn scope(&self) -> &str {
        &self.scope
    }
}
