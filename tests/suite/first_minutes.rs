//! A newcomer's first ten minutes (issue 24), the rest: a started
//! command's output above the status line; verdicts that name their
//! target; a mistyped subcommand; plots and the small things.

use crate::common::{leakwatch, leakwatch_path, wait_until};
use crate::newcomer::{Tmux, tag};
use std::time::Duration;

/// Item 5: the quick start, at 100 and 60 columns: the server's
/// `listening on` line is a line of its own above the status line, which is
/// drawn below it, and stays intact after the report.
#[test]
fn the_quick_starts_server_output_is_above_a_cleared_status_line() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/leaky_server.py");
    let sessions: Vec<(usize, Tmux)> = [100, 60]
        .into_iter()
        .map(|cols| {
            let cmd = format!(
                "{} --interval 500ms --duration 6s -- python3 {script} --mode leak --load 40; sleep 60",
                leakwatch_path().display()
            );
            (cols, Tmux::start(&tag(&format!("qs{cols}")), cols as u32, &cmd))
        })
        .collect();
    // While it runs: the server's line, then the status line below it.
    let live: Vec<String> = sessions
        .iter()
        .map(|(_, t)| {
            let mut live = String::new();
            wait_until(
                "the server's line and a status line",
                Duration::from_secs(60),
                || {
                    live = t.capture();
                    let last = live.lines().rfind(|l| !l.trim().is_empty());
                    live.contains("listening on") && last.is_some_and(|l| l.contains(" | "))
                },
            );
            live
        })
        .collect();
    for ((cols, t), live) in sessions.iter().zip(&live) {
        let lines: Vec<&str> = live.lines().filter(|l| !l.trim().is_empty()).collect();
        let listening = lines
            .iter()
            .position(|l| l.contains("listening on"))
            .unwrap_or_else(|| panic!("{cols} columns: no server line:\n{live}"));
        assert!(
            lines[listening].starts_with("leaky_server: mode=leak listening on 127.0.0.1:")
                && lines[listening].split_whitespace().count() == 5,
            "{cols} columns:\n{live}"
        );
        let status = lines.last().unwrap();
        assert!(
            listening == lines.len() - 2
                && (status.contains("judging") || status.contains("so far")),
            "{cols} columns:\n{live}"
        );
        assert!(status.chars().count() < *cols, "{cols} columns:\n{live}");
        // At the end: the server's line intact, the report below it.
        let end = t.screen_with("ended by:");
        let first = end.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        assert!(
            first.starts_with("leaky_server: mode=leak listening on 127.0.0.1:")
                && first.split_whitespace().count() == 5,
            "{cols} columns:\n{end}"
        );
        assert!(
            end.lines().any(|l| l.starts_with("leaking")),
            "{cols} columns:\n{end}"
        );
    }
}

/// Item 5: a command that writes a lot, fast, on stdout and stderr, and
/// ends on an unfinished line: every line reaches the terminal once, whole
/// and in order, none mixed with the status line, and the unfinished one
/// too, before the report.
#[test]
fn a_chatty_commands_every_line_is_relayed_whole_before_the_report() {
    let sh = "i=0; while [ $i -lt 600 ]; do i=$((i+1)); echo out-line-$i; \
              [ $((i % 50)) -eq 0 ] && echo err-line-$i >&2; \
              [ $((i % 100)) -eq 0 ] && sleep 0.3; done; printf unfinished-tail";
    for cols in [100usize, 60] {
        let cmd = format!(
            "{} -i 100ms -- sh -c '{sh}'; echo; echo the-end; sleep 60",
            leakwatch_path().display()
        );
        let t = Tmux::start(&tag(&format!("chat{cols}")), cols as u32, &cmd);
        t.screen_with("the-end");
        let all = t.history();
        let outs: Vec<&str> = all.lines().filter(|l| l.contains("out-line-")).collect();
        let want: Vec<String> = (1..=600).map(|i| format!("out-line-{i}")).collect();
        assert_eq!(outs, want, "{cols} columns:\n{all}");
        let errs = all.lines().filter(|l| l.contains("err-line-")).count();
        assert_eq!(errs, 12, "{cols} columns:\n{all}");
        for l in all.lines().filter(|l| l.contains("err-line-")) {
            assert!(l.starts_with("err-line-") && !l.contains(' '), "{l}");
        }
        // The unfinished line, then the report (whose first line is the verdict).
        let lines: Vec<&str> = all.lines().collect();
        let tail = lines
            .iter()
            .position(|l| l.starts_with("unfinished-tail"))
            .unwrap_or_else(|| panic!("{cols} columns: no tail:\n{all}"));
        assert_eq!(lines[tail], "unfinished-tail", "{all}");
        assert!(
            lines[tail + 1..].iter().any(|l| l.contains("ended by:")),
            "{all}"
        );
    }
}

