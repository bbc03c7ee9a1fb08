//! Every wire parser and view on arbitrary bytes: nothing may panic, and what parses must
//! survive an emit/parse round trip unchanged. The software flow classifier
//! (`tcpterm::redirect::Steering`, software RSS) sees every frame too, for several worker counts:
//! it must not panic, must name an existing worker, must agree with the stack's parsers on which
//! flow a TCP/IPv4 segment or a quoted one belongs to, and since it claims symmetry (symmetric
//! Toeplitz key) the frame with source and destination (addresses and ports) swapped must go to
//! the same worker.
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
use stack::wire::toeplitz::{self, queue_for, SYMMETRIC_KEY};
use stack::wire::{checksum, ChecksumCaps, Ipv4Addr, RxCsum, RxMeta, TxCsum};
use std::sync::LazyLock;
use tcpterm::redirect::{Dest, Steering, RETA_SIZE};
use tcpterm_benches::{SERVER_IP, SERVER_MAC};

/// Worker counts to classify for (each `Steering` holds a Toeplitz table: built once).
static STEERING: LazyLock<Vec<Steering>> =
    LazyLock::new(|| [1, 2, 3, 4, 5, 8, 16].map(Steering::new).into());

const ETH_HLEN: usize = 14;

/// Swaps the `n`-byte fields at `a` and `b` (`a + n <= b`).
fn swap(f: &mut [u8], a: usize, b: usize, n: usize) {
    let (x, y) = f.split_at_mut(b);
    x[a..a + n].swap_with_slice(&mut y[..n]);
}

/// The frame with the direction of the TCP flow the classifier keys on reversed: the IPv4
/// addresses and TCP ports of the packet at `ip`, or of the datagram an ICMP error there quotes.
/// `None` when the classifier cannot have taken a flow from it.
fn reversed(f: &[u8], ip: usize, quoted: bool) -> Option<Vec<u8>> {
    let ihl = usize::from(*f.get(ip)? & 0x0f) * 4;
    let l4 = ip + ihl;
    match *f.get(ip + 9)? {
        6 if f.len() >= l4 + 4 => {
            let mut r = f.to_vec();
            swap(&mut r, ip + 12, ip + 16, 4);
            swap(&mut r, l4, l4 + 2, 2);
            Some(r)
        }
        1 if !quoted => reversed(f, l4 + 8, true),
        _ => None,
    }
}

/// The flow owner as a NIC with the symmetric key and a round-robin RETA picks it, from the
/// reference bit-by-bit hash.
fn nic_queue(s: &Steering, src: Ipv4Addr, dst: Ipv4Addr, sp: u16, dp: u16) -> usize {
    let mut t = [0u8; 12];
    t[..4].copy_from_slice(&src.octets());
    t[4..8].copy_from_slice(&dst.octets());
    t[8..10].copy_from_slice(&sp.to_be_bytes());
    t[10..].copy_from_slice(&dp.to_be_bytes());
    let h = toeplitz::hash(&SYMMETRIC_KEY, &t);
    queue_for(h, RETA_SIZE, s.workers() as u16) as usize
}

/// Classifies `frame` for every worker count: the worker exists, and the reversed flow has the
/// same owner.
fn classify_all(frame: &[u8]) -> Vec<Dest> {
    STEERING
        .iter()
        .map(|s| {
            let d = s.classify(frame);
            match d {
                Dest::Worker(w) => {
                    assert!(w < s.workers(), "worker {w} of {}", s.workers());
                    let r = reversed(frame, ETH_HLEN, false)
                        .expect("a flow was classified that the frame does not hold");
                    assert_eq!(s.classify(&r), d, "{} workers: reversed flow", s.workers());
                }
                Dest::All => assert_eq!(frame[12..14], [0x08, 0x06], "only ARP goes to all"),
                Dest::Here => {}
            }
            d
        })
        .collect()
}

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
    let dests = classify_all(frame);

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
    // The classifier reads the same header the stack's views do (it ignores Total Length, which
    // only shortens the payload here). It keys on the Ethernet type (the stack's views here do
    // not), and non-first fragments carry no ports: both left `Here`.
    let classified =
        frame[12..14] == [0x08, 0x00] && u16::from_be_bytes([l3[6], l3[7]]) & 0x1fff == 0;
    let owner = |src, dst, sp, dp| {
        STEERING
            .iter()
            .map(|s| {
                let w = s.owner(src, dst, sp, dp);
                assert_eq!(w, s.owner(dst, src, dp, sp), "owner is not symmetric");
                assert_eq!(
                    w,
                    nic_queue(s, src, dst, sp, dp),
                    "owner differs from a NIC's pick"
                );
                Dest::Worker(w)
            })
            .collect::<Vec<_>>()
    };
    if ip.protocol() == 6 && classified {
        if let Ok(tcp) = TcpPacket::new_checked(l4) {
            let want = owner(ip.src(), ip.dst(), tcp.src_port(), tcp.dst_port());
            assert_eq!(dests, want, "TCP segment: not the flow the stack parsed");
        }
    }
    if ip.protocol() == 1 && classified {
        if let Ok(IcmpMessage::FragNeeded(f)) = icmp::parse(l4) {
            let q = f.quoted;
            if q.protocol == 6 {
                // Quoted is our own segment: the owner of the connection, either direction.
                let want = owner(q.src, q.dst, q.src_port(), q.dst_port());
                assert_eq!(dests, want, "frag-needed: not the owner of the quoted flow");
            }
        }
    }

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
