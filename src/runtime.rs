//! What a leaking process runs on (Python, the JVM, Node.js, Go or native
//! code), read from `/proc/PID/exe` and its maps, and the one next command
//! that finds *where* it leaks.

use crate::sys::procfs::ProcFs;

/// A process's runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// CPython.
    Python,
    /// A Java virtual machine.
    Jvm,
    /// Node.js.
    Node,
    /// A Go program.
    Go,
    /// Anything else: native code.
    Native,
}

/// The runtime of `pid`, as its executable and mapped libraries show it;
/// `None` when they cannot be read (gone, or not ours).
pub fn detect(proc: &ProcFs, pid: u32) -> Option<Runtime> {
    let exe = proc.exe(pid)?;
    let name = exe.file_name()?.to_string_lossy().to_lowercase();
    let maps = proc.maps(pid).unwrap_or_default();
    Some(
        if name.starts_with("python") || maps.contains("libpython") {
            Runtime::Python
        } else if maps.contains("libjvm.so") {
            Runtime::Jvm
        } else if name == "node" || name == "nodejs" || maps.contains("libnode.so") {
            Runtime::Node
        } else if is_go(&proc.exe_head(pid, 64 * 1024 * 1024)) {
            Runtime::Go
        } else {
            Runtime::Native
        },
    )
}

/// Whether an executable that starts with `head` carries Go's build
/// information (it sits in the first data pages of any Go binary).
fn is_go(head: &[u8]) -> bool {
    // Go's marker, "\xff Go buildinf:", kept masked so this binary does not
    // carry it (and take itself for a Go program).
    let needle: Vec<u8> = b"\xdf\x00g\x4f\x00\x42\x55\x49\x4c\x44\x49\x4e\x46\x1a"
        .iter()
        .map(|b| b ^ 0x20)
        .collect();
    memchr::memmem::find(head, &needle).is_some()
}

/// Whether `cmd` is on the PATH.
fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

impl Runtime {
    /// Its name, for people.
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Python => "Python",
            Runtime::Jvm => "the JVM",
            Runtime::Node => "Node.js",
            Runtime::Go => "Go",
            Runtime::Native => "native code",
        }
    }

    /// The one next step that finds where `pid` leaks, in a sentence or two.
    pub fn next_step(self, pid: u32) -> String {
        match self {
            Runtime::Python if on_path("memray") => format!(
                "it runs Python: `memray attach {pid}`, then `memray flamegraph` on its output shows what keeps memory"
            ),
            Runtime::Python => format!(
                "it runs Python (PID {pid}): take two tracemalloc snapshots minutes apart and compare them \
                 (tracemalloc.start(); ...; snapshot2.compare_to(snapshot1, 'lineno')), or `pip install memray; memray attach {pid}`"
            ),
            Runtime::Jvm => format!(
                "it runs on the JVM: `jcmd {pid} GC.class_histogram` twice, minutes apart: the classes whose count keeps growing are the leak"
            ),
            Runtime::Node => format!(
                "it runs Node.js: start it with --heapsnapshot-signal=SIGUSR2, `kill -USR2 {pid}` twice minutes apart, and compare the two snapshots in Chrome DevTools"
            ),
            Runtime::Go => "it is a Go program: with net/http/pprof, fetch /debug/pprof/heap twice minutes apart and `go tool pprof -base first.pb.gz second.pb.gz`".to_string(),
            Runtime::Native => format!(
                "it runs native code: `heaptrack -p {pid}` for a while, then `heaptrack_print` shows the allocations never freed"
            ),
        }
    }
}

/// The process to look at for `pid`'s runtime: `pid` itself, or, when it
/// is a shell (`sh -c 'server …'`), the child of it that holds the most memory.
fn subject(proc: &ProcFs, pid: u32) -> u32 {
    let shell = proc
        .exe(pid)
        .and_then(|e| e.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|n| matches!(n.as_str(), "sh" | "bash" | "dash" | "zsh" | "ash"));
    if !shell {
        return pid;
    }
    proc.process_table()
        .into_iter()
        .filter(|&(_, parent)| parent == pid)
        .max_by_key(|&(child, _)| proc.resident_pages(child).unwrap_or(0))
        .map_or(pid, |(child, _)| subject(proc, child))
}

/// The next step for `pid` (for a shell, the largest process it started),
/// if its runtime can be read.
pub fn next_step(proc: &ProcFs, pid: u32) -> Option<String> {
    let pid = subject(proc, pid);
    detect(proc, pid).map(|r| r.next_step(pid))
}

/// The one next step for `pid` when `column` is the series that leaks:
/// for open file descriptors and threads, where to see which ones (the
/// same for every runtime); for memory, [`next_step`].
pub fn next_step_for(proc: &ProcFs, pid: u32, column: &str) -> Option<String> {
    use crate::metrics::Metric;
    match Metric::from_column(column) {
        Some(Metric::Fds) => {
            let pid = subject(proc, pid);
            Some(format!(
                "it leaks file descriptors: `ls -l /proc/{pid}/fd` twice, minutes apart; the kind that keeps growing \
                 (socket:, pipe:, a file) is the leak, and `ss -tanp | grep pid={pid},` lists its sockets"
            ))
        }
        Some(Metric::Threads) => {
            let pid = subject(proc, pid);
            Some(format!(
                "it leaks threads: `ls /proc/{pid}/task` twice, minutes apart, and `cat /proc/{pid}/task/*/comm | sort | uniq -c` \
                 names the ones that keep growing"
            ))
        }
        _ => next_step(proc, pid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_is_native_code() {
        assert_eq!(
            detect(&ProcFs::host(), std::process::id()),
            Some(Runtime::Native)
        );
        assert!(
            Runtime::Jvm
                .next_step(7)
                .contains("jcmd 7 GC.class_histogram")
        );
    }
}