/// Item 5: without a terminal nothing is relayed: the command's stdout
/// goes to stderr, as before, and its output is all there.
#[test]
fn without_a_terminal_a_commands_output_goes_to_stderr() {
    let out = leakwatch()
        .args([
            "-i",
            "50ms",
            "--",
            "sh",
            "-c",
            "echo hello-out; echo hello-err >&2",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("hello-out\n") && err.contains("hello-err\n"),
        "{err}"
    );
    // The report names the command ("sh -c echo hello-out; ..."), but
    // none of what it wrote is on stdout.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("hello-out\n") && !stdout.contains("hello-err\n"),
        "{stdout}"
    );
}

/// Item 11: a watch by `--pid` and by `--name` names the process it judged
/// in the text report (its PID and command line), and in JSON.
#[test]
fn the_text_verdict_names_its_process_by_pid_and_by_name() {
    let name = tag("named");
    let mut kid = std::process::Command::new("bash")
        .args(["-c", &format!("exec -a {name} sleep 60")])
        .spawn()
        .unwrap();
    let mut kid2 = crate::common::spawn_sleep("61");
    let pid = kid2.id().to_string();
    wait_until("the named sleep", Duration::from_secs(10), || {
        std::fs::read(format!("/proc/{}/cmdline", kid.id()))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&name))
    });
    let by_pid = leakwatch()
        .args(["-p", &pid, "-i", "50ms", "-n", "12", "-q"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&by_pid.stdout);
    assert!(
        text.lines()
            .any(|l| l == format!("  process:   PID {pid}, sleep 61")),
        "{text}"
    );
    let by_name = leakwatch()
        .args(["--name", &name, "-i", "50ms", "-n", "12", "-q"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&by_name.stdout);
    let want = format!("  process:   PID {}, {name} 60", kid.id());
    assert!(text.lines().any(|l| l == want), "{text}");
    let (_, j) = crate::common::run_json(&["--name", &name, "-i", "50ms", "-n", "12"]);
    assert_eq!(j["pid"], kid.id());
    assert_eq!(j["command"], format!("{name} 60"));
    for k in [&mut kid, &mut kid2] {
        k.kill().ok();
        k.wait().ok();
    }
}

/// Item 11, for a started command that calls exec (as the quick start's
/// `python3` does under pyenv: a shim, `env bash …/shims/python3`, that
/// runs python): the report names what the target runs at the end, not
/// the command line it started with; a target that exited keeps the last
/// one seen.
#[test]
fn a_target_that_calls_exec_is_named_by_what_it_runs() {
    let out = leakwatch()
        .args([
            "-i",
            "50ms",
            "-d",
            "1500ms",
            "--",
            "sh",
            "-c",
            "sleep 0.4; exec sleep 31",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with("  process:   PID ") && l.ends_with(", sleep 31")),
        "{text}"
    );
    let out = leakwatch()
        .args([
            "-i",
            "50ms",
            "-d",
            "5s",
            "--",
            "sh",
            "-c",
            "sleep 0.3; exec sleep 0.6",
        ])
        .timeout(Duration::from_secs(60))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("  ended by:  target exited"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("  process:   PID ") && l.contains("sleep")),
        "{text}"
    );
}

