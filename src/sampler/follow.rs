//! Following restarts: when the target is gone, its successor (the next
//! process that matches the name, the cgroup's next process) is watched as
//! a new run.

use super::{Sampled, Sampler};
use anyhow::Result;

/// Finds the successor of a gone target: `Ok(None)` while there is none yet.
pub type Reopen = Box<dyn FnMut() -> Result<Option<Box<dyn Sampler>>>>;

/// A sampler that goes on with the target's successor once it is gone.
pub struct Follow {
    current: Option<Box<dyn Sampler>>,
    reopen: Reopen,
    restarts: u32,
}

impl Follow {
    /// Follows `first`, and after it whatever `reopen` finds.
    pub fn new(first: Box<dyn Sampler>, reopen: Reopen) -> Follow {
        Follow {
            current: Some(first),
            reopen,
            restarts: 0,
        }
    }

    /// How many times a successor took over.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }
}

impl Sampler for Follow {
    fn sample(&mut self) -> Result<Option<Sampled>> {
        if let Some(s) = self.current.as_mut() {
            if let Some(x) = s.sample()? {
                return Ok(Some(x));
            }
            self.current = None;
        }
        let Some(mut next) = (self.reopen)()? else {
            return Ok(None);
        };
        let Some(mut x) = next.sample()? else {
            return Ok(None);
        };
        self.restarts += 1;
        self.current = Some(next);
        x.fresh = true;
        Ok(Some(x))
    }

    fn waiting(&self) -> bool {
        self.current.is_none()
    }
}
