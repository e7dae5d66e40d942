//! The cgroupfs reader, the one place that knows control groups: where the
//! memory hierarchy is mounted (v2, else v1, from the procfs's mountinfo), a
//! cgroup named by a cgroupfs directory or by a path as `/proc/PID/cgroup`
//! shows it, what it holds, its memory and its limit. Every path is under the
//! hierarchy's root, so a test's tree in a temporary directory serves as well.
//!
//! A cgroup's judged memory is its own anonymous memory (v2 `memory.stat`
//! `anon`; v1 `rss` + `rss_huge`): what a leak grows. Its use with page
//! cache (v2 `memory.current`, v1 `memory.usage_in_bytes`) is read too.

use super::procfs::ProcFs;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The cgroup interface a hierarchy speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// cgroup v1 (a `memory` controller hierarchy of its own).
    V1,
    /// cgroup v2 (the unified hierarchy).
    V2,
}

impl Version {
    /// The file holding the use with page cache.
    fn usage_file(self) -> &'static str {
        match self {
            Version::V1 => "memory.usage_in_bytes",
            Version::V2 => "memory.current",
        }
    }

    /// The file holding the limit.
    pub fn limit_file(self) -> &'static str {
        match self {
            Version::V1 => "memory.limit_in_bytes",
            Version::V2 => "memory.max",
        }
    }
}

/// Why a cgroup cannot be watched.
#[derive(Debug)]
pub enum CgroupError {
    /// No memory controller is mounted.
    NoHierarchy,
    /// Nothing is at the path, on its own or under the hierarchy's root.
    NotFound {
        /// The path as given.
        path: String,
        /// The hierarchy's root it was looked for under.
        root: PathBuf,
    },
    /// A directory, but not a cgroup with the memory controller.
    NotACgroup {
        /// The directory.
        path: PathBuf,
    },
    /// The cgroup holds no process.
    Empty {
        /// The cgroup.
        path: PathBuf,
    },
}

impl std::fmt::Display for CgroupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CgroupError::NoHierarchy => write!(
                f,
                "no cgroup memory controller is mounted (looked in /proc/self/mountinfo for cgroup2 with memory, or cgroup with memory)"
            ),
            CgroupError::NotFound { path, root } => write!(
                f,
                "no cgroup {path}: not a directory, nor one under {}; give a cgroupfs directory or a path as /proc/PID/cgroup shows it",
                root.display()
            ),
            CgroupError::NotACgroup { path } => write!(
                f,
                "{} is not a cgroup of the memory controller (it has no memory.stat); give a directory under the memory hierarchy",
                path.display()
            ),
            CgroupError::Empty { path } => write!(
                f,
                "cgroup {} holds no process; start what runs in it first",
                path.display()
            ),
        }
    }
}

impl std::error::Error for CgroupError {}

/// The mounted memory hierarchy: its root directory and version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    /// The root cgroup's directory (`/sys/fs/cgroup` or `/sys/fs/cgroup/memory`).
    pub root: PathBuf,
    /// Its interface.
    pub version: Version,
}

impl Hierarchy {
    /// The memory hierarchy `proc` sees: v2 when its root offers the
    /// memory controller, else v1's memory hierarchy.
    pub fn find(proc: &ProcFs) -> Result<Hierarchy, CgroupError> {
        Self::from_mountinfo(&proc.mountinfo(), |root| {
            std::fs::read_to_string(root.join("cgroup.controllers")).unwrap_or_default()
        })
        .ok_or(CgroupError::NoHierarchy)
    }

    /// The hierarchy named in `mountinfo` text; `controllers` reads a v2
    /// root's `cgroup.controllers`.
    pub fn from_mountinfo(
        mountinfo: &str,
        controllers: impl Fn(&Path) -> String,
    ) -> Option<Hierarchy> {
        let mut v1 = None;
        for line in mountinfo.lines() {
            let Some((left, right)) = line.split_once(" - ") else {
                continue;
            };
            let Some(mount) = left.split(' ').nth(4) else {
                continue;
            };
            let mut r = right.split(' ');
            let (fstype, _source, opts) = (r.next(), r.next(), r.next().unwrap_or(""));
            let root = PathBuf::from(unescape(mount));
            match fstype {
                Some("cgroup2") if controllers(&root).split_whitespace().any(|c| c == "memory") => {
                    return Some(Hierarchy {
                        root,
                        version: Version::V2,
                    });
                }
                Some("cgroup") if opts.split(',').any(|o| o == "memory") => {
                    v1.get_or_insert(Hierarchy {
                        root,
                        version: Version::V1,
                    });
                }
                _ => {}
            }
        }
        v1
    }

    /// The cgroup of `pid` in this hierarchy, from `/proc/PID/cgroup`.
    pub fn of_pid(&self, proc: &ProcFs, pid: u32) -> Option<PathBuf> {
        let text = proc.cgroup(pid)?;
        let rel = cgroup_line(&text, self.version)?;
        Some(self.root.join(rel.trim_start_matches('/')))
    }

