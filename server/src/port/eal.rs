use super::{PortError, Result};
use std::ffi::{c_char, c_int, CString};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// 0: never initialised, 1: initialising or running, 2: cleaned up. DPDK cannot be initialised
/// again after cleanup, so the state never goes back to 0.
static STATE: AtomicU8 = AtomicU8::new(0);

/// The DPDK environment. Cloning is cheap; `rte_eal_cleanup` runs when the last clone drops,
/// and every mempool, port and worker holds one, so cleanup comes after all of them.
#[derive(Clone)]
pub struct Eal {
    /// Held for its Drop: cleanup when the last handle goes.
    _inner: Arc<EalInner>,
}

struct EalInner;

impl Eal {
    /// Runs `rte_eal_init` with `args` (EAL arguments only, without a program name), e.g.
    /// `["-l", "0", "--no-huge", "--no-pci", "-m", "512", "--vdev", "net_ring0"]`.
    pub fn init<I, S>(args: I) -> Result<Eal>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut owned = vec![CString::new("tcpterm").expect("no NUL")];
        for a in args {
            let a = a.as_ref();
            owned.push(
                CString::new(a)
                    .map_err(|_| PortError::Invalid(format!("EAL argument {a:?} contains NUL")))?,
            );
        }
        if STATE
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return Err(PortError::EalAlreadyInitialised);
        }
        // EAL may keep pointers into argv (it permutes it and some parsers keep the strings), so
        // argv lives for the rest of the process. It is a few bytes, once.
        let argv: &'static mut [*mut c_char] = Vec::leak(
            owned
                .into_iter()
                .map(CString::into_raw)
                .chain(std::iter::once(std::ptr::null_mut()))
                .collect(),
        );
        let argc = (argv.len() - 1) as c_int;
        // SAFETY: argv is a NULL-terminated array of argc valid NUL-terminated strings that is
        // never freed; the STATE guard ensures this runs once per process.
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            return Err(PortError::from_rte_errno("rte_eal_init"));
        }
        Ok(Eal {
            _inner: Arc::new(EalInner),
        })
    }

    /// Whether EAL is running in this process.
    pub fn is_running() -> bool {
        STATE.load(Ordering::Acquire) == 1
    }

    /// Number of EAL lcores (from `-l`/`--lcores`).
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: EAL is initialised (self exists).
        unsafe { dpdk_sys::rte_lcore_count() }
    }

    /// The NUMA socket of the calling thread.
    pub fn socket_id(&self) -> i32 {
        // SAFETY: EAL is initialised (self exists).
        unsafe { dpdk_sys::rte_socket_id() as i32 }
    }
}

impl Drop for EalInner {
    fn drop(&mut self) {
        // SAFETY: the last handle is gone; every mempool, port and worker thread held one, so
        // none of them is still in use.
        unsafe {
            dpdk_sys::rte_eal_cleanup();
        }
        STATE.store(2, Ordering::Release);
    }
}
