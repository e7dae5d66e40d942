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

/// Seconds between whole listings of the procfs, where a listing of the
/// PIDs given out since the last one does in between (see [`Procs`]).
pub const FULL_LISTING_EVERY_S: f64 = 30.0;

/// A process listed: the listing it was last seen in, its start time (with
/// the PID, its identity), and whether it joined (as a target not yet gone).
#[derive(Debug, Clone, Copy)]
struct Known {
    listing: u64,
    start: u64,
    target: bool,
}

/// Finds new processes, one listing a tick.
///
/// A listing is skipped when the kernel gave out no PID since the last (the
/// last field of `loadavg`). On a procfs it is partial: only the PIDs given
/// out since the listing before the last (from the last PID given out then
/// to the one now, around the end of the PID space if it wrapped: a process
/// gets its PID a moment before it is listed, so each range is listed
/// twice), listed from the first of them on (a procfs's listing can start
/// at a PID), at the cost of those PIDs rather than of every process. A PID
/// given out since the last listing that is already known is the same
/// process only if its start time is too; a target's PID reused before its
/// sampler saw it go is looked at again once it is forgotten.
/// Every [`FULL_LISTING_EVERY_S`] a whole listing forgets the PIDs gone,
/// as every listing does elsewhere (a test's tree).
pub struct Procs {
    fs: ProcFs,
    select: ProcSelect,
    metrics: Vec<Metric>,
    budget: FdBudget,
    /// PID → what was seen of it.
    known: HashMap<u32, Known>,
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
    /// The last PID given out at the last listing, and at the one before.
    last_pid: Option<u32>,
    before: Option<u32>,
    /// The procfs lists from a PID: listings are partial between whole ones.
    by_pid: bool,
    /// Engine seconds of the last whole listing.
    last_full: Option<f64>,
    /// PIDs of targets gone, looked at again at the next listing (their
    /// PID may have been given out again before they were seen to go).
    recheck: Vec<u32>,
    /// Parents' command lines read during this listing.
    parents: HashMap<u32, Option<String>>,
    /// A process's name is its `stat`'s (else its `comm` file's, which
    /// drops a trailing newline).
    stat_names: bool,
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
        let stat_names = select.children_of.is_some()
            || select.name.is_some()
            || metrics
                .iter()
                .any(|m| matches!(m, Metric::Pss | Metric::Uss | Metric::Swap));
        Procs {
            tree: select.children_of.into_iter().collect(),
            by_pid: fs.lists_by_pid(),
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
            before: None,
            last_full: None,
            recheck: Vec::new(),
            parents: HashMap::new(),
            stat_names,
            pending: HashMap::new(),
            unkept: 0,
            denied: 0,
            denied_file: None,
            scope: "processes".into(),
        }
    }

    /// Lists into `pids` the PIDs given out since the listing before the
    /// last (to `last`), and those to look at again; `None` when a whole
    /// listing is due instead, else the PIDs given out since the last
    /// listing: `(prev, last]`, around the end of the PID space if wrapped.
    fn list_since(&mut self, t: f64, last: Option<u32>) -> Option<(u32, u32)> {
        let (Some(prev), Some(last)) = (self.last_pid, last) else {
            return None;
        };
        if !self.by_pid || self.last_full.is_none_or(|f| t - f >= FULL_LISTING_EVERY_S) {
            return None;
        }
        let from = self.before.unwrap_or(prev);
        self.pids.clear();
        // A small buffer: the listing stops soon past `last`.
        let buf = &mut self.dirbuf[..2048];
        if last > from {
            self.fs.list_pids_in(from + 1, last, buf, &mut self.pids);
        } else if last < from {
            // Wrapped around the end of the PID space.
            let after = from.saturating_add(1);
            self.fs.list_pids_in(after, u32::MAX, buf, &mut self.pids);
            self.fs.list_pids_in(0, last, buf, &mut self.pids);
        }
        self.pids.extend(self.pending.keys());
        self.pids.append(&mut self.recheck);
        self.pids.sort_unstable();
        self.pids.dedup();
        Some((prev, last))
    }

    /// A PID listed: its `stat` if it is a process not seen before. A PID
    /// already known is the same process, unless it is among those given
    /// out since the last listing (`new`, a partial listing's) and started
    /// anew.
    fn first_sight(&mut self, pid: u32, new: Option<(u32, u32)>) -> Option<Stat> {
        let listing = self.listing;
        if let Some(k) = self.known.get_mut(&pid) {
            let given_out = new.is_some_and(|(prev, last)| match last >= prev {
                true => prev < pid && pid <= last,
                false => pid > prev || pid <= last,
            });
            if !given_out {
                k.listing = listing;
                return None;
            }
            let st = self.fs.stat(pid)?;
            // Same process; or a target's PID given out again before its
            // sampler saw it go: looked at once it is forgotten.
            if st.start == k.start || k.target {
                k.listing = listing;
                return None;
            }
            self.tree.remove(&pid);
            self.known.remove(&pid);
        }
        let st = self.fs.stat(pid);
        // Gone already: a whole listing knows it was listed (and forgets
        // it at the next); a partial one forgets it now.
        if st.is_some() || new.is_none() {
            let start = st.as_ref().map_or(0, |s| s.start);
            let target = false;
            self.known.insert(
                pid,
                Known {
                    listing,
                    start,
                    target,
                },
            );
        }
        st
    }

    /// The PIDs listed now that were not listed before, with their `stat`.
    fn list_new(&mut self, t: f64, last: Option<u32>) -> Vec<(u32, Stat)> {
        self.listing += 1;
        let listing = self.listing;
        let new = self.list_since(t, last);
        if new.is_none() {
            self.fs.list_pids(&mut self.dirbuf, &mut self.pids);
            self.last_full = Some(t);
            self.recheck.clear();
        }
        let pids = std::mem::take(&mut self.pids);
        let fresh = pids
            .iter()
            .filter_map(|&pid| Some((pid, self.first_sight(pid, new)?)))
            .collect();
        self.pids = pids;
        if new.is_some() {
            // A fork gone before it exec'd.
            let known = &self.known;
            self.pending
                .retain(|p, _| known.get(p).is_some_and(|k| k.listing == listing));
            return fresh;
        }
        // A PID no longer listed is gone: if it comes back, it is new.
        self.known.retain(|_, k| k.listing == listing);
        // A tree member gone is no parent of anything new.
        let known = &self.known;
        self.tree.retain(|p| known.contains_key(p));
        self.pending.retain(|p, _| known.contains_key(p));
        fresh
    }

    /// Adds the new descendants of the `children_of` process to the tree
    /// (a child may be listed before its parent).
    fn grow_tree(&mut self, fresh: &[(u32, Stat)]) {
        if self.select.children_of.is_none() {
            return;
        }
        loop {
            let before = self.tree.len();
            for (pid, st) in fresh {
                if self.tree.contains(&st.ppid) {
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
    fn wanted(&self, pid: u32, st: &Stat) -> bool {
        if st.kernel || self.exclude.contains(&pid) {
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

    /// The command line of `ppid`, read once a listing (siblings share it).
    fn parent_cmdline(&mut self, ppid: u32) -> Option<&str> {
        let fs = &self.fs;
        self.parents
            .entry(ppid)
            .or_insert_with(|| fs.cmdline(ppid, super::MAX_CMDLINE))
            .as_deref()
    }

    /// Opens a new process `pid`, listed at `t`, and takes its first
    /// reading; `None` when it is not to join (yet).
    fn open(&mut self, pid: u32, st: Stat, t: f64) -> Option<NewTarget> {
        let keep = self.budget.room(3);
        // The first read tells a user process from a kernel thread or a
        // zombie (no memory), which never join.
        let mut files = match ProcFiles::open(&self.fs, pid, &self.metrics, Some(st.start), keep) {
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
        // command it has then (a fork that never execs, as it is). The
        // kernel's flag tells it even once its parent has exited (and the
        // one it is reparented to runs another command).
        let listed = self.pending.remove(&pid);
        if listed.is_none() && (st.forked || self.parent_cmdline(st.ppid) == Some(command.as_str()))
        {
            self.pending.insert(pid, t);
            self.known.remove(&pid);
            return None;
        }
        let comm = if self.stat_names {
            st.comm
        } else {
            // As the `comm` file has it.
            st.comm.trim_end_matches('\n').to_string()
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
        if let Some(k) = self.known.get_mut(&pid) {
            k.target = true;
        }
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
        if last.is_some()
            && last == self.last_pid
            && self.pending.is_empty()
            && self.recheck.is_empty()
        {
            return Vec::new();
        }
        let fresh = self.list_new(t, last);
        self.before = self.last_pid;
        self.last_pid = last;
        self.grow_tree(&fresh);
        let mut out = Vec::new();
        for (pid, st) in fresh {
            if self.wanted(pid, &st)
                && let Some(nt) = self.open(pid, st, t)
            {
                out.push(nt);
            }
        }
        self.parents.clear();
        out
    }

    fn forget(&mut self, label: &Label, held: u64) {
        self.known.remove(&label.pid);
        if self.by_pid {
            self.recheck.push(label.pid);
        }
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
