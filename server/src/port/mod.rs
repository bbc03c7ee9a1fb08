//! The safe layer over DPDK: the only place in `server` where `unsafe` lives.
//!
//! Handles are reference-counted so that DPDK objects are torn down in the only safe order:
//! queues before their port, ports before their mempool, everything before EAL cleanup.
//!
//! - [`Eal`]: `rte_eal_init` once per process, `rte_eal_cleanup` when the last handle drops.
//! - [`Mempool`] and the owning [`Mbuf`].
//! - [`Port`]: discovery, capabilities, configuration (queues, symmetric RSS, checksum offloads,
//!   MTU, promiscuous/allmulti), link, MAC, stats and xstats.
//! - [`RxQueue`] / [`TxQueue`] / [`TxBatch`]: bursts with explicit ownership of mbufs;
//!   [`TxBatch`] implements [`stack::Transmit`].
//! - [`Workers`]: pinned std threads registered with DPDK, stopping together on a panic.
//! - [`TscClock`]: the TSC as a [`stack::Instant`] source.
//!
//! Every `unsafe` block and `unsafe impl` here says why it is sound in a `// SAFETY:` comment.

#![deny(clippy::undocumented_unsafe_blocks)]

mod clock;
mod eal;
mod ethdev;
mod mbuf;
mod mempool;
mod queue;
mod rss;
mod worker;

pub use clock::TscClock;
pub use eal::Eal;
pub use ethdev::{LinkStatus, Port, PortConfig, PortInfo, PortStats, RssStatus, SYMMETRIC_RSS_KEY};
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use queue::{RxQueue, TxBatch, TxQueue, TxStats, BURST};
pub use worker::{StopFlag, WorkerCtx, WorkerError, Workers};

use std::ffi::CStr;

/// Errors from the port layer. DPDK failures carry the call and `rte_strerror`'s text.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    #[error("{call} failed: {text} (errno {errno})")]
    Dpdk {
        call: &'static str,
        errno: i32,
        text: String,
    },
    #[error("EAL was already initialised in this process (rte_eal_init runs once per process)")]
    EalAlreadyInitialised,
    #[error("invalid argument: {0}")]
    Invalid(String),
    #[error("no such port: {0}")]
    NoSuchPort(String),
    #[error("queue {0} already taken or out of range")]
    QueueUnavailable(u16),
}

pub type Result<T> = std::result::Result<T, PortError>;

impl PortError {
    /// An error from a call that reports through `rte_errno` (NULL or -1 returns).
    pub(crate) fn from_rte_errno(call: &'static str) -> Self {
        // SAFETY: reads the calling thread's rte_errno; no preconditions.
        let errno = unsafe { dpdk_sys::tcpterm_errno() };
        Self::from_errno(call, errno)
    }

    /// An error from a call that returns `-errno`.
    pub(crate) fn from_errno(call: &'static str, errno: i32) -> Self {
        let errno = errno.abs();
        // SAFETY: rte_strerror returns a pointer to a static or thread-local NUL-terminated
        // string for any errno value; it is copied out at once.
        let text = unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(errno)) }
            .to_string_lossy()
            .into_owned();
        PortError::Dpdk { call, errno, text }
    }
}

/// Turns a DPDK `int` return (negative errno on failure) into a `Result`.
pub(crate) fn check(call: &'static str, ret: i32) -> Result<i32> {
    if ret < 0 {
        Err(PortError::from_errno(call, ret))
    } else {
        Ok(ret)
    }
}

/// The DPDK lcore id of the calling thread (`u32::MAX`, LCORE_ID_ANY, for threads that are
/// neither EAL lcores nor registered).
pub fn lcore_id() -> u32 {
    // SAFETY: reads a thread-local; no preconditions.
    unsafe { dpdk_sys::tcpterm_lcore_id() }
}
