use super::ethdev::PortShared;
use super::{Mbuf, Mempool};
use dpdk_sys as sys;
use stack::{Transmit, TxMeta};
use std::sync::Arc;

/// The burst size the layer is tuned for.
pub const BURST: usize = 32;

/// One RX queue of a started port, polled by one thread.
pub struct RxQueue {
    port: Arc<PortShared>,
    queue: u16,
}

/// One TX queue of a started port, used by one thread.
pub struct TxQueue {
    port: Arc<PortShared>,
    queue: u16,
}

impl RxQueue {
    pub(crate) fn new(port: Arc<PortShared>, queue: u16) -> Self {
        RxQueue { port, queue }
    }

    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Receives up to `bufs`' spare capacity (at most `u16::MAX`) and appends the packets to
    /// `bufs`, which then owns them. Returns how many arrived. Reserve capacity first, e.g.
    /// `Vec::with_capacity(BURST)`.
    #[inline]
    pub fn rx_burst(&mut self, bufs: &mut Vec<Mbuf>) -> usize {
        let len = bufs.len();
        let room = (bufs.capacity() - len).min(u16::MAX as usize) as u16;
        if room == 0 {
            return 0;
        }
        // SAFETY: the port is started and stays alive (we hold its Arc); this queue is polled
        // only through this &mut RxQueue. DPDK writes n <= room valid mbuf pointers into the
        // spare capacity, and Mbuf is repr(transparent) over a non-null mbuf pointer, so the
        // first len + n elements are then initialised and owned by the Vec.
        unsafe {
            let dst = bufs.as_mut_ptr().add(len) as *mut *mut sys::rte_mbuf;
            let n = sys::tcpterm_rx_burst(self.port.id, self.queue, dst, room) as usize;
            bufs.set_len(len + n);
            n
        }
    }
}

impl TxQueue {
    pub(crate) fn new(port: Arc<PortShared>, queue: u16) -> Self {
        TxQueue { port, queue }
    }

    pub fn port_id(&self) -> u16 {
        self.port.id
    }

    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Offers `bufs` to the device, from the front. Sent mbufs are removed from `bufs` (the
    /// driver owns and frees them); unsent ones stay, in order, for the caller to retry or drop.
    /// Returns how many were sent.
    #[inline]
    pub fn tx_burst(&mut self, bufs: &mut Vec<Mbuf>) -> usize {
        let len = bufs.len().min(u16::MAX as usize);
        if len == 0 {
            return 0;
        }
        // SAFETY: the port is started and alive (Arc); this queue is used only through this
        // &mut TxQueue. The first n pointers now belong to the driver, so they are removed from
        // the Vec without running Drop: the Vec's length is cut to 0 before the unsent tail is
        // moved to the front, so a panic cannot double-free.
        unsafe {
            let base = bufs.as_mut_ptr();
            let n = sys::tcpterm_tx_burst(
                self.port.id,
                self.queue,
                base as *mut *mut sys::rte_mbuf,
                len as u16,
            ) as usize;
            if n > 0 {
                let total = bufs.len();
                bufs.set_len(0);
                std::ptr::copy(base.add(n), base, total - n);
                bufs.set_len(total - n);
            }
            n
        }
    }

    /// Runs the driver's TX prepare (offload fix-ups some devices need) over `bufs`. Returns
    /// how many from the front are ready; the one after them, if any, is invalid and the
    /// caller should drop it.
    pub fn tx_prepare(&mut self, bufs: &mut [Mbuf]) -> usize {
        let len = bufs.len().min(u16::MAX as usize);
        // SAFETY: port alive and started; the mbufs stay owned by the slice (prepare only
        // modifies headers and flags in place).
        unsafe {
            sys::tcpterm_tx_prepare(
                self.port.id,
                self.queue,
                bufs.as_mut_ptr() as *mut *mut sys::rte_mbuf,
                len as u16,
            ) as usize
        }
    }
}

/// Counters of a [`TxBatch`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxStats {
    pub sent: u64,
    /// Frames freed because the device did not take them after retries.
    pub dropped: u64,
    /// Frames not built because the pool was empty (or the frame too large for an mbuf).
    pub alloc_failed: u64,
}

/// Collects up to [`BURST`] mbufs and sends them with one `tx_burst`. Implements
/// [`stack::Transmit`], so the engine builds its frames straight into mbufs.
pub struct TxBatch {
    txq: TxQueue,
    pool: Mempool,
    bufs: Vec<Mbuf>,
    stats: TxStats,
}

/// Consecutive tx_burst calls that may send nothing before the rest is dropped: enough to ride
/// out a briefly full ring, short enough never to stall a worker.
const TX_STALL_RETRIES: u32 = 4;

impl TxBatch {
    pub fn new(txq: TxQueue, pool: Mempool) -> Self {
        TxBatch {
            txq,
            pool,
            bufs: Vec::with_capacity(BURST),
            stats: TxStats::default(),
        }
    }

    /// Queues `m`, sending the batch first if it is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) {
        if self.bufs.len() >= BURST {
            self.flush();
        }
        self.bufs.push(m);
    }

    /// Sends everything queued. Retries while the device makes progress; what it still refuses
    /// after a few empty tries is freed and counted as dropped. Returns how many were sent.
    pub fn flush(&mut self) -> usize {
        let mut sent = 0;
        let mut stalls = 0;
        while !self.bufs.is_empty() {
            let n = self.txq.tx_burst(&mut self.bufs);
            sent += n;
            if n == 0 {
                stalls += 1;
                if stalls >= TX_STALL_RETRIES {
                    self.stats.dropped += self.bufs.len() as u64;
                    self.bufs.clear();
                    break;
                }
            } else {
                stalls = 0;
            }
        }
        self.stats.sent += sent as u64;
        sent
    }

    /// Frames queued and not yet sent.
    pub fn len(&self) -> usize {
        self.bufs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bufs.is_empty()
    }

    pub fn stats(&self) -> TxStats {
        self.stats
    }

    pub fn pool(&self) -> &Mempool {
        &self.pool
    }

    pub fn queue(&mut self) -> &mut TxQueue {
        &mut self.txq
    }

    /// Flushes and hands back the queue.
    pub fn into_queue(mut self) -> TxQueue {
        self.flush();
        // Drop would flush again; take the fields out instead.
        let bufs = std::mem::take(&mut self.bufs);
        drop(bufs);
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never used or dropped again; each field is read out exactly once
        // (txq and pool moved out; bufs already taken and stats is Copy).
        unsafe {
            let _pool = std::ptr::read(&this.pool);
            std::ptr::read(&this.txq)
        }
    }
}

impl Transmit for TxBatch {
    #[inline]
    fn frame<F: FnOnce(&mut [u8])>(&mut self, len: usize, meta: TxMeta, fill: F) -> bool {
        let Some(m) = self.pool.alloc_frame(len, meta, fill) else {
            self.stats.alloc_failed += 1;
            return false;
        };
        self.push(m);
        true
    }
}

impl Drop for TxBatch {
    fn drop(&mut self) {
        self.flush();
    }
}
