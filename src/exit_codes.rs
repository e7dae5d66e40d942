//! leakwatch's exit codes.

use crate::detector::VerdictKind;

/// How leakwatch exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// Success (and, without `--fail-on-leak`, any verdict).
    Success,
    /// With `--fail-on-leak`: the verdict is `leaking`.
    Leaking,
    /// Bad input, a missing process, an unwritable log: any error.
    Error,
    /// With `--fail-on-leak`: the verdict is `inconclusive`.
    Inconclusive,
}

impl ExitCode {
    /// The exit code for `verdict`, given `--fail-on-leak`.
    pub fn for_verdict(kind: VerdictKind, fail_on_leak: bool) -> ExitCode {
        match (fail_on_leak, kind) {
            (true, VerdictKind::Leaking) => ExitCode::Leaking,
            (true, VerdictKind::Inconclusive) => ExitCode::Inconclusive,
            _ => ExitCode::Success,
        }
    }

    /// The process exit status: 0, 1, 2 or 3.
    pub fn code(self) -> u8 {
        match self {
            ExitCode::Success => 0,
            ExitCode::Leaking => 1,
            ExitCode::Error => 2,
            ExitCode::Inconclusive => 3,
        }
    }
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(c: ExitCode) -> Self {
        std::process::ExitCode::from(c.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        use VerdictKind::*;
        assert_eq!(ExitCode::for_verdict(Leaking, false), ExitCode::Success);
        assert_eq!(ExitCode::for_verdict(Leaking, true), ExitCode::Leaking);
        assert_eq!(
            ExitCode::for_verdict(Inconclusive, true),
            ExitCode::Inconclusive
        );
        assert_eq!(ExitCode::for_verdict(Plateau, true), ExitCode::Success);
        assert_eq!(ExitCode::Inconclusive.code(), 3);
    }
}
