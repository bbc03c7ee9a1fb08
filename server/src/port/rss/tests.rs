//! `plan` and `program` against a model NIC that hashes with the key it was configured with and
//! picks queues through its redirection table, as ixgbe, i40e or mlx5 do: the software's
//! prediction of a flow's queue must match the model for both directions of every flow.

use super::*;
use crate::gen::ports::{ports_for_queue, Steering, FIRST_PORT};
use core::net::{Ipv4Addr, SocketAddrV4};
use stack::wire::toeplitz::{hash, queue_for, Toeplitz, SYMMETRIC_KEY};

/// A NIC after `rte_eth_dev_configure` with `configured` as its key.
struct ModelNic {
    /// The key it hashes with: the configured one, or its own if it ignores the configuration.
    key: Vec<u8>,
    reta: Vec<u16>,
    accepts_reta: bool,
}

impl ModelNic {
    /// An ixgbe-like device: 128-entry table, initially everything on queue 0.
    fn applying(configured: &[u8]) -> Self {
        ModelNic {
            key: configured.to_vec(),
            reta: vec![0; 128],
            accepts_reta: true,
        }
    }

    /// The queue it delivers an IPv4/TCP frame of this 4-tuple to, from the reference
    /// bit-by-bit Toeplitz hash over its whole key. The table is indexed by the hash's low
    /// bits, which for the power-of-two sizes of real devices is the remainder.
    fn queue_of(&self, src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16) -> u16 {
        let mut input = Vec::with_capacity(12);
        input.extend_from_slice(&src.octets());
        input.extend_from_slice(&dst.octets());
        input.extend_from_slice(&sport.to_be_bytes());
        input.extend_from_slice(&dport.to_be_bytes());
        self.reta[hash(&self.key, &input) as usize % self.reta.len()]
    }
}

impl RssDevice for ModelNic {
    fn read_key(&self, key: &mut [u8]) -> bool {
        if key.len() != self.key.len() {
            return false;
        }
        key.copy_from_slice(&self.key);
        true
    }

    fn write_reta(&mut self, table: &[u16]) -> bool {
        if !self.accepts_reta || table.len() != self.reta.len() {
            return false;
        }
        self.reta.copy_from_slice(table);
        true
    }
}

fn info(rss_offloads: u64, hash_key_size: u8, reta_size: u16) -> PortInfo {
    PortInfo {
        id: 0,
        name: "model".into(),
        driver: "model".into(),
        max_rx_queues: 16,
        max_tx_queues: 16,
        rx_offload_capa: 0,
        tx_offload_capa: 0,
        flow_type_rss_offloads: rss_offloads,
        hash_key_size,
        reta_size,
        min_mtu: 68,
        max_mtu: 9000,
    }
}

/// xorshift64*: flows spread over the address space without a dependency.
fn flows(n: usize) -> impl Iterator<Item = (Ipv4Addr, Ipv4Addr, u16, u16)> {
    let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n).map(move |_| {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        let r = s.wrapping_mul(0x2545_f491_4f6c_dd1d);
        let a = Ipv4Addr::from((r >> 32) as u32);
        let b = Ipv4Addr::from(r as u32 ^ 0x5bd1_e995);
        (a, b, (r >> 16) as u16, (r >> 48) as u16)
    })
}

#[test]
fn plan_wants_ipv4_tcp_hashing_a_long_enough_key_and_several_queues() {
    let tcp = sys::TCPTERM_ETH_RSS_NONFRAG_IPV4_TCP | sys::TCPTERM_ETH_RSS_IPV4;
    let nic = info(tcp, 40, 128);
    assert_eq!(plan(true, 4, &nic), RssStatus::Symmetric { reta_size: 128 });
    assert_eq!(
        plan(true, 1, &nic),
        RssStatus::Off,
        "one queue needs no RSS"
    );
    assert_eq!(plan(false, 4, &nic), RssStatus::Off, "RSS not requested");
    assert_eq!(
        plan(true, 4, &info(sys::TCPTERM_ETH_RSS_IPV4, 40, 128)),
        RssStatus::Unsupported,
        "hashes addresses only: both directions agree, but all of one host's flows share a queue"
    );
    assert_eq!(
        plan(true, 4, &info(tcp, 16, 128)),
        RssStatus::Unsupported,
        "a 16-byte key cannot hold the symmetric key"
    );
    assert_eq!(
        plan(true, 2, &info(tcp, 52, 512)),
        RssStatus::Symmetric { reta_size: 512 }
    );
}

