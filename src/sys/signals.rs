//! SIGINT, SIGTERM and SIGHUP, recorded by flags so a watch can end cleanly
//! (a closed terminal or ssh session ends it with a verdict too).

use anyhow::{Context, Result};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The signals that end a watch, once installed.
pub struct Signals {
    int: Arc<AtomicBool>,
    term: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers.
    pub fn install() -> Result<Signals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let s = Signals {
            int: Arc::new(AtomicBool::new(false)),
            term: Arc::new(AtomicBool::new(false)),
            hup: Arc::new(AtomicBool::new(false)),
        };
        signal_hook::flag::register(SIGINT, Arc::clone(&s.int))
            .context("cannot install a SIGINT handler")?;
        signal_hook::flag::register(SIGTERM, Arc::clone(&s.term))
            .context("cannot install a SIGTERM handler")?;
        signal_hook::flag::register(SIGHUP, Arc::clone(&s.hup))
            .context("cannot install a SIGHUP handler")?;
        Ok(s)
    }

    /// A check, for another part of the watch, of whether any signal came.
    pub fn any(&self) -> impl Fn() -> bool + Send + Sync + 'static {
        let flags = [self.int.clone(), self.term.clone(), self.hup.clone()];
        move || flags.iter().any(|f| f.load(Ordering::Relaxed))
    }

    /// Why to stop, if a signal came.
    pub fn received(&self) -> Option<&'static str> {
        if self.int.load(Ordering::Relaxed) {
            Some("interrupted (SIGINT)")
        } else if self.term.load(Ordering::Relaxed) {
            Some("terminated (SIGTERM)")
        } else if self.hup.load(Ordering::Relaxed) {
            Some("hung up (SIGHUP)")
        } else {
            None
        }
    }
}
