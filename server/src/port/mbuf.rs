use dpdk_sys as sys;
use stack::wire::{RxCsum, RxMeta};
use stack::TxMeta;
use std::ptr::NonNull;

/// An owned packet buffer: returned to its pool on drop.
///
/// Data accessors cover the first segment, which is the whole packet for every port this layer
/// configures (no scatter, frames up to the data room); [`Mbuf::is_contiguous`] tells.
#[repr(transparent)]
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an Mbuf is the sole owner of its rte_mbuf (refcount 1, never cloned by this layer);
// freeing it from another thread is supported by DPDK's thread-safe mempools.
unsafe impl Send for Mbuf {}

const RX_IP_CKSUM_MASK: u64 = sys::RTE_MBUF_F_RX_IP_CKSUM_MASK as u64;
const RX_IP_CKSUM_GOOD: u64 = sys::RTE_MBUF_F_RX_IP_CKSUM_GOOD as u64;
const RX_IP_CKSUM_BAD: u64 = sys::RTE_MBUF_F_RX_IP_CKSUM_BAD as u64;
const RX_IP_CKSUM_NONE: u64 = sys::RTE_MBUF_F_RX_IP_CKSUM_NONE as u64;
const RX_L4_CKSUM_MASK: u64 = sys::RTE_MBUF_F_RX_L4_CKSUM_MASK as u64;
const RX_L4_CKSUM_GOOD: u64 = sys::RTE_MBUF_F_RX_L4_CKSUM_GOOD as u64;
const RX_L4_CKSUM_BAD: u64 = sys::RTE_MBUF_F_RX_L4_CKSUM_BAD as u64;
const RX_L4_CKSUM_NONE: u64 = sys::RTE_MBUF_F_RX_L4_CKSUM_NONE as u64;
const RX_RSS_HASH: u64 = sys::RTE_MBUF_F_RX_RSS_HASH as u64;
const TX_IPV4: u64 = sys::RTE_MBUF_F_TX_IPV4;
const TX_IP_CKSUM: u64 = sys::RTE_MBUF_F_TX_IP_CKSUM;
const TX_TCP_CKSUM: u64 = sys::RTE_MBUF_F_TX_TCP_CKSUM;
const TX_OFFLOAD_FLAGS: u64 = TX_IPV4 | TX_IP_CKSUM | TX_TCP_CKSUM | sys::RTE_MBUF_F_TX_L4_MASK;
/// Bit layout of `tx_offload`: l2_len in bits 0..7, l3_len in bits 7..16.
const L3_LEN_SHIFT: u32 = sys::RTE_MBUF_L2_LEN_BITS;

impl Mbuf {
    /// Takes ownership of a raw mbuf (`None` for NULL).
    ///
    /// # Safety
    /// `ptr` must be NULL or a valid mbuf that nothing else owns or frees.
    #[inline]
    pub(crate) unsafe fn from_raw(ptr: *mut sys::rte_mbuf) -> Option<Mbuf> {
        NonNull::new(ptr).map(Mbuf)
    }

