//! How many mbufs a port needs and how large each must be.

use crate::port::{Mempool, BURST};

/// Mbufs for every descriptor of every queue, plus bursts in flight and per-core caches, plus
/// `ring_frames` that rings between workers (software RSS) may hold.
pub fn size(workers: usize, queues: usize, rx_desc: u16, tx_desc: u16, ring_frames: usize) -> u32 {
    let per_queue = rx_desc as usize + tx_desc as usize;
    let per_worker = 4 * BURST + 512;
    let n = (queues * per_queue + workers * per_worker + ring_frames).max(8192);
    // Mempools are most memory-efficient at 2^k - 1 elements.
    (n.next_power_of_two() - 1) as u32
}

/// Frames up to the MTU plus Ethernet header and the mbuf headroom fit in one segment.
pub fn data_room(mtu: u16) -> u16 {
    (mtu as usize + 14 + 4 + 128).max(Mempool::DEFAULT_DATA_ROOM as usize) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_covers_every_descriptor_and_is_two_to_the_k_minus_one() {
        let n = size(4, 4, 1024, 1024, 0);
        assert!(n as usize >= 4 * 2048);
        assert!((n + 1).is_power_of_two());
        assert_eq!(size(1, 1, 64, 64, 0), 8191);
        assert!(size(4, 1, 1024, 1024, 20_000) as usize >= 2048 + 20_000);
    }

    #[test]
    fn jumbo_frames_get_a_larger_data_room() {
        assert_eq!(data_room(1500), Mempool::DEFAULT_DATA_ROOM);
        assert_eq!(data_room(9000), 9000 + 14 + 4 + 128);
    }
}