    /// The cgroup `path` names: a directory of this hierarchy, or a path
    /// inside it as `/proc/PID/cgroup` shows it.
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, CgroupError> {
        let inside = if path.starts_with(&self.root) {
            path.to_path_buf()
        } else {
            let rel = path.strip_prefix("/").unwrap_or(path);
            self.root.join(rel)
        };
        for dir in [&inside, &path.to_path_buf()] {
            if dir.is_dir() {
                if !dir.join("memory.stat").is_file() {
                    return Err(CgroupError::NotACgroup { path: dir.clone() });
                }
                return Ok(dir.clone());
            }
        }
        Err(CgroupError::NotFound {
            path: path.display().to_string(),
            root: self.root.clone(),
        })
    }

    /// The smallest memory limit on the way from the root to `dir`, bytes;
    /// `None` when nothing limits it.
    pub fn limit(&self, dir: &Path) -> Option<f64> {
        let rel = dir.strip_prefix(&self.root).ok()?;
        let mut at = self.root.clone();
        let mut best = read_limit(&at, self.version);
        for part in rel.components() {
            at.push(part);
            if let Some(l) = read_limit(&at, self.version) {
                best = Some(best.map_or(l, |b: f64| b.min(l)));
            }
        }
        best
    }

    /// Every cgroup below `under` that holds processes and has no child
    /// cgroup (a container, a service), sorted.
    pub fn leaves(&self, under: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![under.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut children = 0;
            for e in entries.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    children += 1;
                    stack.push(e.path());
                }
            }
            if children == 0 && dir != under && !procs(&dir).is_empty() {
                out.push(dir);
            }
        }
        out.sort();
        out
    }

    /// `dir` as a path inside the hierarchy (`/system.slice/x.service`).
    pub fn name(&self, dir: &Path) -> String {
        match dir.strip_prefix(&self.root) {
            Ok(rel) => format!("/{}", rel.display()),
            Err(_) => dir.display().to_string(),
        }
    }
}

/// A mount point as mountinfo escapes it (`\040` for a space).
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 1..i + 4)
            .and_then(|c| u8::from_str_radix(c, 8).ok());
        match code {
            Some(c) => {
                out.push(c as char);
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The cgroup path in `/proc/PID/cgroup` text for the memory hierarchy.
pub fn cgroup_line(text: &str, version: Version) -> Option<&str> {
    text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_id, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let hit = match version {
            Version::V2 => ctrls.is_empty(),
            Version::V1 => ctrls.split(',').any(|c| c == "memory"),
        };
        hit.then_some(path)
    })
}

/// The limit in `dir`'s limit file; `None` for none (`max`, or v1's huge
/// number for unlimited).
fn read_limit(dir: &Path, version: Version) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join(version.limit_file())).ok()?;
    let v = text.trim().parse::<u64>().ok()?;
    (v < 1 << 62).then_some(v as f64)
}

/// The PIDs in `dir`'s `cgroup.procs` (empty when it has none or is gone).
pub fn procs(dir: &Path) -> Vec<u32> {
    std::fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// A cgroup's memory at one moment, bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Its own anonymous memory.
    pub anon: u64,
    /// Its use with page cache.
    pub usage: u64,
}

/// A cgroup's memory files, kept open and read with `pread`.
#[derive(Debug)]
pub struct CgroupFiles {
    stat: File,
    usage: File,
    version: Version,
}

impl CgroupFiles {
    /// Opens `dir`'s memory files.
    pub fn open(dir: &Path, version: Version) -> Result<CgroupFiles, CgroupError> {
        let open = |f: &str| File::open(dir.join(f));
        match (open("memory.stat"), open(version.usage_file())) {
            (Ok(stat), Ok(usage)) => Ok(CgroupFiles {
                stat,
                usage,
                version,
            }),
            _ => Err(CgroupError::NotACgroup {
                path: dir.to_path_buf(),
            }),
        }
    }

    /// Reads the memory now; `None` once the cgroup is gone.
    pub fn read(&self, buf: &mut Vec<u8>) -> Option<Memory> {
        let n = read_all(&self.stat, buf)?;
        let anon = parse_anon(&buf[..n], self.version)?;
        let n = read_all(&self.usage, buf)?;
        let usage = std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()?;
        Some(Memory { anon, usage })
    }
}

/// A cgroup file from offset 0; `None` on an error (the cgroup is gone).
fn read_all(f: &File, buf: &mut Vec<u8>) -> Option<usize> {
    if buf.len() < 8192 {
        buf.resize(8192, 0);
    }
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        match f.read_at(&mut buf[len..], len as u64) {
            Ok(0) => return Some(len),
            Ok(n) => len += n,
            Err(_) => return None,
        }
    }
}