    /// Gives up ownership; the caller must eventually free the mbuf.
    #[inline]
    pub fn into_raw(self) -> *mut sys::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }

    #[inline]
    fn raw(&self) -> &sys::rte_mbuf {
        // SAFETY: we own a valid mbuf for as long as self lives.
        unsafe { self.0.as_ref() }
    }

    #[inline]
    fn raw_mut(&mut self) -> &mut sys::rte_mbuf {
        // SAFETY: we own a valid mbuf exclusively (&mut self).
        unsafe { self.0.as_mut() }
    }

    /// Length of the first segment's data.
    #[inline]
    pub fn len(&self) -> usize {
        self.raw().data_len as usize
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length of the whole packet (all segments).
    #[inline]
    pub fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    /// Whether the packet is a single segment (so `data()` is the whole packet).
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.raw().nb_segs == 1
    }

    #[inline]
    pub fn data(&self) -> &[u8] {
        let m = self.raw();
        // SAFETY: buf_addr + data_off .. + data_len lies inside the mbuf's buffer and is
        // initialised memory (pool memory is zero-filled at creation, then written by devices).
        // The borrow of self keeps the mbuf alive and unmodified.
        unsafe {
            std::slice::from_raw_parts(
                (m.buf_addr as *const u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let m = self.raw_mut();
        // SAFETY: as in data(); &mut self gives exclusive access, and this layer never creates
        // mbufs sharing a buffer (no clones or indirect mbufs).
        unsafe {
            std::slice::from_raw_parts_mut(
                (m.buf_addr as *mut u8).add(m.data_off as usize),
                m.data_len as usize,
            )
        }
    }

    #[inline]
    pub fn headroom(&self) -> usize {
        let m = self.raw();
        m.data_off as usize
    }

    #[inline]
    pub fn tailroom(&self) -> usize {
        // SAFETY: valid owned mbuf.
        unsafe { sys::tcpterm_pktmbuf_tailroom(self.0.as_ptr()) as usize }
    }

    /// Grows the packet by `n` bytes at the front (into the headroom) and returns them, or
    /// `None` (packet unchanged) when the headroom is too small.
    #[inline]
    pub fn prepend(&mut self, n: usize) -> Option<&mut [u8]> {
        self.grow(n, sys::tcpterm_pktmbuf_prepend)
    }

    /// Grows the packet by `n` bytes at the end (last segment) and returns them, or `None`
    /// (packet unchanged) when the tailroom is too small.
    #[inline]
    pub fn append(&mut self, n: usize) -> Option<&mut [u8]> {
        self.grow(n, sys::tcpterm_pktmbuf_append)
    }

    /// `prepend` or `append`, by the DPDK call `grow` names.
    #[inline]
    fn grow(
        &mut self,
        n: usize,
        grow: unsafe extern "C" fn(*mut sys::rte_mbuf, u16) -> *mut std::ffi::c_char,
    ) -> Option<&mut [u8]> {
        let n16 = u16::try_from(n).ok()?;
        // SAFETY: valid owned mbuf; both calls check the head- or tailroom and return NULL if
        // it is too small.
        let p = unsafe { grow(self.0.as_ptr(), n16) };
        if p.is_null() {
            return None;
        }
        // SAFETY: p..p+n is inside the buffer, now part of the data, exclusively ours.
        Some(unsafe { std::slice::from_raw_parts_mut(p as *mut u8, n) })
    }

    /// Removes `n` bytes from the front; false (unchanged) if the first segment is shorter.
    #[inline]
    pub fn adj(&mut self, n: usize) -> bool {
        let Ok(n16) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: valid owned mbuf; DPDK checks the length.
        !unsafe { sys::tcpterm_pktmbuf_adj(self.0.as_ptr(), n16) }.is_null()
    }

    /// Removes `n` bytes from the end; false (unchanged) if the last segment is shorter.
    #[inline]
    pub fn trim(&mut self, n: usize) -> bool {
        let Ok(n16) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: valid owned mbuf; DPDK checks the length.
        unsafe { sys::tcpterm_pktmbuf_trim(self.0.as_ptr(), n16) == 0 }
    }

    /// The port the packet was received on.
    #[inline]
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    #[inline]
    pub fn ol_flags(&self) -> u64 {
        self.raw().ol_flags
    }

    /// RTE_PTYPE_* bits from the NIC (0 when the device does not classify).
    #[inline]
    pub fn packet_type(&self) -> u32 {
        // SAFETY: every variant of this union is plain integers.
        unsafe { self.raw().__bindgen_anon_1.packet_type }
    }

    /// The NIC's RSS hash, when the device computed one for this packet.
    #[inline]
    pub fn rss_hash(&self) -> Option<u32> {
        let m = self.raw();
        if m.ol_flags & RX_RSS_HASH != 0 {
            // SAFETY: every variant of this union is plain integers; RX_RSS_HASH says `rss` is
            // the one written.
            Some(unsafe { m.__bindgen_anon_2.hash.rss })
        } else {
            None
        }
    }

    /// Receive checksum status as the engine wants it. `*_CKSUM_NONE` (checksum field not
    /// valid but integrity verified, e.g. locally generated traffic on virtual devices) counts
    /// as good.
    #[inline]
    pub fn rx_meta(&self) -> RxMeta {
        let f = self.ol_flags();
        let ipv4 = match f & RX_IP_CKSUM_MASK {
            RX_IP_CKSUM_GOOD | RX_IP_CKSUM_NONE => RxCsum::Good,
            RX_IP_CKSUM_BAD => RxCsum::Bad,
            _ => RxCsum::Unknown,
        };
        let l4 = match f & RX_L4_CKSUM_MASK {
            RX_L4_CKSUM_GOOD | RX_L4_CKSUM_NONE => RxCsum::Good,
            RX_L4_CKSUM_BAD => RxCsum::Bad,
            _ => RxCsum::Unknown,
        };
        RxMeta { ipv4, l4 }
    }

    /// Sets header lengths and IPv4/TCP checksum offload flags for transmit. Only request
    /// offloads the port enabled (see [`super::Port::checksum_caps`]).
    #[inline]
    pub fn set_tx_meta(&mut self, meta: TxMeta) {
        let m = self.raw_mut();
        let mut flags = m.ol_flags & !TX_OFFLOAD_FLAGS;
        if meta.ipv4_csum_offload || meta.tcp_csum_offload {
            // DPDK requires TX_IPV4 alongside either checksum request.
            flags |= TX_IPV4;
            if meta.ipv4_csum_offload {
                flags |= TX_IP_CKSUM;
            }
            if meta.tcp_csum_offload {
                flags |= TX_TCP_CKSUM;
            }
        }
        m.ol_flags = flags;
        m.__bindgen_anon_3.tx_offload = meta.l2_len as u64 | ((meta.l3_len as u64) << L3_LEN_SHIFT);
    }

    /// Header lengths from `tx_offload`: (l2_len, l3_len).
    #[inline]
    pub fn tx_lens(&self) -> (u8, u16) {
        // SAFETY: every variant of this union is plain integers.
        let t = unsafe { self.raw().__bindgen_anon_3.tx_offload };
        ((t & 0x7f) as u8, ((t >> L3_LEN_SHIFT) & 0x1ff) as u16)
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own the mbuf; it is not used after this.
        unsafe { sys::tcpterm_pktmbuf_free(self.0.as_ptr()) }
    }
}

impl std::fmt::Debug for Mbuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mbuf")
            .field("len", &self.len())
            .field("pkt_len", &self.pkt_len())
            .field("ol_flags", &format_args!("{:#x}", self.ol_flags()))
            .finish()
    }
}