/// Item 12: a mistyped subcommand gets clap's suggestion, as a mistyped
/// flag does, exit 2; a command without `--` gets a tip.
#[test]
fn a_mistyped_subcommand_gets_a_suggestion() {
    for (typed, meant) in [
        ("anaylze", "analyze"),
        ("scna", "scan"),
        ("plto", "plot"),
        ("reapeat", "repeat"),
        ("completion", "completions"),
    ] {
        let out = leakwatch().args([typed, "x.csv"]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{typed}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("unrecognized subcommand '{typed}'"))
                && err.contains(&format!("a similar subcommand exists: '{meant}'")),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = leakwatch().args(["python3", "server.py"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("put it after '--': 'leakwatch -- python3 ...'"),
        "{err}"
    );
}

/// Item 12: a mistyped flag after a real subcommand keeps clap's own
/// error (no "unrecognized subcommand 'scan'").
#[test]
fn a_real_subcommands_unknown_flag_is_not_a_mistyped_subcommand() {
    let out = leakwatch().args(["scan", "-n", "3"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unexpected argument '-n'") && !err.contains("subcommand"),
        "{err}"
    );
}

/// Item 16: a leak of file descriptors gets a next step about file
/// descriptors (`/proc/PID/fd`), not a heap profiler's.
#[test]
fn an_fd_leaks_next_step_looks_at_its_fds() {
    let mut kid = crate::common::spawn_leaky(&["fds", "--rate", "50"]);
    let pid = kid.id().to_string();
    let out = leakwatch()
        .args(["-p", &pid, "-i", "100ms", "-d", "4s", "-q"])
        .args(["--metrics", "fds", "--judge", "fds"])
        .output()
        .unwrap();
    kid.kill().ok();
    kid.wait().ok();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("leaking"), "{text}");
    let step = text
        .lines()
        .find(|l| l.starts_with("  next step:"))
        .unwrap_or_else(|| panic!("no next step:\n{text}"));
    assert!(step.contains(&format!("ls -l /proc/{pid}/fd")), "{step}");
    assert!(
        !step.contains("heaptrack") && !step.contains("tracemalloc"),
        "{step}"
    );
}

/// Item 16: `--textfile` not ending in `.prom` (which node_exporter would
/// never read) is refused, for a watch and a scan, naming the file to use.
#[test]
fn a_textfile_not_ending_in_prom_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let txt = dir.path().join("x.txt");
    for sub in [&[][..], &["scan"][..]] {
        let out = leakwatch()
            .args(sub)
            .args(["-p", "1", "-n", "3"].iter().filter(|_| sub.is_empty()))
            .arg("--textfile")
            .arg(&txt)
            .args(["-d", "1s"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("--textfile:") && err.contains("*.prom") && err.contains("x.prom'"),
            "{err}"
        );
        assert!(!txt.exists());
    }
}

/// Item 16: the README's list of what `.ci/deps` installs is the list the
/// script installs.
#[test]
fn the_readme_names_every_package_ci_deps_installs() {
    let root = env!("CARGO_MANIFEST_DIR");
    let deps = std::fs::read_to_string(format!("{root}/.ci/deps")).unwrap();
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let start = readme.find("installs what the tests need").unwrap();
    let said = &readme[start..start + 300];
    let pkgs: Vec<&str> = deps
        .lines()
        .filter_map(|l| l.split("missing+=(").nth(1)?.split(')').next())
        .collect();
    assert!(pkgs.len() >= 6, "{pkgs:?}");
    for p in pkgs {
        assert!(
            said.contains(p),
            "README does not say .ci/deps installs {p}: {said}"
        );
    }
}

/// Item 16: a closed stdout under a log (`-o - | head`) is a write error,
/// exit 2, the verdict on stderr; under a report (`| head`) a quiet exit,
/// as the README says.
#[test]
fn a_closed_stdout_is_an_error_under_a_log_and_quiet_under_a_report() {
    use std::process::Stdio;
    let run = |args: &[&str]| {
        let mut c = std::process::Command::new(leakwatch_path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(c.stdout.take());
        c.wait_with_output().unwrap()
    };
    // The reader takes the header and a row, then goes.
    let dir = tempfile::tempdir().unwrap();
    let err_file = dir.path().join("err");
    let sh = format!(
        "{} -p 1 -i 10ms -n 500 -q -o - 2>{} | head -2 >/dev/null; echo ${{PIPESTATUS[0]}}",
        leakwatch_path().display(),
        err_file.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &sh])
        .output()
        .unwrap();
    let err = std::fs::read_to_string(&err_file).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "2", "{err}");
    assert!(
        err.contains("ended by:  write error") && err.contains("Broken pipe"),
        "{err}"
    );
    let report = run(&["-p", "1", "-i", "10ms", "-n", "20", "-q"]);
    assert_eq!(report.status.code(), Some(0));
    assert!(report.stderr.is_empty());
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(readme.contains("Under a log it is\n  a write error (`-o - | head`, exit 2"));
}

/// Items 4 and 10: the README's "Installing" lines, run as a new user would
/// after `cargo install` (here: the built binary on a `bin` of its own on
/// `PATH`, a fresh `HOME`, no `MANPATH`): `man` then finds a page for
/// leakwatch and for every subcommand its page names, with the
/// subcommand's own options, EXIT STATUS and ENVIRONMENT (`NO_COLOR`).
#[test]
fn the_readmes_install_lines_put_every_man_page_where_man_finds_it() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let section = readme.split("\n## Installing\n").nth(1).unwrap();
    let block = section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let (install, rest) = block.split_once('\n').unwrap();
    assert_eq!(install, "cargo install --locked --path .");
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("cargo/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(leakwatch_path(), bin.join("leakwatch")).unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let sh = |script: &str| {
        std::process::Command::new("sh")
            .args(["-c", script])
            .env("PATH", &path)
            .env("HOME", &home)
            .env_remove("MANPATH")
            .env("MANWIDTH", "100")
            .output()
            .unwrap()
    };
    let ran = sh(&format!("set -e\n{rest}"));
    assert!(ran.status.success(), "{ran:?}");
    let page = |name: &str| {
        let out = sh(&format!("man -P cat {name}"));
        assert!(out.status.success(), "man {name}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let main = page("leakwatch");
    assert!(main.contains("--fail-on-leak"), "{main}");
    let named: Vec<String> = main
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("leakwatch-")?.strip_suffix("(1)"))
        .map(str::to_string)
        .collect();
    assert!(named.len() >= 7, "{named:?}: {main}");
    for sub in named.iter().chain([&"leakwatch".to_string()]) {
        let name = match sub.as_str() {
            "leakwatch" => sub.clone(),
            s => format!("leakwatch-{s}"),
        };
        let text = page(&name);
        for section in ["EXIT STATUS", "ENVIRONMENT", "NO_COLOR"] {
            assert!(text.contains(section), "{name}: no {section}: {text}");
        }
    }
    let scan = page("leakwatch-scan");
    assert!(
        scan.contains("--children-of") && scan.contains("--cgroups"),
        "{scan}"
    );
    // Installed where `man` looks beside the binary's bin, not in $HOME.
    let man1 = dir.path().join("cargo/share/man/man1");
    assert!(man1.join("leakwatch-scan.1").is_file(), "{man1:?}");
}

/// Item 16: one process is "1 process", in the scan's report and its live
/// table's counts line alike.
#[test]
fn one_process_is_one_process() {
    let t = tag("one");
    let mut idle = crate::common::spawn_leaky(&["idle", "--tag", &t]);
    let out = leakwatch()
        .args(["scan", "--name", &t, "-i", "100ms", "-d", "300ms"])
        .output()
        .unwrap();
    idle.kill().ok();
    idle.wait().ok();
    let text = String::from_utf8_lossy(&out.stdout);
    let first = text.lines().next().unwrap_or("");
    assert!(first.ends_with("inconclusive of 1 process"), "{text}");
}

/// Item 16: `--listen` given a port alone says HOST:PORT is wanted, with
/// an example, one line, exit 2, for a watch and a scan.
#[test]
fn a_listen_port_alone_gets_a_host_port_hint() {
    for args in [
        &["-p", "1", "--listen", "9464"][..],
        &["scan", "--listen", "9464"],
    ] {
        let out = leakwatch().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("not HOST:PORT") && err.contains("127.0.0.1:9464"),
            "{err}"
        );
    }
}

/// Item 16: a window of 40 samples at 500ms lasts 19.5 s, and the report
/// says so in each place (not a rounded "last 20s" beside "0.5s to 20s",
/// as the quick start's watch showed).
#[test]
fn the_window_says_how_long_it_lasts() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("leak.csv");
    let rows = (0..40).map(|i| (f64::from(i) * 0.5, 16e6 + f64::from(i) * 3e5));
    std::fs::write(&log, crate::common::log_text(rows, 7)).unwrap();
    let out = leakwatch().arg("analyze").arg(&log).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("leaking"), "{text}");
    for said in [
        "\n  window:    last 19.5s (0s to 19.5s)\n",
        "\n  samples:   40 over 19.5s\n",
        "over the last 19.5s",
    ] {
        assert!(text.contains(said), "no {said:?} in:\n{text}");
    }
}
