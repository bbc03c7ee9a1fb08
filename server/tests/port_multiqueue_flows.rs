//! Several queues: `net_af_packet` with 2 queue pairs on a veth. The kernel in a namespace
//! sends datagrams of many flows; they arrive spread over both queues, and every packet of a
//! flow on one queue. af_packet has no NIC RSS (the kernel's fanout hash spreads flows), so
//! the port must report RSS as unsupported rather than pretend.
//! Needs root (namespaces, veth); skipped with a message otherwise.

mod support;

use std::time::Duration;
use support::flows::{self, udp_flows_script};
use support::host::{require_root, VethNs};
use tcpterm::port::{Mempool, Port, PortConfig, RssStatus};

const FLOWS: u16 = 64;
const PER_FLOW: u16 = 6;

#[test]
fn af_packet_two_queues_spread_flows_and_keep_each_flow_on_one_queue() {
    if !require_root("af_packet_two_queues_spread_flows_and_keep_each_flow_on_one_queue") {
        return;
    }
    let net = VethNs::new("mq", "198.18.0.2/24");
    let vdev = format!("net_af_packet0,iface={},qpairs=2", net.host_if);
    let eal = support::eal::init("mq", 0, &[vdev]);
    let pool = Mempool::new(&eal, "mq_pool", 8191, 64).unwrap();
    let id = Port::id_by_name(&eal, "net_af_packet0").expect("af_packet port");
    let cfg = PortConfig {
        queues: 2,
        promiscuous: true,
        ..PortConfig::default()
    };
    let port = Port::open(&eal, id, &cfg, &pool).expect("open with 2 queue pairs");
    assert_eq!(port.queues(), 2);
    assert_eq!(
        port.rss(),
        RssStatus::Unsupported,
        "af_packet cannot do NIC RSS"
    );
    assert!(port.wait_link_up(Duration::from_secs(2)).up);
    let mut rxq = [port.rx_queue(0).unwrap(), port.rx_queue(1).unwrap()];

    // No ARP needed: a static neighbour for the DPDK side.
    let mac = port.mac().0.map(|b| format!("{b:02x}")).join(":");
    net.ns_exec(&[
        "ip",
        "neigh",
        "replace",
        "198.18.0.1",
        "lladdr",
        &mac,
        "dev",
        &net.ns_if,
    ]);
    net.ns_bash(&udp_flows_script("198.18.0.1", FLOWS, PER_FLOW));

    let total = FLOWS as usize * PER_FLOW as usize;
    let spread = flows::receive(&mut rxq, [198, 18, 0, 1], total, |_| {});
    println!(
        "multiqueue: per-queue packets {:?}, flows {}",
        spread.per_queue,
        spread.flows.len()
    );
    spread.assert_spread_and_kept_together(total);
    assert_eq!(spread.flows.len(), FLOWS as usize);
    for counts in spread.flows.values() {
        assert_eq!(counts[0] + counts[1], PER_FLOW as usize);
    }
    drop(rxq);
    drop(port);
    assert_eq!(pool.available(), pool.capacity());
}
