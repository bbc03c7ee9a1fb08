//! Nothing is learned from, and no storm is fed by, segments that fail validation: the peer's
//! MAC (RFC 9293 §3.10.7.4 acceptability first), duplicate ACKs for out-of-window and PAWS
//! failures limited per connection (Linux `tcp_invalid_ratelimit`), two engines whose sequence
//! spaces drifted apart, and the RTO after a lost SYN or SYN-ACK (RFC 6298 §3 Karn, §5.7).

mod common;
use common::*;
use core::net::SocketAddrV4;
use stack::sim::{Impairments, Pair};
use stack::testing::{self, Recorder};
use stack::wire::frame::{parse_frame, Parsed};
use stack::wire::tcp::{TcpFlags, TcpOptions, TcpRepr};
use stack::wire::{ChecksumCaps, MacAddr, RxMeta};
use stack::{Engine, Instant, Keepalive, SeqNum, TcpConfig};

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

// ---- Duplicate ACKs for segments that failed validation ----------------------------------------

#[test]
fn out_of_window_pure_acks_get_one_dup_ack_per_500ms_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let far = beyond_window(&h);
    for _ in 0..10 {
        let o = h.seg(ACK).seq(far);
        h.send(o);
    }
    h.expect_one(ACK, s + 1, p + 1);
    assert_eq!(h.counters().drops.tcp_out_of_window, 10);
    assert_eq!(h.counters().mib.ack_skipped_seq, 9);
    h.advance(ms(499));
    let o = h.seg(ACK).seq(far);
    h.send(o);
    h.expect_none();
    assert_eq!(h.counters().mib.ack_skipped_seq, 10);
    // 500 ms after the last one answered, another is.
    h.advance(ms(1));
    let o = h.seg(ACK).seq(far);
    h.send(o);
    h.expect_one(ACK, s + 1, p + 1);
    assert_eq!(h.counters().mib.ack_skipped_seq, 10);
}

#[test]
fn out_of_window_data_is_always_answered_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    // Old duplicates with data (our ACK was lost): the sender needs each answer to stop
    // resending, and our ACK carries no data, so it cannot feed a loop (Linux exempts them).
    for _ in 0..3 {
        let o = h.seg(ACK | PSH).seq(p + 1 - 10).data(&[7u8; 10]);
        h.send(o);
        h.expect_one(ACK, s + 1, p + 1);
    }
    assert_eq!(h.counters().mib.ack_skipped_seq, 0);
}

#[test]
fn paws_failures_get_one_dup_ack_per_500ms_rfc7323_5_3() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let ecr = h.c.ts_recent;
    let v = h.peer_tsval() + 10_000;
    let o = h.seg(ACK).ts(v, ecr);
    h.send(o);
    h.expect_none();
    for _ in 0..5 {
        let o = h.seg(ACK).ts(v - 500, ecr);
        h.send(o);
    }
    h.expect_one(ACK, s + 1, p + 1);
    assert_eq!(h.counters().mib.paws_estab_rejected, 5);
    assert_eq!(h.counters().mib.ack_skipped_paws, 4);
}

#[test]
fn keepalive_probes_are_still_answered_rfc9293_3_8_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    // Linux's probes: SEG.SEQ = RCV.NXT - 1, no data, the shortest interval 1 s.
    for _ in 0..5 {
        let o = h.seg(ACK).seq(p);
        h.send(o);
        h.expect_one(ACK, s + 1, p + 1);
        h.advance(secs(1));
    }
    assert_eq!(h.counters().mib.ack_skipped_seq, 0);
}

#[test]
fn retransmitted_syns_in_syn_received_get_one_syn_ack_per_500ms_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let sa = h.syn(&mut c);
    for _ in 0..5 {
        let o = h.syn_for(&c);
        h.send(o);
    }
    h.expect_one(SYN | ACK, sa.seq(), PEER_ISS + 1);
    assert_eq!(h.counters().mib.ack_skipped_syn_recv, 4);
    h.advance(ms(500));
    h.take();
    let o = h.syn_for(&c);
    h.send(o);
    h.expect_one(SYN | ACK, sa.seq(), PEER_ISS + 1);
}

// ---- Two engines whose sequence spaces drifted apart --------------------------------------------

const A_IP: core::net::Ipv4Addr = core::net::Ipv4Addr::new(198, 18, 0, 10);
const B_IP: core::net::Ipv4Addr = core::net::Ipv4Addr::new(198, 18, 0, 20);
const A_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x0a]);
const B_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x14]);

