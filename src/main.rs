//! The `leakwatch` binary: a thin wrapper over [`leakwatch::cli`].

fn main() {
    std::process::exit(leakwatch::cli::main());
}
