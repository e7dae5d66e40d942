//! The `leakwatch` binary: a thin wrapper over [`leakwatch::app`].

fn main() -> std::process::ExitCode {
    leakwatch::app::main().into()
}
