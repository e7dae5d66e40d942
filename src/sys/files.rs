//! Files opened with care: outputs opened without following a planted
//! link, advisory locks, and waiting on a FIFO's reader without blocking.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

/// How an exclusive advisory lock attempt went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lock {
    /// Taken: held while the file stays open.
    Taken,
    /// Another process holds it.
    Held,
    /// The file system has no locks (some network mounts).
    Unsupported,
}

/// Takes an exclusive advisory lock (`flock`) on `file` without waiting.
pub fn lock_exclusive(file: &File) -> Lock {
    // SAFETY: flock(2) on a descriptor we own and keep open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Lock::Taken;
    }
    if std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock {
        Lock::Held
    } else {
        Lock::Unsupported
    }
}

/// Waits at most `ms` milliseconds for `file` (a pipe) to take more data.
pub fn wait_writable(file: &File, ms: i32) {
    let mut pfd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: poll(2) on one descriptor we own.
    unsafe { libc::poll(&mut pfd, 1, ms) };
}

/// The descriptors a loop's targets and logs may hold, shared by what opens
/// them: kept under the open-file limit, less a reserve for leakwatch's own.
#[derive(Debug, Clone)]
pub struct FdBudget {
    inner: std::rc::Rc<std::cell::Cell<(u64, u64)>>,
}

impl FdBudget {
    /// A budget of `limit` descriptors.
    pub fn new(limit: u64) -> FdBudget {
        FdBudget {
            inner: std::rc::Rc::new(std::cell::Cell::new((0, limit))),
        }
    }

    /// Whether `n` more descriptors fit.
    pub fn room(&self, n: u64) -> bool {
        let (held, limit) = self.inner.get();
        held + n < limit
    }

    /// Counts `n` descriptors taken.
    pub fn take(&self, n: u64) {
        let (held, limit) = self.inner.get();
        self.inner.set((held + n, limit));
    }

    /// Counts `n` descriptors given back.
    pub fn give(&self, n: u64) {
        let (held, limit) = self.inner.get();
        self.inner.set((held.saturating_sub(n), limit));
    }

    /// The limit.
    pub fn limit(&self) -> u64 {
        self.inner.get().1
    }
}

/// How [`open_output`] opens a file leakwatch writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// Read and append (a log).
    Append,
    /// Replace the contents (a plot).
    Truncate,
}

/// Opens `path` for writing the way leakwatch opens every file it writes,
/// safe to run as root in a shared directory:
/// - a missing file is created exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`),
///   so a link planted at that name between two calls is never followed;
/// - an existing file is opened with `O_NOFOLLOW`;
/// - a symlink is followed only where the kernel's `fs.protected_symlinks`
///   would follow it (see [`check_link`]), whether or not that is on.
pub fn open_output(path: &Path, how: Write) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut opts = std::fs::OpenOptions::new();
    match how {
        Write::Append => opts.read(true).append(true),
        Write::Truncate => opts.write(true).truncate(true),
    };
    opts.mode(0o644);
    for _ in 0..8 {
        match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                match opts
                    .clone()
                    .create_new(true)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(path)
                {
                    // Made by someone else meanwhile: look again.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                    r => return r,
                }
            }
            Err(e) => return Err(e),
            Ok(m) if m.file_type().is_symlink() => {
                check_link(path, &m)?;
                return opts.create(true).open(path);
            }
            Ok(_) => return opts.custom_flags(libc::O_NOFOLLOW).open(path),
        }
    }
    Err(std::io::Error::other(
        "it keeps changing under leakwatch; try again",
    ))
}

/// Refuses to follow the symlink `path` (whose own metadata is `link`) where
/// `fs.protected_symlinks` would: in a sticky world-writable directory, a
/// link owned neither by the directory's owner nor by leakwatch's user.
pub fn check_link(path: &Path, link: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let d = std::fs::metadata(dir)?;
    let shared = d.mode() & 0o1002 == 0o1002;
    let me = crate::sys::users::current_uid();
    if shared && link.uid() != d.uid() && link.uid() != me {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "it is a symlink owned by uid {} in a shared sticky directory, which leakwatch \
                 does not follow (the rule of fs.protected_symlinks); remove it or choose another path",
                link.uid()
            ),
        ));
    }
    Ok(())
}

/// Whether `a` and `b` name the same file: the same inode when both exist,
/// else the same absolute path once their directories are resolved.
pub fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
        return x.dev() == y.dev() && x.ino() == y.ino();
    }
    let resolved = |p: &Path| {
        let dir = match p.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::canonicalize(dir)
            .ok()
            .map(|d| d.join(p.file_name().unwrap_or_default()))
    };
    match (resolved(a), resolved(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

/// Makes sure `dir` is a directory of leakwatch's own user to write logs
/// in: created (with its parents) if missing; refused if another user owns
/// it, or if it is a link [`check_link`] would not follow.
pub fn own_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    if let Ok(m) = std::fs::symlink_metadata(dir)
        && m.file_type().is_symlink()
    {
        check_link(dir, &m)?;
    }
    std::fs::create_dir_all(dir)?;
    let m = std::fs::metadata(dir)?;
    let me = crate::sys::users::current_uid();
    if m.uid() != me {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "it belongs to uid {}, not to leakwatch's user (uid {me}); choose a directory of your own",
                m.uid()
            ),
        ));
    }
    Ok(())
}
