//! SIGINT/SIGTERM: the first asks for a graceful stop, a second one while stopping exits at once
//! (status 1), as a user pressing Ctrl-C twice expects.

use super::RuntimeError;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Set once SIGINT or SIGTERM arrived.
pub struct Signals(Arc<AtomicBool>);

impl Signals {
    pub fn install() -> Result<Signals, RuntimeError> {
        let flag = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            // Registered first, so it sees the flag as it was before this signal set it.
            signal_hook::flag::register_conditional_shutdown(sig, 1, flag.clone())
                .and_then(|_| signal_hook::flag::register(sig, flag.clone()))
                .map_err(RuntimeError::Signals)?;
        }
        Ok(Signals(flag))
    }

    pub fn received(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}
