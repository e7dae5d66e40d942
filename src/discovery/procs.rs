//! Every process of the host (or those selected), found by one listing of
//! the procfs a tick: a process seen for the first time is read once
//! (`stat`, `cmdline`, its first sample) and either joins or is set aside
//! for as long as it lives.

use super::{Discovery, Label, NewTarget, self_and_ancestors};
use crate::metrics::Metric;
use crate::sampler::Sampled;
use crate::sampler::process::FilesSampler;
use crate::sys::files::FdBudget;
use crate::sys::procfs::{ProcError, ProcFiles, ProcFs, Stat, page_size};
use std::collections::{HashMap, HashSet};

/// Which processes a scan watches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcSelect {
    /// Those whose name or command line contains this.
    pub name: Option<String>,
    /// Those of this user ID.
    pub uid: Option<u32>,
    /// Those descended from this process.
    pub children_of: Option<u32>,
}

/// The longest command line kept for a report, in characters (a JVM's
/// main class may come after kilobytes of flags).
const MAX_SHOWN: usize = 16 * 1024;

/// Finds new processes, one listing a tick.
pub struct Procs {
    fs: ProcFs,
    select: ProcSelect,
    metrics: Vec<Metric>,
    budget: FdBudget,
    /// PID → the listing it was last seen in.
    known: HashMap<u32, u64>,
    /// The process and its descendants, for `children_of`.
    tree: HashSet<u32>,
    /// This process and, with a name, its ancestors: never targets.
    exclude: Vec<u32>,
    listing: u64,
    /// The PIDs listed this tick, and the buffers for listing and reading.
    pids: Vec<u32>,
    dirbuf: Vec<u8>,
    buf: Vec<u8>,
    page: u64,
    /// The last PID given out at the last listing.
    last_pid: Option<u32>,
    /// New processes that still had their parent's command line (forked,
    /// not yet exec'd): looked at again at the next listing; with the time
    /// they were first listed, which their own time counts from.
    pending: HashMap<u32, f64>,
    /// Targets read by open/read/close for want of descriptors.
    unkept: u64,
    /// Processes skipped because this user may not read a file they need:
    /// how many, and the last such file with the metric that needs it.
    denied: u64,
    denied_file: Option<(String, Option<Metric>)>,
    scope: String,
}

impl Procs {
    /// A finder of the processes of `fs` that `select` names, opened for `metrics`.
    pub fn new(fs: ProcFs, select: ProcSelect, metrics: &[Metric], budget: FdBudget) -> Procs {
        let exclude = if select.name.is_some() {
            self_and_ancestors(&fs)
        } else {
            vec![std::process::id()]
        };
        Procs {
            tree: select.children_of.into_iter().collect(),
            fs,
            select,
            metrics: metrics.to_vec(),
            budget,
            known: HashMap::new(),
            exclude,
            listing: 0,
            pids: Vec::new(),
            dirbuf: vec![0; 64 * 1024],
            buf: vec![0; 4096],
            page: page_size(),
            last_pid: None,
            pending: HashMap::new(),
            unkept: 0,
            denied: 0,
            denied_file: None,
            scope: "processes".into(),
        }
    }

    /// The PIDs listed now that were not listed before, with their `stat`
    /// when something needs it (the parent for children_of, the name, the
    /// start time for smaps_rollup).
    fn list_new(&mut self) -> Vec<(u32, Option<Stat>)> {
        self.listing += 1;
        let listing = self.listing;
        self.fs.list_pids(&mut self.dirbuf, &mut self.pids);
        let need_stat = self.select.children_of.is_some()
            || self.select.name.is_some()
            || self
                .metrics
                .iter()
                .any(|m| matches!(m, Metric::Pss | Metric::Uss | Metric::Swap));
        let mut fresh = Vec::new();
        for &pid in &self.pids {
            if self.known.insert(pid, listing).is_none() {
                if !need_stat {
                    fresh.push((pid, None));
                } else if let Some(st) = self.fs.stat(pid) {
                    fresh.push((pid, Some(st)));
                }
            }
        }
        // A PID no longer listed is gone: if it comes back, it is new.
        self.known.retain(|_, seen| *seen == listing);
        // A tree member gone is no parent of anything new.
        let known = &self.known;
        self.tree.retain(|p| known.contains_key(p));
        let listed = &self.pids;
        self.pending.retain(|p, _| listed.contains(p));
        fresh
    }

    /// Adds the new descendants of the `children_of` process to the tree
    /// (a child may be listed before its parent).
    fn grow_tree(&mut self, fresh: &[(u32, Option<Stat>)]) {
        if self.select.children_of.is_none() {
            return;
        }
        loop {
            let before = self.tree.len();
            for (pid, st) in fresh {
                if st.as_ref().is_some_and(|s| self.tree.contains(&s.ppid)) {
                    self.tree.insert(*pid);
                }
            }
            if self.tree.len() == before {
                break;
            }
        }
    }

