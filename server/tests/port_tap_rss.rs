//! Several queues on `net_tap` (2 queue pairs): the kernel routes datagrams of many flows into
//! the tap interface; they arrive spread over both queues, every packet of a flow on one queue.
//! Also checks that the port does not report symmetric RSS for a device that advertises hash
//! support but cannot apply our key and redirection table.
//! Needs root (creates a tap interface); skipped with a message otherwise.

mod port_common;

use port_common::{eal_args, require_root, sh};
use stack::wire::RxCsum;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};
use tcpterm::port::{Eal, Mempool, Port, PortConfig, RssStatus, BURST};

const FLOWS: u16 = 64;
const PER_FLOW: u16 = 6;

struct DelLink(String);
impl Drop for DelLink {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.0]).output();
    }
}

#[test]
fn tap_two_queues_spread_flows_and_keep_each_flow_on_one_queue() {
    if !require_root("tap_two_queues_spread_flows_and_keep_each_flow_on_one_queue") {
        return;
    }
    let iface = format!("tttap{}", std::process::id() % 100_000);
    let _cleanup = DelLink(iface.clone());
    let vdev = format!("net_tap0,iface={iface}");
    let _rt = port_common::runtime_dir("tap");

    let eal = Eal::init(eal_args("tap", 0, &[vdev])).expect("EAL");
    let pool = Mempool::new(&eal, "tap_pool", 8191, 64).unwrap();
    let id = Port::id_by_name(&eal, "net_tap0").expect("tap port");
    let info = Port::query(&eal, id).unwrap();
    let cfg = PortConfig {
        queues: 2,
        ..PortConfig::default()
    };
    let port = Port::open(&eal, id, &cfg, &pool).expect("open tap with 2 queue pairs");
    println!(
        "tap: rss {:?} (device RSS types {:#x}, key {} bytes, reta {}), checksum {:?}",
        port.rss(),
        info.flow_type_rss_offloads,
        info.hash_key_size,
        info.reta_size,
        port.checksum_caps()
    );
    // net_tap advertises hash types and a 40-byte key but has no redirection table and lets the
    // kernel pick queues: the port must not claim predictable symmetric RSS.
    assert_eq!(
        port.rss(),
        RssStatus::Unsupported,
        "tap RSS is not NIC Toeplitz RSS"
    );
    let mut rxq = [port.rx_queue(0).unwrap(), port.rx_queue(1).unwrap()];

    // The kernel side of the tap: an address in the benchmarking range, and a static neighbour
    // for the "host" behind it so that no ARP is needed.
    sh(&["ip", "link", "set", &iface, "up"]);
    sh(&["ip", "addr", "add", "198.18.2.1/24", "dev", &iface]);
    sh(&[
        "ip",
        "neigh",
        "replace",
        "198.18.2.2",
        "lladdr",
        "02:00:00:00:02:02",
        "dev",
        &iface,
    ]);
    let script = format!(
        "for p in $(seq 20000 {}); do exec 3>/dev/udp/198.18.2.2/$p; \
         for i in $(seq 1 {PER_FLOW}); do echo -n x >&3; done; exec 3>&-; done",
        20000 + FLOWS - 1
    );
    sh(&["bash", "-c", &script]);

    let total = FLOWS as usize * PER_FLOW as usize;
    let mut flow_queues: HashMap<u16, [usize; 2]> = HashMap::new();
    let mut per_queue = [0usize; 2];
    let mut bufs = Vec::with_capacity(BURST);
    let deadline = Instant::now() + Duration::from_secs(5);
    while per_queue.iter().sum::<usize>() < total && Instant::now() < deadline {
        for (q, rx) in rxq.iter_mut().enumerate() {
            rx.rx_burst(&mut bufs);
            for m in bufs.drain(..) {
                let f = m.data();
                if f.len() >= 42
                    && f[12..14] == [8, 0]
                    && f[23] == 17
                    && f[30..34] == [198, 18, 2, 2]
                {
                    // The PMD verified checksums (offload enabled): the engine sees the result.
                    if port.checksum_caps().rx_ipv4 {
                        assert_eq!(m.rx_meta().ipv4, RxCsum::Good, "IPv4 header checksum");
                    }
                    let dport = u16::from_be_bytes([f[36], f[37]]);
                    flow_queues.entry(dport).or_default()[q] += 1;
                    per_queue[q] += 1;
                }
            }
        }
    }
    println!(
        "tap: per-queue packets {per_queue:?}, flows {}",
        flow_queues.len()
    );
    assert_eq!(
        per_queue.iter().sum::<usize>(),
        total,
        "every datagram arrived"
    );
    for (dport, counts) in &flow_queues {
        assert!(
            counts[0] == 0 || counts[1] == 0,
            "flow to port {dport} split over queues: {counts:?}"
        );
    }
    assert!(
        per_queue[0] > 0 && per_queue[1] > 0,
        "flows spread over both queues: {per_queue:?}"
    );
    drop(rxq);
    drop(port);
    assert_eq!(pool.available(), pool.capacity());
}
