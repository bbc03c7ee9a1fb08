//! Several queues: `net_af_packet` with 2 queue pairs on a veth. The kernel in a namespace
//! sends datagrams of many flows; they arrive spread over both queues, and every packet of a
//! flow on one queue. af_packet has no NIC RSS (the kernel's fanout hash spreads flows), so
//! the port must report RSS as unsupported rather than pretend.
//! Needs root (namespaces, veth); skipped with a message otherwise.

mod port_common;

use port_common::{eal_args, require_root, VethNs};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tcpterm::port::{Eal, Mempool, Port, PortConfig, RssStatus, BURST};

const FLOWS: u16 = 64;
const PER_FLOW: u16 = 6;

#[test]
fn af_packet_two_queues_spread_flows_and_keep_each_flow_on_one_queue() {
    if !require_root("af_packet_two_queues_spread_flows_and_keep_each_flow_on_one_queue") {
        return;
    }
    let net = VethNs::new("mq", "198.18.0.2/24");
    let vdev = format!("net_af_packet0,iface={},qpairs=2", net.host_if);
    let _rt = port_common::runtime_dir("mq");

    let eal = Eal::init(eal_args("mq", 0, &[vdev])).expect("EAL");
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
    // One flow per destination port: each bash fd is one UDP socket (one source port).
    let script = format!(
        "for p in $(seq 20000 {}); do exec 3>/dev/udp/198.18.0.1/$p; \
         for i in $(seq 1 {PER_FLOW}); do echo -n x >&3; done; exec 3>&-; done",
        20000 + FLOWS - 1
    );
    net.ns_bash(&script);

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
                // IPv4/UDP to 198.18.0.1 from the namespace only (ignore IPv6 noise etc.).
                if f.len() >= 42
                    && f[12..14] == [8, 0]
                    && f[23] == 17
                    && f[30..34] == [198, 18, 0, 1]
                {
                    let dport = u16::from_be_bytes([f[36], f[37]]);
                    flow_queues.entry(dport).or_default()[q] += 1;
                    per_queue[q] += 1;
                }
            }
        }
    }
    println!(
        "multiqueue: per-queue packets {per_queue:?}, flows {}",
        flow_queues.len()
    );
    assert_eq!(
        per_queue.iter().sum::<usize>(),
        total,
        "every datagram arrived"
    );
    assert_eq!(flow_queues.len(), FLOWS as usize);
    for (dport, counts) in &flow_queues {
        assert!(
            counts[0] == 0 || counts[1] == 0,
            "flow to port {dport} split over queues: {counts:?}"
        );
        assert_eq!(counts[0] + counts[1], PER_FLOW as usize);
    }
    assert!(
        per_queue[0] > 0 && per_queue[1] > 0,
        "flows spread over both queues: {per_queue:?}"
    );
    drop(rxq);
    drop(port);
    assert_eq!(pool.available(), pool.capacity());
}
