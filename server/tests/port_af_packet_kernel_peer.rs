//! The Linux kernel as a peer: `net_af_packet` on a veth whose other end sits in a network
//! namespace. The kernel's ARP request reaches the DPDK side; DPDK's ARP reply reaches the
//! kernel (it caches our MAC), after which the kernel sends the UDP datagram it held back.
//! Needs root (namespaces, veth); skipped with a message otherwise.

mod support;

use std::time::{Duration, Instant};
use support::frames::eth_frame;
use support::host::{require_root, VethNs};
use tcpterm::port::{Mbuf, Mempool, Port, PortConfig, RxQueue, BURST};

const DPDK_IP: [u8; 4] = [198, 18, 0, 1];
const KERNEL_IP: [u8; 4] = [198, 18, 0, 2];

/// Polls until `pred` accepts a frame; other frames are dropped.
fn wait_for(rxq: &mut RxQueue, secs: u64, mut pred: impl FnMut(&[u8]) -> bool) -> Option<Mbuf> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut bufs = Vec::with_capacity(BURST);
    while Instant::now() < deadline {
        if rxq.rx_burst(&mut bufs) == 0 {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        if let Some(i) = bufs.iter().position(|m| pred(m.data())) {
            return Some(bufs.swap_remove(i));
        }
        bufs.clear();
    }
    None
}

fn is_arp_request_for_us(f: &[u8]) -> bool {
    f.len() >= 42
        && f[12..14] == [0x08, 0x06]
        && f[20..22] == [0, 1] // op: request
        && f[28..32] == KERNEL_IP // sender IP
        && f[38..42] == DPDK_IP // target IP
}

#[test]
fn af_packet_kernel_arp_request_seen_and_answered() {
    if !require_root("af_packet_kernel_arp_request_seen_and_answered") {
        return;
    }
    let net = VethNs::new("ap", "198.18.0.2/24");
    let vdev = format!("net_af_packet0,iface={},qpairs=1", net.host_if);
    let eal = support::eal::init("afp", 0, &[vdev]);
    let pool = Mempool::new(&eal, "afp_pool", 4095, 32).unwrap();
    let id = Port::id_by_name(&eal, "net_af_packet0").expect("af_packet port");
    let cfg = PortConfig {
        promiscuous: true,
        ..PortConfig::default()
    };
    let port = Port::open(&eal, id, &cfg, &pool).expect("open af_packet");
    assert!(port.wait_link_up(Duration::from_secs(2)).up, "veth link up");
    let mac = port.mac();
    assert_ne!(mac.0, [0; 6]);
    let mut rxq = port.rx_queue(0).unwrap();
    let mut txq = port.tx_queue(0).unwrap();

    // The kernel has a datagram for 198.18.0.1 and no neighbour entry: it asks by ARP.
    net.ns_bash("echo -n tcpterm-hello > /dev/udp/198.18.0.1/9");
    let req = wait_for(&mut rxq, 5, is_arp_request_for_us)
        .expect("the kernel's ARP request")
        .data()
        .to_vec();
    let kernel_mac: [u8; 6] = req[22..28].try_into().unwrap();
    assert_eq!(
        &req[6..12],
        &kernel_mac,
        "Ethernet source is the ARP sender"
    );

    // Answer it.
    let mut arp = Vec::with_capacity(28);
    arp.extend_from_slice(&[0, 1, 0x08, 0x00, 6, 4, 0, 2]);
    arp.extend_from_slice(&mac.0);
    arp.extend_from_slice(&DPDK_IP);
    arp.extend_from_slice(&kernel_mac);
    arp.extend_from_slice(&KERNEL_IP);
    let reply = eth_frame(kernel_mac, mac.0, 0x0806, &arp);
    let mut m = pool.alloc().unwrap();
    m.append(reply.len()).unwrap().copy_from_slice(&reply);
    let mut bufs = vec![m];
    assert_eq!(txq.tx_burst(&mut bufs), 1);

    // The kernel now knows our MAC and releases the queued datagram to it.
    let udp = wait_for(&mut rxq, 5, |f| {
        f.len() >= 42 && f[12..14] == [0x08, 0x00] && f[23] == 17 && f[36..38] == [0, 9]
    })
    .expect("the UDP datagram after ARP resolution");
    assert_eq!(&udp.data()[0..6], &mac.0, "sent to our MAC");
    assert_eq!(&udp.data()[26..30], &KERNEL_IP);
    assert_eq!(&udp.data()[30..34], &DPDK_IP);
    assert_eq!(&udp.data()[42..55], b"tcpterm-hello");
    let neigh = net.ns_exec(&["ip", "neigh", "show", "198.18.0.1"]);
    let mac_text = mac.0.map(|b| format!("{b:02x}")).join(":");
    assert!(neigh.contains(&mac_text), "kernel neighbour table: {neigh}");

    let st = port.stats().unwrap();
    assert!(st.ipackets >= 2 && st.opackets >= 1, "{st:?}");
    println!("af_packet: kernel ARP request seen, reply accepted, UDP received; {st:?}");
    drop((udp, rxq, txq, port));
    assert_eq!(pool.available(), pool.capacity());
}
