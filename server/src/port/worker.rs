use super::{Eal, PortError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Shared "stop now" flag. Set by [`Workers::stop`], or by any worker that panics, so the
/// others leave their loops and a join can never hang on them.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn new() -> Self {
        Self::default()
    }
    #[inline]
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What a worker closure gets: its core, its DPDK lcore id and the stop flag to poll.
#[derive(Debug)]
pub struct WorkerCtx {
    pub core: usize,
    pub lcore_id: u32,
    stop: StopFlag,
}

impl WorkerCtx {
    #[inline]
    pub fn should_stop(&self) -> bool {
        self.stop.is_set()
    }
    pub fn stop_flag(&self) -> &StopFlag {
        &self.stop
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("worker on core {core} panicked: {message}")]
    Panicked { core: usize, message: String },
    #[error("worker on core {core} could not start: {source}")]
    Start { core: usize, source: PortError },
    #[error("core {0} does not exist or cannot be pinned to")]
    BadCore(usize),
}

/// A group of poll-mode worker threads: std threads pinned to one core each and registered
/// with DPDK (`rte_thread_register`) so they get an lcore id and per-lcore mempool caches.
pub struct Workers<R: Send + 'static> {
    stop: StopFlag,
    handles: Vec<(usize, JoinHandle<Result<R, WorkerError>>)>,
    _eal: Eal,
}

/// Unregisters the thread and, if it is unwinding, stops every other worker.
struct ThreadGuard {
    stop: StopFlag,
    registered: bool,
}

impl Drop for ThreadGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.stop.set();
        }
        if self.registered {
            // SAFETY: this thread registered itself and is about to exit.
            unsafe { dpdk_sys::rte_thread_unregister() };
        }
    }
}

impl<R: Send + 'static> Workers<R> {
    pub fn new(eal: &Eal) -> Self {
        Workers {
            stop: StopFlag::new(),
            handles: Vec::new(),
            _eal: eal.clone(),
        }
    }

    pub fn stop_flag(&self) -> StopFlag {
        self.stop.clone()
    }

    /// Starts `f` on a thread pinned to `core`.
    pub fn spawn<F>(&mut self, core: usize, f: F) -> Result<(), WorkerError>
    where
        F: FnOnce(&WorkerCtx) -> R + Send + 'static,
    {
        // Not core_affinity::get_core_ids(): it lists the caller's affinity mask, which EAL has
        // narrowed to the main lcore. Pinning reports a core that does not exist.
        // core_affinity indexes a fixed CPU_SETSIZE (1024) mask and panics past it.
        if core >= 1024 {
            return Err(WorkerError::BadCore(core));
        }
        let core_id = core_affinity::CoreId { id: core };
        let stop = self.stop.clone();
        let handle = std::thread::Builder::new()
            .name(format!("tcpterm-w{core}"))
            .spawn(move || {
                let mut guard = ThreadGuard {
                    stop: stop.clone(),
                    registered: false,
                };
                if !core_affinity::set_for_current(core_id) {
                    stop.set();
                    return Err(WorkerError::BadCore(core));
                }
                // SAFETY: registers the calling (non-EAL) thread; EAL is alive (Workers holds
                // it and joins every thread before dropping it).
                if unsafe { dpdk_sys::rte_thread_register() } < 0 {
                    stop.set();
                    return Err(WorkerError::Start {
                        core,
                        source: PortError::from_rte_errno("rte_thread_register"),
                    });
                }
                guard.registered = true;
                let ctx = WorkerCtx {
                    core,
                    lcore_id: super::lcore_id(),
                    stop,
                };
                Ok(f(&ctx))
            })
            .map_err(|e| WorkerError::Start {
                core,
                source: PortError::Invalid(format!("thread spawn: {e}")),
            })?;
        self.handles.push((core, handle));
        Ok(())
    }

    /// Asks every worker to stop.
    pub fn stop(&self) {
        self.stop.set();
    }

    /// Waits for every worker (in spawn order). A worker that panicked or failed to start makes
    /// the others stop; the first such error is returned after all have been joined.
    pub fn join(mut self) -> Result<Vec<R>, WorkerError> {
        let mut out = Vec::with_capacity(self.handles.len());
        let mut first_err = None;
        for (core, h) in self.handles.drain(..) {
            let r = match h.join() {
                Ok(r) => r,
                Err(p) => Err(WorkerError::Panicked {
                    core,
                    message: panic_message(&p),
                }),
            };
            match r {
                Ok(v) => out.push(v),
                Err(e) => {
                    self.stop.set();
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }
}

impl<R: Send + 'static> Drop for Workers<R> {
    fn drop(&mut self) {
        // Dropped without join (e.g. the main thread is unwinding): stop and reap the threads
        // so none outlives EAL.
        self.stop.set();
        for (_, h) in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".into()
    }
}
