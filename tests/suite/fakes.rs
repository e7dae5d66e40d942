//! Fakes behind the seams: a procfs tree in a temporary directory, a
//! sampler that plays a series, and targets that take a reading as they
//! are told, so engine and discovery tests are exact and fast.
#![allow(dead_code)]

use leakwatch::metrics::{Metric, Reading};
use leakwatch::sampler::{Sampled, Sampler};
use leakwatch::sys::procfs::ProcFs;
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The page size leakwatch multiplies `statm` by.
pub fn page() -> u64 {
    leakwatch::sys::page_size()
}

/// A procfs tree: `PID/stat`, `statm`, `cmdline`, `comm`, `exe`, `maps`,
/// `cgroup`, `fd/`, and `loadavg`, `self/mountinfo`.
pub struct FakeProc {
    pub dir: tempfile::TempDir,
}

impl FakeProc {
    /// An empty tree.
    pub fn new() -> FakeProc {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("self")).unwrap();
        std::fs::write(dir.path().join("self/mountinfo"), "").unwrap();
        let p = FakeProc { dir };
        p.set_last_pid(1);
        p
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// A reader of this tree.
    pub fn fs(&self) -> ProcFs {
        ProcFs::new(self.root())
    }

    fn pid_dir(&self, pid: u32) -> PathBuf {
        self.root().join(pid.to_string())
    }

    /// Says the kernel last gave out `pid` (a scan lists the tree again only then).
    pub fn set_last_pid(&self, pid: u32) {
        std::fs::write(
            self.root().join("loadavg"),
            format!("0.00 0.01 0.05 1/123 {pid}\n"),
        )
        .unwrap();
    }

    /// A process `pid` of `ppid`, named `comm`, running `argv`, with
    /// `rss` bytes resident (and twice that virtual), started at `start`.
    pub fn add(&self, pid: u32, ppid: u32, comm: &str, argv: &[&str], rss: u64) -> &FakeProc {
        self.add_with(pid, ppid, comm, argv, rss, 0)
    }

    /// As [`FakeProc::add`], with the flags field of `stat` given.
    pub fn add_with(
        &self,
        pid: u32,
        ppid: u32,
        comm: &str,
        argv: &[&str],
        rss: u64,
        flags: u64,
    ) -> &FakeProc {
        let d = self.pid_dir(pid);
        std::fs::create_dir_all(d.join("fd")).unwrap();
        for fd in 0..3 {
            std::fs::write(d.join("fd").join(fd.to_string()), "").unwrap();
        }
        let stat = format!(
            "{pid} ({comm}) S {ppid} {pid} {pid} 0 -1 {flags} 0 0 0 0 1 1 0 0 20 0 3 0 {start} 0 0\n",
            start = 1000 + pid
        );
        std::fs::write(d.join("stat"), stat).unwrap();
        std::fs::write(d.join("comm"), format!("{comm}\n")).unwrap();
        let mut cmd = argv.join("\0");
        if !cmd.is_empty() {
            cmd.push('\0');
        }
        std::fs::write(d.join("cmdline"), cmd).unwrap();
        std::fs::write(d.join("maps"), "").unwrap();
        std::fs::write(d.join("cgroup"), "0::/\n").unwrap();
        self.set_rss(pid, rss);
        self.set_last_pid(pid);
        self
    }

    /// A kernel thread `pid` (no memory, the PF_KTHREAD flag).
    pub fn kernel_thread(&self, pid: u32, comm: &str) -> &FakeProc {
        self.add_with(pid, 2, comm, &[], 0, 0x0020_0000)
    }

    /// Sets `pid`'s resident memory to `rss` bytes.
    pub fn set_rss(&self, pid: u32, rss: u64) {
        let pages = rss / page();
        let vsz = if pages == 0 { 0 } else { 2 * pages };
        // Written in place (not replaced), as the kernel's file is one file:
        // a descriptor kept open reads the new value.
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(self.pid_dir(pid).join("statm"))
            .unwrap();
        let text = format!("{vsz} {pages} 0 0 0 0 0\n");
        f.set_len(0).unwrap();
        f.seek(std::io::SeekFrom::Start(0)).unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    /// `pid` exits: its files read empty (as the kernel's do) and its
    /// directory goes.
    pub fn exit(&self, pid: u32) {
        let statm = self.pid_dir(pid).join("statm");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&statm)
            .unwrap()
            .set_len(0)
            .unwrap();
        std::fs::remove_dir_all(self.pid_dir(pid)).unwrap();
    }

    /// `pid` runs the executable at `exe` (a symlink, as the kernel's).
    pub fn set_exe(&self, pid: u32, exe: &Path) {
        let link = self.pid_dir(pid).join("exe");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(exe, link).unwrap();
    }

    /// `pid`'s memory maps.
    pub fn set_maps(&self, pid: u32, maps: &str) {
        std::fs::write(self.pid_dir(pid).join("maps"), maps).unwrap();
    }

    /// `pid`'s `cgroup` file.
    pub fn set_cgroup(&self, pid: u32, text: &str) {
        std::fs::write(self.pid_dir(pid).join("cgroup"), text).unwrap();
    }

    /// This process's mounts (`self/mountinfo`).
    pub fn set_mountinfo(&self, text: &str) {
        std::fs::write(self.root().join("self/mountinfo"), text).unwrap();
    }
}

/// A reading of `rss` bytes (and twice that virtual).
pub fn reading(rss: u64) -> Reading {
    let mut r = Reading::default();
    r.values[Metric::Rss.index()] = rss;
    r.values[Metric::Vsz.index()] = 2 * rss;
    r
}

/// A sampler that plays `values` (RSS, bytes) one a sample, then is gone.
pub struct Series {
    pub values: Vec<u64>,
    pub at: usize,
    pub pid: u32,
}

impl Series {
    /// Plays `values` as process `pid`.
    pub fn new(pid: u32, values: impl IntoIterator<Item = u64>) -> Series {
        Series {
            values: values.into_iter().collect(),
            at: 0,
            pid,
        }
    }
}

impl Sampler for Series {
    fn sample(&mut self) -> anyhow::Result<Option<Sampled>> {
        let Some(&v) = self.values.get(self.at) else {
            return Ok(None);
        };
        self.at += 1;
        Ok(Some(Sampled {
            reading: reading(v),
            pid: self.pid,
            fresh: false,
        }))
    }
}

/// A target whose RSS is a shared cell (a fake server a fake client grows).
pub struct Shared {
    pub rss: Rc<Cell<u64>>,
    pub gone: Rc<Cell<bool>>,
    pub pid: u32,
}

impl Sampler for Shared {
    fn sample(&mut self) -> anyhow::Result<Option<Sampled>> {
        if self.gone.get() {
            return Ok(None);
        }
        Ok(Some(Sampled {
            reading: reading(self.rss.get()),
            pid: self.pid,
            fresh: false,
        }))
    }
}
