//! Discovery, name matching, runtime detection and cgroups on procfs and
//! cgroupfs trees made in a temporary directory: exact and fast, with no
//! real process. (The real layer is covered once per mode elsewhere.)

use crate::fakes::{FakeProc, page};
use leakwatch::detector::DetectorConfig;
use leakwatch::discovery::cgroups::Cgroups;
use leakwatch::discovery::procs::{ProcSelect, Procs};
use leakwatch::discovery::{self, Discovery};
use leakwatch::engine::{Driver, Ended, Engine, Limits, NoDriver};
use leakwatch::judging::{Judge, Judging};
use leakwatch::metrics::Metric;
use leakwatch::runtime::{Runtime, detect};
use leakwatch::sys::cgroupfs::{Hierarchy, Version};
use leakwatch::sys::clock::{Clock, FakeClock, Wake};
use leakwatch::sys::files::FdBudget;

fn procs(p: &FakeProc, select: ProcSelect) -> Procs {
    Procs::new(
        p.fs(),
        select,
        &[Metric::Rss, Metric::Vsz],
        FdBudget::new(1000),
    )
}

/// The PIDs `d` finds now.
fn found(d: &mut dyn Discovery) -> Vec<u32> {
    let mut v: Vec<u32> = d.discover(0.0).iter().map(|t| t.label.pid).collect();
    v.sort();
    v
}

#[test]
fn a_scan_finds_user_processes_once_and_never_kernel_threads_or_zombies() {
    let p = FakeProc::new();
    p.add(100, 1, "python3", &["python3", "server.py"], 40 << 20);
    p.kernel_thread(101, "kworker/0:1");
    p.add(102, 1, "defunct", &[], 0);
    let mut d = procs(&p, ProcSelect::default());
    assert_eq!(found(&mut d), vec![100]);
    // Nothing new given out: no listing, nothing found again.
    assert_eq!(found(&mut d), Vec::<u32>::new());
    p.add(103, 100, "worker", &["worker", "--id", "3"], 8 << 20);
    assert_eq!(found(&mut d), vec![103]);
    let t = d.discover(0.0);
    assert!(t.is_empty());
}

#[test]
fn a_new_process_first_read_is_its_first_sample_and_its_command_is_whole() {
    let p = FakeProc::new();
    let long = format!("--flag={}", "x".repeat(4096));
    p.add(
        200,
        1,
        "java",
        &["java", &long, "com.example.MyService"],
        64 << 20,
    );
    let mut d = procs(
        &p,
        ProcSelect {
            name: Some("MyService".into()),
            ..ProcSelect::default()
        },
    );
    let t = d.discover(0.0);
    assert_eq!(t.len(), 1, "a pattern past 4 KiB of arguments is matched");
    let first = t[0].first.unwrap();
    assert_eq!(first.reading.rss(), (64u64 << 20) / page() * page());
    assert!(t[0].label.command.ends_with("com.example.MyService"));
    // A watch by name finds it the same way.
    assert_eq!(discovery::resolve_name(&p.fs(), "MyService").unwrap(), 200);
    let e = discovery::resolve_name(&p.fs(), "nothing-like-it").unwrap_err();
    assert!(e.to_string().contains("no process matches"), "{e}");
}

#[test]
fn children_of_takes_the_tree_and_joiners_under_it() {
    let p = FakeProc::new();
    p.add(10, 1, "sh", &["sh", "-c", "run"], 1 << 20);
    p.add(11, 10, "server", &["server"], 10 << 20);
    p.add(12, 11, "worker", &["worker"], 10 << 20);
    p.add(13, 1, "other", &["other"], 10 << 20);
    let mut d = procs(
        &p,
        ProcSelect {
            children_of: Some(10),
            ..ProcSelect::default()
        },
    );
    assert_eq!(found(&mut d), vec![11, 12]);
    p.add(14, 12, "late", &["late"], 1 << 20);
    p.add(15, 13, "elsewhere", &["elsewhere"], 1 << 20);
    assert_eq!(found(&mut d), vec![14]);
}

#[test]
fn a_fork_not_yet_execd_joins_at_the_next_listing_under_its_own_command() {
    let p = FakeProc::new();
    p.add(30, 1, "bash", &["bash", "run.sh"], 2 << 20);
    let mut d = procs(&p, ProcSelect::default());
    assert_eq!(found(&mut d), vec![30]);
    // Forked: the parent's command line for a moment.
    p.add(31, 30, "bash", &["bash", "run.sh"], 2 << 20);
    assert_eq!(found(&mut d), Vec::<u32>::new());
    // Exec'd by the next listing.
    p.add(31, 30, "python3", &["python3", "job.py"], 9 << 20);
    let t = d.discover(0.0);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].label.command, "python3 job.py");
}

/// A fake clock whose every wait first lets `at_tick` change the tree.
struct Scripted<'a> {
    clock: FakeClock,
    ticks: u32,
    at_tick: &'a mut dyn FnMut(u32),
}