fn drift_pair(tcp: TcpConfig) -> Pair<Recorder, Recorder> {
    let now = Instant::from_secs(100);
    let a = Engine::new(
        testing::engine_config(A_IP, A_MAC, tcp.clone()),
        Recorder::default(),
        now,
    )
    .unwrap();
    let mut b = Engine::new(
        testing::engine_config(B_IP, B_MAC, tcp),
        Recorder::default(),
        now,
    )
    .unwrap();
    b.listen(80).unwrap();
    // A wire with a 1 ms delay each way, so that a storm shows as frames over time (on an
    // instant wire it would never let time move).
    let wire = Impairments {
        delay: ms(1),
        ..Impairments::perfect()
    };
    Pair::new(a, b, wire, wire, 7, now)
}

fn frames_sent(p: &Pair<Recorder, Recorder>) -> u64 {
    p.ab.stats.sent + p.ba.stats.sent
}

/// Establishes A -> B:80, has A send `hello`, and returns A's segment carrying it as B saw it.
fn establish_and_snoop(p: &mut Pair<Recorder, Recorder>) -> TcpRepr {
    let ha = p
        .with_a(|a, now, out| a.connect(now, SocketAddrV4::new(B_IP, 80), 0, out))
        .unwrap();
    let deadline = p.now + secs(5);
    assert!(p.run_until(deadline, |p| p.b.app().opened() == 1));
    p.advance(secs(1));
    p.with_a(|a, now, out| a.with_conn(ha, now, out, |_, s| s.send(b"hello")));
    // Take A's frames off the wire by hand until the one with `hello`, delivering each.
    let seg = loop {
        let due = p.ab.next_due(p.now).expect("hello on the wire");
        p.now = p.now.max(due);
        let f = p.ab.receive(p.now).unwrap();
        let parsed = testing::parse_tcp_frame(&f, B_MAC, B_IP);
        p.with_b(|b, now, out| b.receive(now, &f, RxMeta::default(), out));
        if let Some((seg, data)) = parsed.filter(|(_, d)| d == b"hello") {
            let _ = data;
            break seg;
        }
    };
    p.advance(secs(1));
    assert_eq!(p.b.app().data(), b"hello");
    seg
}

#[test]
fn drifted_sequence_spaces_exchange_three_frames_not_a_storm_rfc5961_5_2() {
    let mut p = drift_pair(TcpConfig::default());
    let hello = establish_and_snoop(&mut p);
    // A third party injects 100 bytes "from A" at A's SND.NXT: B's RCV.NXT moves 100 bytes past
    // A's SND.NXT. From now on B's ACKs acknowledge data A never sent (RFC 5961 §5.2: A answers
    // with a challenge ACK) and A's segments lie before B's window (B answers with a duplicate
    // ACK): without a limit each answer provokes the next, forever.
    let forged = TcpRepr {
        seq: hello.seq + 5u32,
        flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
        ..hello
    };
    let f = testing::build_frame(A_MAC, B_MAC, A_IP, B_IP, &forged, &[0x55; 100]);
    let before = frames_sent(&p);
    p.with_b(|b, now, out| b.receive(now, &f, RxMeta::default(), out));
    p.advance(secs(10));
    // B's (delayed) ACK of the forged bytes, A's challenge ACK, B's duplicate ACK; A's
    // answer to that falls within its 500 ms limit and the exchange ends.
    assert_eq!(frames_sent(&p) - before, 3);
    assert_eq!(p.a.counters().mib.challenge_acks, 1);
    assert_eq!(p.a.counters().mib.ack_skipped_challenge, 1);
    assert_eq!(p.b.counters().drops.tcp_out_of_window, 1);
}