    /// Whether a new process is one to watch (the name is checked later,
    /// against its command line).
    fn wanted(&self, pid: u32, st: Option<&Stat>) -> bool {
        if st.is_some_and(|s| s.kernel) || self.exclude.contains(&pid) {
            return false;
        }
        if let Some(root) = self.select.children_of
            && (pid == root || !self.tree.contains(&pid))
        {
            return false;
        }
        if let Some(uid) = self.select.uid
            && self.fs.uid(pid) != Some(uid)
        {
            return false;
        }
        true
    }

    /// Opens a new process `pid`, listed at `t`, and takes its first
    /// reading; `None` when it is not to join (yet).
    fn open(&mut self, pid: u32, st: Option<Stat>, t: f64) -> Option<NewTarget> {
        let keep = self.budget.room(3);
        let start = st.as_ref().map(|s| s.start);
        // The first read tells a user process from a kernel thread or a
        // zombie (no memory), which never join.
        let mut files = match ProcFiles::open(&self.fs, pid, &self.metrics, start, keep) {
            Ok(f) => f,
            Err((ProcError::Denied(path), needed)) => {
                self.denied += 1;
                let file = path.file_name().unwrap_or_default().to_string_lossy();
                self.denied_file = Some((file.into_owned(), needed));
                return None;
            }
            Err(_) => return None,
        };
        let first = files.read(&mut self.buf, self.page).ok()??;
        let mut command = self.fs.cmdline(pid, super::MAX_CMDLINE)?;
        // Forked and not yet exec'd, a process has its parent's command
        // line for a moment: it joins at the next listing, under the
        // command it has then (a fork that never execs, as it is).
        let listed = self.pending.remove(&pid);
        if listed.is_none() {
            let ppid = st
                .as_ref()
                .map(|s| s.ppid)
                .or_else(|| self.fs.stat(pid).map(|s| s.ppid));
            if ppid
                .and_then(|pp| self.fs.cmdline(pp, super::MAX_CMDLINE))
                .is_some_and(|c| c == command)
            {
                self.pending.insert(pid, t);
                self.known.remove(&pid);
                return None;
            }
        }
        let comm = match st {
            Some(s) => s.comm,
            None => self.fs.comm(pid).unwrap_or_default(),
        };
        if let Some(pat) = &self.select.name
            && !super::name_matches(pat, &comm, &command)
        {
            return None;
        }
        if command.is_empty() {
            command = format!("[{comm}]");
        }
        self.budget.take(files.held() as u64);
        self.unkept += u64::from(files.held() == 0);
        Some(NewTarget {
            label: Label {
                pid,
                name: comm,
                command: command.chars().take(MAX_SHOWN).collect(),
                cgroup: None,
            },
            sampler: Box::new(FilesSampler::new(files)),
            limit: None,
            first: Some(Sampled {
                reading: first,
                pid,
                fresh: false,
            }),
            // Seen since it was first listed (a fork at the scan's first
            // listing is no late joiner).
            origin: listed,
        })
    }
}

impl Discovery for Procs {
    fn discover(&mut self, t: f64) -> Vec<NewTarget> {
        // The last PID the kernel gave out: unchanged, no process (or
        // thread) was created since the last listing, so none is needed.
        let last = self.fs.last_pid();
        if last.is_some() && last == self.last_pid && self.pending.is_empty() {
            return Vec::new();
        }
        self.last_pid = last;
        let fresh = self.list_new();
        self.grow_tree(&fresh);
        let mut out = Vec::new();
        for (pid, st) in fresh {
            if self.wanted(pid, st.as_ref())
                && let Some(nt) = self.open(pid, st, t)
            {
                out.push(nt);
            }
        }
        out
    }

    fn forget(&mut self, label: &Label, held: u64) {
        self.known.remove(&label.pid);
        self.budget.give(held);
    }

    fn open_ended(&self) -> bool {
        true
    }

    fn scope(&self) -> &str {
        &self.scope
    }

    fn denied(&self) -> Option<String> {
        let (file, needed) = self.denied_file.as_ref()?;
        let what = match needed {
            Some(m) => format!("their {file}, which the {} metric needs", m.name()),
            None => format!("their {file}"),
        };
        Some(format!(
            "{} {} skipped: leakwatch's user (uid {}) may not read {what}; run it as root or as their user",
            self.denied,
            if self.denied == 1 {
                "process was"
            } else {
                "processes were"
            },
            crate::sys::users::current_uid(),
        ))
    }

    fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self.denied().into_iter().collect();
        if self.unkept == 0 {
            return out;
        }
        out.push(format!(
            "{} targets were read by open/read/close, not through descriptors kept open: the open-file limit ({}) is too low for them; raise it (`ulimit -n`) for a cheaper scan",
            self.unkept,
            self.budget.limit()
        ));
        out
    }
}
