//! Symmetric RSS: whether a port can have it, and programming the device so that software can
//! predict the queue of every flow (`stack::wire::toeplitz::queue_for`, which `gen` uses to pick
//! source ports and `serve` relies on to skip software steering).
//!
//! The two device calls sit behind [`RssDevice`] so that the logic can be checked against a
//! model NIC: no device on the test machines applies a key and a redirection table (net_tap
//! lets its kernel side pick queues and has no table).

use super::ethdev::{PortInfo, RssStatus};
use dpdk_sys as sys;

pub(crate) const HF_WANTED: u64 = sys::TCPTERM_ETH_RSS_IPV4
    | sys::TCPTERM_ETH_RSS_FRAG_IPV4
    | sys::TCPTERM_ETH_RSS_NONFRAG_IPV4_TCP
    | sys::TCPTERM_ETH_RSS_NONFRAG_IPV4_OTHER;

/// The symmetric key needs 40 bytes; shorter device keys cannot hold it.
const KEY_MIN: usize = 40;

/// What RSS a port opened with `queues` queue pairs will get, before programming confirms it.
pub(crate) fn plan(wanted: bool, queues: u16, info: &PortInfo) -> RssStatus {
    let hashes_tcp = info.flow_type_rss_offloads & sys::TCPTERM_ETH_RSS_NONFRAG_IPV4_TCP != 0;
    if !wanted || queues == 1 {
        RssStatus::Off
    } else if hashes_tcp && info.hash_key_size as usize >= KEY_MIN {
        RssStatus::Symmetric {
            reta_size: info.reta_size,
        }
    } else {
        RssStatus::Unsupported
    }
}

/// The symmetric key at the device's key length: the 0x6d5a pattern extended stays symmetric.
pub(crate) fn device_key(hash_key_size: u8) -> Vec<u8> {
    super::SYMMETRIC_RSS_KEY
        .iter()
        .copied()
        .cycle()
        .take((hash_key_size as usize).max(KEY_MIN))
        .collect()
}

/// Entry `i` to queue `i % queues`: the table `queue_for` assumes.
pub(crate) fn round_robin_reta(reta_size: u16, queues: u16) -> Vec<u16> {
    (0..reta_size).map(|i| i % queues.max(1)).collect()
}

/// The two calls that make a device's RSS predictable.
pub(crate) trait RssDevice {
    /// Reads the hash key the device applies into `key`; false when it cannot tell.
    fn read_key(&self, key: &mut [u8]) -> bool;
    /// Replaces the whole redirection table; false when the device refuses.
    fn write_reta(&mut self, table: &[u16]) -> bool;
}

/// Checks that the device applies `key` and sets the round-robin table. False when the device
/// does not really apply our key and table, so that the caller falls back to software steering.
pub(crate) fn program(dev: &mut impl RssDevice, queues: u16, key: &[u8], reta_size: u16) -> bool {
    if reta_size == 0 || queues == 0 {
        return false;
    }
    let mut back = vec![0u8; key.len()];
    dev.read_key(&mut back) && back == key && dev.write_reta(&round_robin_reta(reta_size, queues))
}

/// A started DPDK port.
pub(crate) struct Ethdev(pub u16);

impl RssDevice for Ethdev {
    fn read_key(&self, key: &mut [u8]) -> bool {
        let Ok(len) = u8::try_from(key.len()) else {
            return false;
        };
        let mut conf = sys::rte_eth_rss_conf {
            rss_key: key.as_mut_ptr(),
            rss_key_len: len,
            rss_hf: 0,
        };
        // SAFETY: conf points to a buffer of rss_key_len bytes, as the API requires.
        unsafe { sys::rte_eth_dev_rss_hash_conf_get(self.0, &mut conf) >= 0 }
    }

    fn write_reta(&mut self, table: &[u16]) -> bool {
        let Ok(size) = u16::try_from(table.len()) else {
            return false;
        };
        let group = sys::TCPTERM_ETH_RETA_GROUP_SIZE as usize;
        let mut reta: Vec<sys::rte_eth_rss_reta_entry64> = (0..table.len().div_ceil(group))
            .map(|_| sys::rte_eth_rss_reta_entry64 {
                mask: 0,
                reta: [0; 64],
            })
            .collect();
        for (i, &q) in table.iter().enumerate() {
            let e = &mut reta[i / group];
            e.mask |= 1 << (i % group);
            e.reta[i % group] = q;
        }
        // SAFETY: reta holds table.len() entries (in groups of 64) as announced.
        unsafe { sys::rte_eth_dev_rss_reta_update(self.0, reta.as_mut_ptr(), size) == 0 }
    }
}

#[cfg(test)]
mod tests;
