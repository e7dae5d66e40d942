//! Files opened with care: advisory locks, and waiting on a FIFO's reader
//! without blocking.

use std::fs::File;
use std::os::fd::AsRawFd;

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
