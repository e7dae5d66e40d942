//! The bundled examples as a new user runs them: the CI smoke script fails on
//! the article's leaking server and passes on the fixed one.

use std::process::Command;

fn smoke(mode: &str, out: &std::path::Path) -> std::process::Output {
    Command::new("bash")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ci-smoke.sh"))
        .arg(mode)
        .env("LEAKWATCH", crate::common::leakwatch_path())
        .env("DURATION", "30s")
        .env("OUT", out)
        .output()
        .unwrap()
}

#[test]
fn ci_smoke_fails_on_the_leaking_server_and_passes_on_the_fixed_one() {
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
    assert_eq!(fixed.status.code(), Some(0), "{}", say(&fixed));
    for d in [&leak_dir, &fixed_dir] {
        let v = crate::common::json(&std::fs::read(d.join("verdict.json")).unwrap());
        assert!(v["samples"].as_u64().unwrap() >= 55, "{v}");
        assert!(d.join("smoke.svg").exists());
    }
}
