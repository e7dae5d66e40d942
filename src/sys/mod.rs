//! The OS layer: the procfs and cgroupfs readers (each under a root that is
//! a parameter, so tests point them at trees of their own), signals, the
//! system clock, processes started and ended, users, the terminal, and files
//! opened with care. All of leakwatch's `unsafe` code is in this module.

pub mod cgroupfs;
pub mod clock;
pub mod console;
pub mod files;
pub mod process;
pub mod procfs;
pub mod signals;
pub mod terminal;
pub mod users;

/// The system page size in bytes.
pub fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 { p as u64 } else { 4096 }
}

/// Calls `each` with the name of every entry of the directory at `path`,
/// listed with `getdents64` into `buf` (one or two system calls for
/// thousands of entries, no allocation per entry).
fn dirents(path: &std::ffi::CStr, buf: &mut [u8], mut each: impl FnMut(&[u8])) {
    dirents_from(path, 0, buf, |name| {
        each(name);
        true
    });
}

/// Calls `each` with the name of the entries of the directory at `path`
/// from directory offset `from` (`lseek`; 0: the start), listed with
/// `getdents64` into `buf`, until `each` returns `false` or the listing ends.
#[cfg(target_os = "linux")]
fn dirents_from(
    path: &std::ffi::CStr,
    from: i64,
    buf: &mut [u8],
    mut each: impl FnMut(&[u8]) -> bool,
) {
    // SAFETY: open(2) of a NUL-terminated path.
    let fd = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return;
    }
    // SAFETY: lseek(2) on the descriptor opened above.
    if from > 0 && unsafe { libc::lseek(fd, from, libc::SEEK_SET) } < 0 {
        // SAFETY: closing the descriptor opened above.
        unsafe { libc::close(fd) };
        return;
    }
    'calls: loop {
        // SAFETY: getdents64(2) writes at most buf.len() bytes into buf.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
        if n <= 0 {
            break;
        }
        let mut at = 0usize;
        while at + 19 < n as usize {
            // struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
            let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
            if reclen == 0 {
                break;
            }
            let name = &buf[at + 19..(at + reclen).min(n as usize)];
            if !each(&name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())]) {
                break 'calls;
            }
            at += reclen;
        }
    }
    // SAFETY: closing the descriptor opened above.
    unsafe { libc::close(fd) };
}

/// Calls `each` with the name of every entry of the directory at `path`
/// until it returns `false` (elsewhere than Linux: a plain directory
/// listing, from its start whatever `from`).
#[cfg(not(target_os = "linux"))]
fn dirents_from(
    path: &std::ffi::CStr,
    _from: i64,
    _buf: &mut [u8],
    mut each: impl FnMut(&[u8]) -> bool,
) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(p) = path.to_str() else { return };
    if let Ok(dir) = std::fs::read_dir(p) {
        for e in dir.flatten() {
            if !each(e.file_name().as_bytes()) {
                return;
            }
        }
    }
}
