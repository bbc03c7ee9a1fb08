//! Every wire parser and view on arbitrary bytes: nothing may panic, and what parses must
//! survive an emit/parse round trip unchanged.
//!
//! Input: byte 0 picks checksum capabilities and NIC verdicts; the rest is an Ethernet frame.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stack::wire::arp::{ArpPacket, ArpRepr};
use stack::wire::ethernet::{EthernetFrame, EthernetRepr};
use stack::wire::frame::parse_frame;
use stack::wire::icmp::{self, FragNeeded, IcmpEcho, IcmpMessage};
use stack::wire::ipv4::{Ipv4Packet, Ipv4Repr};
use stack::wire::tcp::{TcpPacket, TcpRepr, MAX_HEADER_LEN};
use stack::wire::{checksum, ChecksumCaps, RxCsum, RxMeta, TxCsum};
use tcpterm_benches::{SERVER_IP, SERVER_MAC};

fn csum(bits: u8) -> RxCsum {
    match bits & 3 {
        1 => RxCsum::Good,
        2 => RxCsum::Bad,
        _ => RxCsum::Unknown,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, frame)) = data.split_first() else {
        return;
    };
    let caps = ChecksumCaps {
        rx_ipv4: sel & 1 != 0,
        rx_tcp: sel & 2 != 0,
        tx_ipv4: false,
        tx_tcp: false,
    };
    let meta = RxMeta {
        ipv4: csum(sel >> 2),
        l4: csum(sel >> 4),
    };
    let _ = parse_frame(frame, SERVER_MAC, SERVER_IP, caps, meta);

    let _ = checksum::checksum(frame);
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return;
    };
    let _ = (eth.dst(), eth.src(), eth.ethertype());
    if let Ok(repr) = EthernetRepr::parse(&eth) {
        let mut buf = [0u8; 14];
        repr.emit(&mut buf);
        let again = EthernetRepr::parse(&EthernetFrame::new_checked(&buf[..]).unwrap()).unwrap();
        assert_eq!(repr, again);
    }
    let l3 = eth.payload();

    if let Ok(arp) = ArpPacket::new_checked(l3) {
        let _ = arp.buffer();
        if let Ok(repr) = ArpRepr::parse(&arp) {
            let mut buf = [0u8; stack::wire::arp::PACKET_LEN];
            repr.emit(&mut buf);
            let again = ArpRepr::parse(&ArpPacket::new_checked(&buf[..]).unwrap()).unwrap();
            assert_eq!(repr, again);
        }
    }

    let Ok(ip) = Ipv4Packet::new_checked(l3) else {
        return;
    };
    let _ = (
        ip.header_len(),
        ip.total_len(),
        ip.src(),
        ip.dst(),
        ip.protocol(),
        ip.ttl(),
        ip.is_fragment(),
    );
    for c in [RxCsum::Unknown, RxCsum::Good, RxCsum::Bad] {
        let _ = Ipv4Repr::parse(&ip, c);
    }
    let l4 = ip.payload();

    if let Ok(icmp) = IcmpEcho::parse(l4) {
        let len = icmp.buffer_len();
        let mut buf = vec![0u8; len];
        icmp.emit(&mut buf);
        assert_eq!(IcmpEcho::parse(&buf).unwrap(), icmp);
    }
    // ICMP "fragmentation needed" (RFC 1191) and the quoted datagram it carries.
    if let Ok(IcmpMessage::FragNeeded(f)) = icmp::parse(l4) {
        let q = f.quoted;
        let _ = (
            q.src_port(),
            q.dst_port(),
            q.seq(),
            icmp::plateau_below(q.total_len),
        );
        let mut buf = vec![0u8; f.buffer_len()];
        f.emit(&mut buf);
        assert_eq!(FragNeeded::parse(&buf).unwrap(), f);
    }
    let _ = FragNeeded::parse(l4);

    let Ok(tcp) = TcpPacket::new_checked(l4) else {
        return;
    };
    let _ = (
        tcp.header_len(),
        tcp.src_port(),
        tcp.dst_port(),
        tcp.payload(),
    );
    let payload = tcp.payload();
    for c in [RxCsum::Unknown, RxCsum::Bad] {
        let _ = TcpRepr::parse(&tcp, ip.src(), ip.dst(), c);
    }
    if let Ok(repr) = TcpRepr::parse(&tcp, ip.src(), ip.dst(), RxCsum::Good) {
        let hl = repr.header_len();
        if hl <= MAX_HEADER_LEN {
            // What we parsed, we can write back, and it reads the same (checksum included).
            let mut seg = vec![0u8; hl + payload.len()];
            seg[hl..].copy_from_slice(payload);
            repr.emit(&mut seg, ip.src(), ip.dst(), TxCsum::Compute);
            let view = TcpPacket::new_checked(&seg[..]).unwrap();
            let again = TcpRepr::parse(&view, ip.src(), ip.dst(), RxCsum::Unknown)
                .expect("an emitted segment parses with its own checksum");
            assert_eq!(repr, again);
            assert_eq!(view.payload(), payload);
        }
    }
});