/// The anonymous memory in `memory.stat` text: v2 `anon`, v1 `rss` + `rss_huge`.
pub fn parse_anon(stat: &[u8], version: Version) -> Option<u64> {
    let text = std::str::from_utf8(stat).ok()?;
    let mut found = None;
    for line in text.lines() {
        let Some((key, value)) = line.split_once(' ') else {
            continue;
        };
        let wanted = match version {
            Version::V2 => key == "anon",
            Version::V1 => key == "rss" || key == "rss_huge",
        };
        if wanted {
            let v: u64 = value.trim().parse().ok()?;
            found = Some(found.unwrap_or(0) + v);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO_V1: &str = "\
25 30 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 25 0:27 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
33 25 0:29 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory
34 25 0:30 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
";

    #[test]
    fn finds_the_hierarchy() {
        // v2 without the memory controller: v1's memory hierarchy.
        let h = Hierarchy::from_mountinfo(MOUNTINFO_V1, |_| "cpu io".into()).unwrap();
        assert_eq!(h.root, PathBuf::from("/sys/fs/cgroup/memory"));
        assert_eq!(h.version, Version::V1);
        // v2 with it wins.
        let h = Hierarchy::from_mountinfo(MOUNTINFO_V1, |_| "cpu memory io".into()).unwrap();
        assert_eq!(h.version, Version::V2);
        assert_eq!(h.root, PathBuf::from("/sys/fs/cgroup/unified"));
        let pure = "30 1 0:26 / /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n";
        let h = Hierarchy::from_mountinfo(pure, |_| "memory".into()).unwrap();
        assert_eq!(h.root, PathBuf::from("/sys/fs/cgroup x"));
        assert_eq!(Hierarchy::from_mountinfo("", |_| String::new()), None);
    }

    #[test]
    fn reads_proc_cgroup_lines() {
        let text = "12:memory:/docker/abc\n4:cpu,cpuacct:/x\n0::/system.slice/a.service\n";
        assert_eq!(cgroup_line(text, Version::V1), Some("/docker/abc"));
        assert_eq!(
            cgroup_line(text, Version::V2),
            Some("/system.slice/a.service")
        );
    }

    #[test]
    fn parses_memory_stat() {
        let v2 = b"anon 1048576\nfile 4096\nkernel_stack 16384\nanon_thp 0\n";
        assert_eq!(parse_anon(v2, Version::V2), Some(1048576));
        let v1 = b"cache 8192\nrss 200704\nrss_huge 2097152\ntotal_rss 9\n";
        assert_eq!(parse_anon(v1, Version::V1), Some(200704 + 2097152));
        assert_eq!(parse_anon(b"file 1\n", Version::V2), None);
    }

    /// A v2 cgroupfs tree in a temp dir: resolving, limits, leaves, reads.
    #[test]
    fn a_v2_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let h = Hierarchy {
            root: root.clone(),
            version: Version::V2,
        };
        let svc = root.join("system.slice/app.service");
        let idle = root.join("system.slice/idle.service");
        let plain = root.join("not-a-cgroup");
        for d in [&svc, &idle, &plain] {
            std::fs::create_dir_all(d).unwrap();
        }
        for d in [&root, &root.join("system.slice"), &svc, &idle] {
            std::fs::write(d.join("memory.stat"), "anon 4096\nfile 8192\n").unwrap();
            std::fs::write(d.join("memory.current"), "12288\n").unwrap();
            std::fs::write(d.join("memory.max"), "max\n").unwrap();
            std::fs::write(d.join("cgroup.procs"), "").unwrap();
        }
        std::fs::write(svc.join("cgroup.procs"), "42\n43\n").unwrap();
        std::fs::write(root.join("system.slice/memory.max"), "1073741824\n").unwrap();
        std::fs::write(svc.join("memory.max"), "2147483648\n").unwrap();

        assert_eq!(
            h.resolve(Path::new("/system.slice/app.service")).unwrap(),
            svc
        );
        assert_eq!(h.resolve(&svc).unwrap(), svc);
        assert!(matches!(
            h.resolve(Path::new("/nope")),
            Err(CgroupError::NotFound { .. })
        ));
        assert!(matches!(
            h.resolve(&plain),
            Err(CgroupError::NotACgroup { .. })
        ));
        assert_eq!(h.limit(&svc), Some(1073741824.0));
        assert_eq!(h.limit(&root), None);
        assert_eq!(h.leaves(&root), vec![svc.clone()]);
        assert_eq!(procs(&svc), vec![42, 43]);
        assert_eq!(h.name(&svc), "/system.slice/app.service");
        let files = CgroupFiles::open(&svc, Version::V2).unwrap();
        let mut buf = Vec::new();
        assert_eq!(
            files.read(&mut buf),
            Some(Memory {
                anon: 4096,
                usage: 12288
            })
        );
    }
}