#[test]
fn drifted_sequence_spaces_with_keepalives_stay_bounded_rfc5961_5_2() {
    // Keepalives every second on both ends keep provoking the drifted pair. Each probe
    // starts one exchange, and the per-connection limit ends it within a round or two.
    let tcp = TcpConfig {
        keepalive: Some(Keepalive {
            idle: secs(1),
            interval: secs(1),
            probes: 1000,
        }),
        ..TcpConfig::default()
    };
    let mut p = drift_pair(tcp);
    let hello = establish_and_snoop(&mut p);
    let forged = TcpRepr {
        seq: hello.seq + 5u32,
        flags: TcpFlags(TcpFlags::ACK | TcpFlags::PSH),
        options: TcpOptions {
            timestamp: hello.options.timestamp,
            ..TcpOptions::default()
        },
        ..hello
    };
    let f = testing::build_frame(A_MAC, B_MAC, A_IP, B_IP, &forged, &[0x55; 100]);
    let before = frames_sent(&p);
    p.with_b(|b, now, out| b.receive(now, &f, RxMeta::default(), out));
    p.advance(secs(10));
    let n = frames_sent(&p) - before;
    // Unlimited, each probe would start a ping-pong carrying about 5,000 frames a second over
    // this 2 ms round trip. Limited, a probe costs about three frames: the probe, the dup ACK
    // or challenge ACK answering it, and the answer to that, which is the last because the
    // first end answered an invalid segment less than 500 ms before. Ten seconds of probing,
    // plus the three frames of the injection itself: at most 33.
    assert!(n <= 33, "{n} frames in 10 s");
    assert!(p.a.counters().mib.ack_skipped_challenge >= 10);
}

// ---- RTO after a lost SYN or SYN-ACK -------------------------------------------------------------

/// Sends one data segment on the primary connection and returns how long after it the first
/// retransmission went out.
fn first_rto(h: &mut Harness, handle: stack::ConnHandle) -> core::time::Duration {
    h.take();
    let t0 = h.now;
    h.app_send(handle, b"data");
    assert_eq!(h.take().len(), 1);
    let at = h.run_until_output(secs(10)).expect("a retransmission");
    let r = h.take();
    assert_eq!(r[0].payload, b"data", "{}", show(&r));
    at - t0
}

fn no_ts() -> PeerOpts {
    PeerOpts {
        ts: false,
        ..PeerOpts::full()
    }
}

#[test]
fn synack_timed_when_not_resent_sets_the_rto_rfc6298_2_2() {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, no_ts());
    h.syn(&mut c);
    h.advance(ms(10));
    h.handshake_ack(&mut c);
    h.c = c;
    let handle = h.app().last_open().unwrap();
    // SRTT 10 ms, RTTVAR 5 ms: the RTO is the 200 ms minimum.
    assert_eq!(first_rto(&mut h, handle), ms(200));
}

#[test]
fn rto_is_3s_after_a_retransmitted_synack_and_karn_takes_no_sample_rfc6298_5_7() {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, no_ts());
    let sa = h.syn(&mut c);
    // The SYN-ACK is lost and resent after the initial RTO; the ACK comes 10 ms after the
    // resend. Timing from either copy would be a guess (Karn), so no sample is taken, and the
    // RTO once data flows is 3 s, not the initial 1 s.
    h.advance(secs(1));
    h.expect_one(SYN | ACK, sa.seq(), PEER_ISS + 1);
    h.advance(ms(10));
    h.handshake_ack(&mut c);
    h.c = c;
    let handle = h.app().last_open().unwrap();
    assert_eq!(first_rto(&mut h, handle), secs(3));
}

#[test]
fn synack_resent_for_a_retransmitted_syn_gives_no_rtt_sample_rfc6298_3() {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, no_ts());
    let sa = h.syn(&mut c);
    // Our timer never fired: the peer resent its SYN, and we resent the SYN-ACK. The ACK
    // 10 ms later may acknowledge either copy: no sample (Karn), and §5.7 applies.
    h.advance(ms(700));
    let o = h.syn_for(&c);
    h.send(o);
    h.expect_one(SYN | ACK, sa.seq(), PEER_ISS + 1);
    h.advance(ms(10));
    h.handshake_ack(&mut c);
    h.c = c;
    let handle = h.app().last_open().unwrap();
    assert_eq!(first_rto(&mut h, handle), secs(3));
}

#[test]
fn rto_is_3s_after_a_retransmitted_syn_rfc6298_5_7() {
    let mut h = Harness::with_defaults();
    let (sport, dport) = (50_000u16, 8080u16);
    let (handle, syn) = h.connect(sport, dport);
    h.advance(secs(1));
    let again = h.expect_one(SYN, syn.seq(), 0);
    assert_eq!(again.seq(), syn.seq());
    h.advance(ms(10));
    let c = Conn::new(dport, 5_000_000, PeerOpts::none());
    let sa = h
        .seg_on(&c, SYN | ACK)
        .seq(c.iss)
        .ack(syn.seq() + 1)
        .dport(sport);
    h.send(sa);
    h.expect_one(ACK, syn.seq() + 1, c.iss + 1);
    assert_eq!(first_rto(&mut h, handle), secs(3));
}
