//! Several queues on `net_tap` (2 queue pairs): the kernel routes datagrams of many flows into
//! the tap interface; they arrive spread over both queues, every packet of a flow on one queue.
//! Also checks that the port does not report symmetric RSS for a device that advertises hash
//! support but cannot apply our key and redirection table.
//! Needs root (creates a tap interface); skipped with a message otherwise.

mod support;

use stack::wire::RxCsum;
use support::flows::{self, udp_flows_script};
use support::host::{require_root, sh, DelLink};
use tcpterm::port::{Mempool, Port, PortConfig, RssStatus};

const FLOWS: u16 = 64;
const PER_FLOW: u16 = 6;

#[test]
fn tap_two_queues_spread_flows_and_keep_each_flow_on_one_queue() {
    if !require_root("tap_two_queues_spread_flows_and_keep_each_flow_on_one_queue") {
        return;
    }
    let iface = format!("tttap{}", std::process::id() % 100_000);
    let _cleanup = DelLink(iface.clone());
    let vdev = format!("net_tap0,iface={iface}");
    let eal = support::eal::init("tap", 0, &[vdev]);
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
    sh(&[
        "bash",
        "-c",
        &udp_flows_script("198.18.2.2", FLOWS, PER_FLOW),
    ]);

    let total = FLOWS as usize * PER_FLOW as usize;
    let spread = flows::receive(&mut rxq, [198, 18, 2, 2], total, |m| {
        // The PMD verified checksums (offload enabled): the engine sees the result.
        if port.checksum_caps().rx_ipv4 {
            assert_eq!(m.rx_meta().ipv4, RxCsum::Good, "IPv4 header checksum");
        }
    });
    println!(
        "tap: per-queue packets {:?}, flows {}",
        spread.per_queue,
        spread.flows.len()
    );
    spread.assert_spread_and_kept_together(total);
    drop(rxq);
    drop(port);
    assert_eq!(pool.available(), pool.capacity());
}