impl Clock for Scripted<'_> {
    fn now(&self) -> f64 {
        self.clock.now()
    }
    fn wall(&self) -> std::time::SystemTime {
        self.clock.wall()
    }
    fn next_tick(&mut self, interval: f64) -> f64 {
        self.clock.next_tick(interval)
    }
    fn wait_until(&mut self, t: f64, poll: &mut dyn FnMut() -> Option<Wake>) -> Wake {
        self.ticks += 1;
        (self.at_tick)(self.ticks);
        self.clock.wait_until(t, poll)
    }
}

fn scan(p: &FakeProc, secs: f64, at_tick: &mut dyn FnMut(u32)) -> Ended {
    scan_with(p, secs, &mut NoDriver, at_tick)
}

fn scan_with(
    p: &FakeProc,
    secs: f64,
    driver: &mut dyn Driver,
    at_tick: &mut dyn FnMut(u32),
) -> Ended {
    let mut clock = Scripted {
        clock: FakeClock::new(),
        ticks: 0,
        at_tick,
    };
    let mut d = procs(p, ProcSelect::default());
    Engine {
        limits: Limits {
            interval: 1.0,
            duration: Some(secs),
            samples: None,
        },
        clock: &mut clock,
        discovery: &mut d,
        judging: Judging::new(
            DetectorConfig::default(),
            &[Metric::Rss],
            None,
            Judge::metric(Metric::Rss),
        )
        .with_buckets(96),
        outputs: vec![],
        driver,
    }
    .run(&mut || None)
    .unwrap()
}

/// A driver that keeps at most `.0` exited targets, as a scan does.
struct Cap(usize);

impl Driver for Cap {
    fn exited_cap(&self) -> Option<usize> {
        Some(self.0)
    }
}

/// Issue 23, item 0: with a cap, an exited target is kept only if it was
/// judged; those gone before are counted, and over the cap the oldest not
/// leaking go first; running ones are all kept.
#[test]
fn exited_targets_are_kept_only_when_judged_and_under_the_cap() {
    let p = FakeProc::new();
    p.add(1000, 1, "leaky", &["leaky", "leak"], 20 << 20);
    p.add(1001, 1, "steady", &["steady"], 30 << 20);
    for i in 0..10 {
        p.add(2000 + i, 1, "judged", &["judged"], 10 << 20);
    }
    let ended = scan_with(&p, 200.0, &mut Cap(3), &mut |tick| {
        if tick < 150 {
            p.set_rss(1000, (20 << 20) + u64::from(tick) * (64 << 10));
        }
        if (60..70).contains(&tick) {
            p.exit(2000 + tick - 60);
        }
        if tick == 150 {
            p.exit(1000);
        }
        // 50 brief processes, each listed for 3 ticks.
        if (10..60).contains(&tick) {
            p.add(3000 + tick, 1, "brief", &["brief"], 5 << 20);
        }
        if (13..63).contains(&tick) {
            p.exit(3000 + tick - 3);
        }
    });
    let pids: Vec<u32> = ended.targets.iter().map(|t| t.label.pid).collect();
    let exited: Vec<u32> = ended
        .targets
        .iter()
        .filter(|t| t.gone)
        .map(|t| t.label.pid)
        .collect();
    assert!(pids.contains(&1001), "{pids:?}");
    assert_eq!(exited.len(), 3, "{pids:?}");
    // The leaking one stays; of the judged steady ones, the newest.
    assert!(exited.contains(&1000), "{exited:?}");
    assert!(
        exited.contains(&2009) && exited.contains(&2008),
        "{exited:?}"
    );
    assert_eq!(ended.dropped.short_lived, 50);
    assert_eq!(ended.dropped.over_cap, 8);
}

#[test]
fn a_scan_on_a_fake_tree_judges_each_process_and_keeps_those_that_exit() {
    let p = FakeProc::new();
    p.add(1000, 1, "leaky", &["leaky", "leak"], 20 << 20);
    p.add(1001, 1, "steady", &["steady"], 30 << 20);
    p.add(1002, 1, "brief", &["brief"], 5 << 20);
    let ended = scan(&p, 300.0, &mut |tick| {
        p.set_rss(1000, (20 << 20) + u64::from(tick) * (64 << 10));
        if tick == 30 {
            p.exit(1002);
        }
        if tick == 100 {
            p.add(1003, 1, "late", &["late", "joiner"], 7 << 20);
        }
    });
    let by_pid = |pid: u32| ended.targets.iter().find(|t| t.label.pid == pid).unwrap();
    let verdict = |pid: u32| by_pid(pid).judging.shown().detector.verdict().kind.as_str();
    assert_eq!(ended.targets.len(), 4);
    assert_eq!(verdict(1000), "leaking");
    assert_eq!(verdict(1001), "plateau");
    let brief = by_pid(1002);
    assert!(
        brief.gone && brief.samples == 30,
        "{} samples",
        brief.samples
    );
    let late = by_pid(1003);
    assert_eq!((late.first_s, late.samples, late.gone), (100.0, 201, false));
    // A late joiner's own time starts when it joins.
    assert_eq!(late.judging.shown().detector.duration(), 200.0);
}

