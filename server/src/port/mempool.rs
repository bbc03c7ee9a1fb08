use super::{Eal, Mbuf, PortError, Result};
use stack::TxMeta;
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

/// A pool of packet buffers (`rte_pktmbuf_pool_create`). Cloning is cheap.
///
/// When the last handle drops the pool is freed only if every mbuf is back in it; otherwise it
/// is deliberately leaked (and EAL kept alive) so that a stray [`Mbuf`] never points into freed
/// memory.
#[derive(Clone)]
pub struct Mempool(Arc<PoolInner>);

struct PoolInner {
    ptr: NonNull<dpdk_sys::rte_mempool>,
    size: u32,
    name: String,
    eal: Eal,
}

// SAFETY: DPDK mempools (ring_mp_mc ops, per-lcore caches) are safe to use from any thread.
unsafe impl Send for PoolInner {}
// SAFETY: as above; all access goes through DPDK's thread-safe mempool API.
unsafe impl Sync for PoolInner {}

impl Mempool {
    /// Default data room: 2048 bytes of data after RTE_PKTMBUF_HEADROOM (128) of headroom.
    pub const DEFAULT_DATA_ROOM: u16 = dpdk_sys::TCPTERM_MBUF_DEFAULT_BUF_SIZE as u16;

    /// Creates a pool of `n` mbufs with a per-lcore cache of `cache` (0 to 512) and the
    /// default data room, on the caller's NUMA socket.
    pub fn new(eal: &Eal, name: &str, n: u32, cache: u32) -> Result<Mempool> {
        Self::with_data_room(eal, name, n, cache, Self::DEFAULT_DATA_ROOM)
    }

    pub fn with_data_room(
        eal: &Eal,
        name: &str,
        n: u32,
        cache: u32,
        data_room: u16,
    ) -> Result<Mempool> {
        let cname = CString::new(name)
            .map_err(|_| PortError::Invalid(format!("mempool name {name:?} contains NUL")))?;
        // SAFETY: EAL is initialised (eal exists); cname is a valid C string that DPDK copies.
        let ptr = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                cache,
                0,
                data_room,
                eal.socket_id(),
            )
        };
        let ptr = NonNull::new(ptr)
            .ok_or_else(|| PortError::from_rte_errno("rte_pktmbuf_pool_create"))?;
        Ok(Mempool(Arc::new(PoolInner {
            ptr,
            size: n,
            name: name.to_owned(),
            eal: eal.clone(),
        })))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Number of mbufs the pool was created with.
    pub fn capacity(&self) -> u32 {
        self.0.size
    }

    /// Mbufs in the pool, per-lcore caches included.
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is alive while self is.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.0.ptr.as_ptr()) }
    }

    /// Mbufs taken out of the pool (held by the application or by a device's rings).
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is alive while self is.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.0.ptr.as_ptr()) }
    }

    /// One mbuf, reset (empty, default headroom), or `None` when the pool is empty.
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool is alive; a non-NULL result is a fresh mbuf we now own.
        unsafe { Mbuf::from_raw(dpdk_sys::tcpterm_pktmbuf_alloc(self.0.ptr.as_ptr())) }
    }

    /// A `len`-byte frame written by `fill` and tagged with `meta` for the TX offloads, or
    /// `None` when the pool is empty or the frame does not fit one mbuf.
    #[inline]
    pub fn alloc_frame<F: FnOnce(&mut [u8])>(
        &self,
        len: usize,
        meta: TxMeta,
        fill: F,
    ) -> Option<Mbuf> {
        let mut m = self.alloc()?;
        fill(m.append(len)?);
        m.set_tx_meta(meta);
        Some(m)
    }

    /// Appends exactly `n` mbufs to `out`, or none at all (returns false) if the pool cannot
    /// supply them.
    pub fn alloc_bulk(&self, out: &mut Vec<Mbuf>, n: usize) -> bool {
        let Ok(n32) = u32::try_from(n) else {
            return false;
        };
        out.reserve(n);
        let len = out.len();
        // SAFETY: `out` has room for n more pointers; Mbuf is repr(transparent) over a non-null
        // rte_mbuf pointer, and on success DPDK writes n valid mbuf pointers there, which we
        // then own. On failure nothing is written and the length is unchanged.
        unsafe {
            let dst = out.as_mut_ptr().add(len) as *mut *mut dpdk_sys::rte_mbuf;
            if dpdk_sys::tcpterm_pktmbuf_alloc_bulk(self.0.ptr.as_ptr(), dst, n32) != 0 {
                return false;
            }
            out.set_len(len + n);
        }
        true
    }

    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.0.ptr.as_ptr()
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        // SAFETY: the pool is alive until freed here.
        let in_use = unsafe { dpdk_sys::rte_mempool_in_use_count(self.ptr.as_ptr()) };
        if in_use == 0 {
            // SAFETY: no handle and no mbuf refers to the pool any more.
            unsafe { dpdk_sys::rte_mempool_free(self.ptr.as_ptr()) };
        } else {
            eprintln!(
                "tcpterm: mempool {} dropped with {in_use} mbufs outstanding; leaking it",
                self.name
            );
            // Outstanding mbufs point into the pool's memory: keep EAL (and that memory) alive.
            std::mem::forget(self.eal.clone());
        }
    }
}
