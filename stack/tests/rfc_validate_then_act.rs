//! Nothing is learned from, and no storm is fed by, segments that fail validation: the peer's
//! MAC (RFC 9293 §3.10.7.4 acceptability first), duplicate ACKs for out-of-window and PAWS
//! failures limited per connection (Linux `tcp_invalid_ratelimit`), two engines whose sequence
//! spaces drifted apart, and the RTO after a lost SYN or SYN-ACK (RFC 6298 §3 Karn, §5.7).

mod common;
use common::*;
use stack::wire::frame::{parse_frame, Parsed};
use stack::wire::tcp::{TcpFlags, TcpRepr};
use stack::wire::{ChecksumCaps, MacAddr, RxMeta};
use stack::{SeqNum, TcpConfig};

/// A second station on the segment: an attacker, or the peer's new next hop.
const OTHER_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x66]);

/// TCP frames the engine addressed to `mac` that the harness (which only takes frames for
/// `PEER_MAC`) set aside, parsed; they are removed from `h.other`.
fn frames_to(h: &mut Harness, mac: MacAddr) -> Vec<TcpRepr> {
    let mut got = Vec::new();
    h.other.retain(|f| {
        match parse_frame(f, mac, PEER_IP, ChecksumCaps::default(), RxMeta::default()) {
            Ok(Parsed::Tcp { tcp, .. }) => {
                got.push(tcp);
                false
            }
            _ => true,
        }
    });
    got
}

fn beyond_window(h: &Harness) -> u32 {
    h.c.iss + 1 + TcpConfig::default().rx_buf as u32 + 1000
}

// ---- The peer's MAC ---------------------------------------------------------------------------

#[test]
fn out_of_window_segment_does_not_move_the_peer_mac_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let mut o = h.seg(ACK).seq(beyond_window(&h));
    o.src_mac = OTHER_MAC;
    h.send(o);
    // The duplicate ACK it earns goes to the peer we know, not to the frame's source ...
    let dup = h.expect_one(ACK, s + 1, p + 1);
    assert_eq!(dup.eth_dst, PEER_MAC);
    assert!(frames_to(&mut h, OTHER_MAC).is_empty());
    // ... and so does everything after it.
    h.app_send(handle, b"reply");
    let d = h.expect_one_nopsh(ACK | PSH, s + 1, p + 1);
    assert_eq!(d.eth_dst, PEER_MAC);
    assert!(frames_to(&mut h, OTHER_MAC).is_empty());
}

#[test]
fn in_window_rst_or_syn_from_another_mac_does_not_move_the_peer_mac_rfc5961_3_2_and_4_2() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    // RFC 5961: neither an in-window RST that is not exact nor a SYN is acceptable; both get
    // a challenge ACK, which must reach the real peer.
    let mut o = h.seg(RST).seq(p + 1 + 100);
    o.src_mac = OTHER_MAC;
    h.send(o);
    assert_eq!(h.expect_one(ACK, s + 1, p + 1).eth_dst, PEER_MAC);
    h.advance(ms(500));
    let mut o = h.seg(SYN).seq(p + 1);
    o.src_mac = OTHER_MAC;
    h.send(o);
    assert_eq!(h.expect_one(ACK, s + 1, p + 1).eth_dst, PEER_MAC);
    // An ACK beyond SND.NXT (RFC 5961 §5.2) teaches nothing either.
    h.advance(ms(500));
    let mut o = h.seg(ACK).ack(s + 1 + 5000);
    o.src_mac = OTHER_MAC;
    h.send(o);
    assert_eq!(h.expect_one(ACK, s + 1, p + 1).eth_dst, PEER_MAC);
    assert!(frames_to(&mut h, OTHER_MAC).is_empty());
}

#[test]
fn acceptable_segment_from_a_new_mac_moves_the_peer_mac_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    // The peer's next hop changed (failover): its in-window segments now come from another
    // MAC, and our replies follow them.
    let mut o = h.seg(ACK | PSH).data(b"hi");
    o.src_mac = OTHER_MAC;
    h.c.nxt += 2;
    h.send(o);
    assert_eq!(h.app().data(), b"hi");
    h.app_send(handle, b"there");
    h.expect_none();
    let to_new = frames_to(&mut h, OTHER_MAC);
    assert_eq!(to_new.len(), 1, "{to_new:?}");
    assert_eq!(to_new[0].seq, SeqNum(s + 1));
    assert_eq!(to_new[0].ack, SeqNum(p + 3));
}

#[test]
fn syn_sent_learns_the_mac_only_from_an_acceptable_syn_ack_rfc9293_3_10_7_3() {
    let mut h = Harness::with_defaults();
    let (sport, dport) = (50_000u16, 8080u16);
    let (_handle, syn) = h.connect(sport, dport);
    assert_eq!(syn.eth_dst, PEER_MAC);
    let c = Conn::new(dport, 5_000_000, PeerOpts::none());
    // A SYN-ACK whose ACK does not acknowledge our SYN: reset, to the MAC we knew.
    let mut bad = h
        .seg_on(&c, SYN | ACK)
        .seq(c.iss)
        .ack(syn.seq() + 1000)
        .dport(sport);
    bad.src_mac = OTHER_MAC;
    h.send(bad);
    assert_eq!(h.expect_rst(syn.seq() + 1000).eth_dst, PEER_MAC);
    // The real SYN-ACK, from the peer's (new) next hop: the handshake's ACK goes there.
    let mut good = h
        .seg_on(&c, SYN | ACK)
        .seq(c.iss)
        .ack(syn.seq() + 1)
        .dport(sport);
    good.src_mac = OTHER_MAC;
    h.send(good);
    h.expect_none();
    let to_new = frames_to(&mut h, OTHER_MAC);
    assert_eq!(to_new.len(), 1, "{to_new:?}");
    assert_eq!(to_new[0].flags, TcpFlags(ACK));
    assert_eq!(to_new[0].ack, SeqNum(c.iss + 1));
}