#[test]
fn device_key_extends_the_symmetric_pattern() {
    assert_eq!(
        device_key(0),
        SYMMETRIC_KEY.to_vec(),
        "40 bytes at the least"
    );
    let long = device_key(52);
    assert_eq!(long.len(), 52);
    assert!(long.chunks(2).all(|p| p == [0x6d, 0x5a]), "{long:x?}");
}

#[test]
fn programmed_nic_puts_both_directions_where_software_predicts() {
    let t = Toeplitz::new(&SYMMETRIC_KEY);
    for (key_len, queues) in [(40u8, 2u16), (40, 3), (52, 4), (52, 7)] {
        let key = device_key(key_len);
        let mut nic = ModelNic::applying(&key);
        assert!(program(&mut nic, queues, &key, 128));
        assert_eq!(nic.reta, round_robin_reta(128, queues));
        let mut per_queue = vec![0u32; queues as usize];
        for (a, b, pa, pb) in flows(20_000) {
            let q = nic.queue_of(a, b, pa, pb);
            assert_eq!(q, nic.queue_of(b, a, pb, pa), "reply on another queue");
            let predicted = queue_for(t.hash_ipv4_tcp(a, b, pa, pb), 128, queues);
            assert_eq!(q, predicted, "{a}:{pa} -> {b}:{pb}, key {key_len} B");
            per_queue[q as usize] += 1;
        }
        let fair = 20_000 / u32::from(queues);
        assert!(
            per_queue
                .iter()
                .all(|&n| n > fair * 8 / 10 && n < fair * 12 / 10),
            "flows spread unevenly over {queues} queues: {per_queue:?}"
        );
    }
}

#[test]
fn gen_source_ports_bring_replies_to_the_opening_worker() {
    let key = device_key(40);
    let queues = 4;
    let mut nic = ModelNic::applying(&key);
    assert!(program(&mut nic, queues, &key, 128));
    let local = Ipv4Addr::new(198, 18, 0, 2);
    let target = SocketAddrV4::new(Ipv4Addr::new(198, 18, 0, 1), 80);
    let steering = Steering::Rss {
        reta_size: 128,
        queues,
    };
    let mut owners = vec![None; 65_536];
    for q in 0..queues {
        for p in ports_for_queue(local, target, steering, q) {
            assert_eq!(owners[p as usize], None, "port {p} given to two workers");
            owners[p as usize] = Some(q);
            let reply = nic.queue_of(*target.ip(), local, target.port(), p);
            assert_eq!(reply, q, "reply to source port {p} reaches queue {reply}");
            assert_eq!(nic.queue_of(local, *target.ip(), p, target.port()), q);
        }
    }
    let given = owners[FIRST_PORT as usize..].iter().flatten().count();
    assert_eq!(
        given,
        usize::from(u16::MAX - FIRST_PORT) + 1,
        "ports left out"
    );
}

#[test]
fn program_refuses_devices_that_do_not_apply_key_and_table() {
    let key = device_key(40);
    // net_tap-like: reports a key and hash types, but has no redirection table.
    assert!(!program(&mut ModelNic::applying(&key), 2, &key, 0));
    // Ignores the configured key and hashes with its own.
    let mut own_key = ModelNic::applying(&[0x42; 40]);
    assert!(!program(&mut own_key, 2, &key, 128));
    assert_eq!(
        own_key.reta,
        vec![0; 128],
        "table written for a key it ignores"
    );
    // Refuses the table.
    let mut fixed = ModelNic::applying(&key);
    fixed.accepts_reta = false;
    assert!(!program(&mut fixed, 2, &key, 128));
}

#[test]
fn round_robin_reta_assigns_entry_i_to_queue_i_mod_queues() {
    assert_eq!(round_robin_reta(8, 3), [0, 1, 2, 0, 1, 2, 0, 1]);
    assert_eq!(round_robin_reta(4, 1), [0; 4]);
    assert!(round_robin_reta(0, 2).is_empty());
}
