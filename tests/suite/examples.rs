//! The bundled examples as a new user runs them: the CI smoke script fails on
//! the article's leaking server and passes on the fixed one.

use std::process::Command;

fn smoke(mode: &str, out: &std::path::Path) -> std::process::Output {
    Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ci-smoke.sh"))
        .arg(mode)
        .env("LEAKWATCH", crate::common::leakwatch_path())
        .env("DURATION", "12s")
        .env("INTERVAL", "250ms")
        .env("OUT", out)
        .output()
        .unwrap()
}

/// Run by `side_by_side` (it waits on real seconds).
pub fn ci_smoke_fails_on_the_leaking_server_and_passes_on_the_fixed_one() {
    let dir = tempfile::tempdir().unwrap();
    let (leak_dir, fixed_dir) = (dir.path().join("leak"), dir.path().join("fixed"));
    let (l, f) = (leak_dir.clone(), fixed_dir.clone());
    let leak = std::thread::spawn(move || smoke("leak", &l));
    let fixed = std::thread::spawn(move || smoke("fixed", &f));
    let (leak, fixed) = (leak.join().unwrap(), fixed.join().unwrap());
    let say = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert_eq!(leak.status.code(), Some(1), "{}", say(&leak));
    assert!(say(&leak).contains("LEAK in the leak server"));
    // The verdict's reason, once (not each metric's too).
    for o in [&leak, &fixed] {
        assert_eq!(say(o).matches("the floor").count(), 1, "{}", say(o));
    }
    assert_eq!(fixed.status.code(), Some(0), "{}", say(&fixed));
    // What next, for a Python server.
    let v = crate::common::json(&std::fs::read(leak_dir.join("verdict.json")).unwrap());
    assert!(
        v["next_step"].as_str().unwrap_or("").contains("Python"),
        "{v}"
    );
    for d in [&leak_dir, &fixed_dir] {
        let v = crate::common::json(&std::fs::read(d.join("verdict.json")).unwrap());
        assert!(v["samples"].as_u64().unwrap() >= 35, "{v}");
        assert!(d.join("smoke.svg").exists());
    }
}

#[test]
fn readme_and_example_pipes_keep_the_exit_code() {
    // A `run:` step of GitHub Actions has no pipefail: a pipe after leakwatch
    // there would hide --fail-on-leak. Scripts set pipefail.
    let readme = include_str!("../../README.md");
    let mut in_yaml = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_yaml = line.trim() == "```yaml";
            continue;
        }
        if in_yaml {
            let code = line.split('#').next().unwrap_or("");
            let piped =
                code.contains(" | ") || code.trim_end().ends_with('|') && !code.contains(": |");
            assert!(
                !piped || code.contains("pipefail"),
                "unguarded pipe in the README's YAML: {line}"
            );
        }
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "sh") {
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(
                text.contains("pipefail"),
                "{} does not set pipefail",
                p.display()
            );
        }
    }
}