#[test]
fn runtimes_are_read_from_the_executable_and_its_maps() {
    let p = FakeProc::new();
    let bin = tempfile::tempdir().unwrap();
    let exe = |name: &str, body: &[u8]| {
        let path = bin.path().join(name);
        std::fs::write(&path, body).unwrap();
        path
    };
    let go_marker: Vec<u8> = b"\xdf\x00g\x4f\x00\x42\x55\x49\x4c\x44\x49\x4e\x46\x1a"
        .iter()
        .map(|b| b ^ 0x20)
        .collect();
    let cases: [(u32, std::path::PathBuf, &str, Runtime); 5] = [
        (1, exe("python3.11", b"ELF"), "", Runtime::Python),
        (
            2,
            exe("java", b"ELF"),
            "7f00-7f01 r-xp 0 00:00 0 /usr/lib/jvm/lib/server/libjvm.so\n",
            Runtime::Jvm,
        ),
        (3, exe("node", b"ELF"), "", Runtime::Node),
        (
            4,
            exe("server", &[b"ELF....".as_slice(), &go_marker].concat()),
            "",
            Runtime::Go,
        ),
        (5, exe("nginx", b"ELF"), "", Runtime::Native),
    ];
    for (pid, path, maps, _) in &cases {
        p.add(*pid, 0, "x", &["x"], 1 << 20);
        p.set_exe(*pid, path);
        p.set_maps(*pid, maps);
    }
    for (pid, _, _, want) in cases {
        assert_eq!(detect(&p.fs(), pid), Some(want), "PID {pid}");
    }
    assert_eq!(detect(&p.fs(), 99), None);
}

/// A cgroupfs tree of `version` under `root`: a service holding two
/// processes, an empty one, and a parent with a limit.
fn cgroup_tree(root: &std::path::Path, version: Version) {
    let (stat, usage, limit, unlimited) = match version {
        Version::V2 => (
            "anon 4096\nfile 8192\n",
            "memory.current",
            "memory.max",
            "max\n",
        ),
        Version::V1 => (
            "cache 8192\nrss 4096\nrss_huge 0\n",
            "memory.usage_in_bytes",
            "memory.limit_in_bytes",
            "9223372036854771712\n",
        ),
    };
    let svc = root.join("system.slice/app.service");
    let idle = root.join("system.slice/idle.service");
    for d in [&svc, &idle] {
        std::fs::create_dir_all(d).unwrap();
    }
    for d in [
        root.to_path_buf(),
        root.join("system.slice"),
        svc.clone(),
        idle,
    ] {
        std::fs::write(d.join("memory.stat"), stat).unwrap();
        std::fs::write(d.join(usage), "12288\n").unwrap();
        std::fs::write(d.join(limit), unlimited).unwrap();
        std::fs::write(d.join("cgroup.procs"), "").unwrap();
    }
    std::fs::write(svc.join("cgroup.procs"), "501\n500\n").unwrap();
    std::fs::write(root.join("system.slice").join(limit), "1073741824\n").unwrap();
}

#[test]
fn cgroups_v1_and_v2_are_found_from_mountinfo_and_scanned() {
    for version in [Version::V1, Version::V2] {
        let p = FakeProc::new();
        let cg = tempfile::tempdir().unwrap();
        let root = cg.path().join("memory");
        std::fs::create_dir_all(&root).unwrap();
        let line = match version {
            Version::V2 => {
                std::fs::write(root.join("cgroup.controllers"), "cpu memory io\n").unwrap();
                format!("30 1 0:26 / {} rw - cgroup2 cgroup2 rw\n", root.display())
            }
            Version::V1 => format!(
                "33 25 0:29 / {} rw,nosuid - cgroup cgroup rw,memory\n",
                root.display()
            ),
        };
        p.set_mountinfo(&line);
        cgroup_tree(&root, version);
        p.add(500, 1, "app", &["/usr/bin/app", "--serve"], 1 << 20);
        let h = Hierarchy::find(&p.fs()).unwrap();
        assert_eq!((h.version, h.root.clone()), (version, root.clone()));
        let mut d = Cgroups::new(p.fs(), h.clone(), None).unwrap();
        let t = d.discover(0.0);
        assert_eq!(t.len(), 1, "{version:?}: the one leaf holding processes");
        let l = &t[0].label;
        assert_eq!(l.cgroup.as_deref(), Some("/system.slice/app.service"));
        assert_eq!((l.pid, l.command.as_str()), (500, "/usr/bin/app --serve"));
        assert_eq!(t[0].limit.map(|l| l.bytes), Some(1073741824.0));
        // A path as /proc/PID/cgroup shows it resolves into the tree.
        p.set_cgroup(
            500,
            "12:memory:/system.slice/app.service\n0::/system.slice/app.service\n",
        );
        assert_eq!(
            h.of_pid(&p.fs(), 500),
            Some(root.join("system.slice/app.service"))
        );
        assert!(d.discover(1.0).is_empty(), "watched already");
    }
}
