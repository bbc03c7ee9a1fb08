//! Path MTU discovery (RFC 1191) with the checks of RFC 5927, black-box: a router's ICMP
//! "fragmentation needed and DF set" about one of our segments in flight lowers the
//! connection's segment size and the data is resent at once at the new size; anything stale,
//! forged or malformed changes nothing and is counted.

mod common;
use common::*;
use stack::testing::{build_frag_needed_frame, tcp_datagram, ROUTER_QUOTE_LEN};
use stack::ConnHandle;

/// The router on the path; its frames reach us through the peer's MAC (our next hop).
const ROUTER_IP: core::net::Ipv4Addr = core::net::Ipv4Addr::new(198, 18, 0, 254);

/// IPv4 total length of a segment the engine sent: 20 + TCP header + payload.
fn ip_len(s: &Seg) -> usize {
    20 + s.repr.header_len() + s.len()
}

/// The datagram that carried `s`, as the engine sent it (what a router quotes).
fn datagram(s: &Seg) -> Vec<u8> {
    tcp_datagram(s.ip_src, s.ip_dst, &s.repr, &s.payload)
}

/// The frag-needed a router returns for `s`: Next-Hop MTU `mtu`, quoting as much of the
/// datagram as RFC 1812 routers do.
fn frag_needed(s: &Seg, mtu: u16) -> Vec<u8> {
    let q = datagram(s);
    build_frag_needed_frame(
        PEER_MAC,
        US_MAC,
        ROUTER_IP,
        US_IP,
        mtu,
        &q[..q.len().min(ROUTER_QUOTE_LEN)],
    )
}

/// Established with the Linux-like peer (MSS 1460, timestamps: 1448 bytes of payload per
/// full segment, 1500-byte datagrams) over a 100 ms handshake RTT, and `n` full segments in
/// flight. Returns them.
fn in_flight(n: usize) -> (Harness, ConnHandle, Vec<Seg>, Vec<u8>) {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut c);
    h.advance(ms(100));
    h.handshake_ack(&mut c);
    let handle = h.app().last_open().expect("open");
    h.c = c;
    h.take();
    let data = pattern(n * 1448, 3);
    h.app_send(handle, &data);
    let segs = h.take();
    assert_eq!(segs.len(), n, "{}", show(&segs));
    assert!(segs.iter().all(|s| s.len() == 1448 && ip_len(s) == 1500));
    (h, handle, segs, data)
}

/// Asserts `segs` carry `data` from sequence number `from` on, contiguously, each datagram at
/// most `mtu` bytes and every one but the last exactly `mtu`.
fn assert_resent(segs: &[Seg], from: u32, data: &[u8], mtu: usize) {
    let mut seq = from;
    let mut got = Vec::new();
    for (i, s) in segs.iter().enumerate() {
        assert_eq!(s.seq(), seq, "segment {i} of\n  {}", show(segs));
        assert!(ip_len(s) <= mtu, "{s} is {} bytes", ip_len(s));
        if i + 1 < segs.len() {
            assert_eq!(ip_len(s), mtu, "{s} is not full-sized");
        }
        seq = seq.wrapping_add(s.len() as u32);
        got.extend_from_slice(&s.payload);
    }
    assert_eq!(got, data, "resent bytes");
}

#[test]
fn rfc1191_frag_needed_lowers_mss_and_resends() {
    let (mut h, handle, segs, data) = in_flight(5);
    let una = h.c.irs.wrapping_add(1);
    // The router dropped the second segment (all were as large).
    h.receive_raw(&frag_needed(&segs[1], 1280));
    // RFC 1191 §6.5 / Linux tcp_simple_retransmit: everything in flight goes again at once,
    // from SND.UNA, in 1280-byte datagrams (1228 bytes of payload + 12 of timestamps).
    let r = h.take();
    assert_eq!(r.len(), 6, "{}", show(&r));
    assert_resent(&r, una, &data, 1280);
    assert!(r.iter().take(5).all(|s| s.len() == 1228));
    let c = h.counters();
    assert_eq!(c.mib.icmp_frag_needed, 1);
    assert_eq!(c.mib.pmtu_updates, 1);
    assert_eq!(c.mib.retrans_segs, 6);
    // Not a congestion signal: no timeout, no fast recovery.
    assert_eq!(c.mib.timeouts, 0);
    assert_eq!(c.mib.fast_retrans, 0);
    assert_eq!(h.counters().total_drops(), 0);

    // The peer acknowledges the resent data; new data also respects the new size.
    h.c.ack = una.wrapping_add(data.len() as u32);
    h.send_ack();
    h.take();
    let more = pattern(20 * 1228 + 100, 4);
    h.app_send(handle, &more);
    let mut sent = 0;
    while sent < more.len() {
        let n = h.take();
        assert!(!n.is_empty(), "stalled after {sent} bytes");
        let len: usize = n.iter().map(|s| s.len()).sum();
        assert_resent(&n, h.c.ack, &more[sent..sent + len], 1280);
        sent += len;
        h.c.ack = h.c.ack.wrapping_add(len as u32);
        h.send_ack();
    }
    assert_eq!(h.counters().mib.retrans_segs, 6);
    assert_eq!(h.counters().mib.timeouts, 0);
}

#[test]
fn rfc1191_frag_needed_quoting_only_8_bytes_of_tcp_rfc792() {
    let (mut h, _handle, segs, data) = in_flight(3);
    let una = h.c.irs.wrapping_add(1);
    // An old router returns the IPv4 header and the first 64 bits of the segment only.
    let q = datagram(&segs[2]);
    h.receive_raw(&build_frag_needed_frame(
        PEER_MAC,
        US_MAC,
        ROUTER_IP,
        US_IP,
        1400,
        &q[..28],
    ));
    let r = h.take();
    assert_resent(&r, una, &data, 1400);
    assert_eq!(h.counters().mib.pmtu_updates, 1);
}

#[test]
fn rfc5927_forged_icmp_out_of_flight_ignored() {
    let (mut h, handle, segs, _data) = in_flight(5);
    let una = h.c.irs.wrapping_add(1);
    let nxt = segs[4].end();
    // The first segment is acknowledged: SND.UNA moves past it.
    h.c.ack = segs[0].end();
    h.send_ack();
    h.take();
    // RFC 5927 §5.1: quoted sequence numbers outside [SND.UNA, SND.NXT): already acknowledged
    // (the first segment, and the byte just before it), SND.NXT itself, and far away.
    let mut forged = Vec::new();
    for seq in [una, una.wrapping_sub(1), nxt, nxt.wrapping_add(1 << 30)] {
        let mut s = segs[1].clone();
        s.repr.seq = stack::SeqNum(seq);
        forged.push(s);
    }
    for s in &forged {
        h.receive_raw(&frag_needed(s, 1280));
        h.expect_none();
    }
    let c = h.counters();
    assert_eq!(c.mib.icmp_frag_needed, 4);
    assert_eq!(c.drops.icmp_out_of_window, 4);
    assert_eq!(c.mib.pmtu_updates, 0);
    assert_eq!(c.mib.retrans_segs, 0);
    // The segment size is unchanged: new data still goes in 1500-byte datagrams.
    h.c.ack = nxt;
    h.send_ack();
    h.take();
    h.app_send(handle, &pattern(3 * 1448, 5));
    let n = h.take();
    assert_eq!(n.len(), 3, "{}", show(&n));
    assert!(n.iter().all(|s| ip_len(s) == 1500), "{}", show(&n));
}

#[test]
fn rfc5927_malformed_or_foreign_icmp_dropped_and_counted() {
    let (mut h, handle, segs, _data) = in_flight(2);
    let good = frag_needed(&segs[0], 1280);
    // Offsets in the frame: outer IPv4 at 14, ICMP at 34, the quoted IPv4 header at 42.
    let refill_icmp = |f: &mut Vec<u8>| {
        f[36..38].copy_from_slice(&[0, 0]);
        let c = stack::wire::checksum::checksum(&f[34..]);
        f[36..38].copy_from_slice(&c.to_be_bytes());
    };
    let mut bad_csum = good.clone();
    bad_csum[70] ^= 0x10;
    let truncated = {
        // Quote cut inside the TCP header: no room for the sequence number.
        let q = datagram(&segs[0]);
        build_frag_needed_frame(PEER_MAC, US_MAC, ROUTER_IP, US_IP, 1280, &q[..25])
    };
    let mut not_from_us = good.clone();
    not_from_us[42 + 15] = 77;
    refill_icmp(&mut not_from_us);
    let mut udp = good.clone();
    udp[42 + 9] = 17;
    refill_icmp(&mut udp);
    let mut other_port = good.clone();
    other_port[42 + 20 + 3] ^= 1; // quoted destination port
    refill_icmp(&mut other_port);
    let mut bad_quote = good.clone();
    bad_quote[42] = 0x65; // quoted header says IPv6
    refill_icmp(&mut bad_quote);
    for f in [
        &bad_csum,
        &truncated,
        &not_from_us,
        &udp,
        &other_port,
        &bad_quote,
    ] {
        h.receive_raw(f);
        h.expect_none();
        // Every prefix of it too: dropped, never a panic.
        for len in 0..f.len() {
            h.receive_raw(&f[..len]);
        }
        h.expect_none();
    }
    let d = h.counters().drops;
    assert_eq!(d.icmp_malformed, 3, "{d:?}");
    assert_eq!(d.icmp_quote_not_ours, 2);
    assert_eq!(d.icmp_no_connection, 1);
    assert_eq!(h.counters().mib.pmtu_updates, 0);
    assert_eq!(h.counters().mib.retrans_segs, 0);
    // Still full-sized segments.
    h.c.ack = segs[1].end();
    h.send_ack();
    h.take();
    h.app_send(handle, &pattern(1448, 6));
    let n = h.expect_one_nopsh(ACK, segs[1].end(), h.c.iss.wrapping_add(1));
    assert_eq!(ip_len(&n), 1500);
}

#[test]
fn rfc1191_6_1_mtu_not_below_current_ignored() {
    let (mut h, _handle, segs, data) = in_flight(3);
    let una = h.c.irs.wrapping_add(1);
    // Not smaller than the 1500-byte datagrams in flight: nothing to do.
    for mtu in [1500, 9000, 65535] {
        h.receive_raw(&frag_needed(&segs[0], mtu));
        h.expect_none();
    }
    assert_eq!(h.counters().drops.icmp_mtu_not_lower, 3);
    assert_eq!(h.counters().mib.pmtu_updates, 0);
    // Once lowered to 1280, a report of 1280 again or of 1400 changes nothing either: the
    // path MTU only goes down.
    h.receive_raw(&frag_needed(&segs[0], 1280));
    let r = h.take();
    assert_resent(&r, una, &data, 1280);
    for mtu in [1280, 1400] {
        h.receive_raw(&frag_needed(&r[0], mtu));
        h.expect_none();
    }
    assert_eq!(h.counters().drops.icmp_mtu_not_lower, 5);
    assert_eq!(h.counters().mib.pmtu_updates, 1);
}

#[test]
fn rfc1191_mtu_below_minimum_clamped_to_552() {
    let (mut h, _handle, segs, data) = in_flight(2);
    let una = h.c.irs.wrapping_add(1);
    // RFC 5927 §7.2: a tiny MTU would cut throughput to nothing; like Linux (min_pmtu) the
    // estimate is clamped to 552.
    h.receive_raw(&frag_needed(&segs[0], 68));
    let r = h.take();
    assert_resent(&r, una, &data, 552);
    assert!(r[0].len() == 552 - 40 - 12, "{}", show(&r));
    // Once at the minimum, lower reports are not lower than what is sent.
    h.receive_raw(&frag_needed(&r[0], 300));
    h.expect_none();
    assert_eq!(h.counters().drops.icmp_mtu_not_lower, 1);
    assert_eq!(h.counters().mib.pmtu_updates, 1);
}

#[test]
fn rfc1191_5_zero_mtu_from_old_router_uses_plateau_table_rfc1191_7() {
    let (mut h, _handle, segs, data) = in_flight(2);
    let una = h.c.irs.wrapping_add(1);
    // Next-Hop MTU 0: the largest plateau below the quoted 1500-byte datagram is 1492.
    h.receive_raw(&frag_needed(&segs[0], 0));
    let r = h.take();
    assert_resent(&r, una, &data, 1492);
    // Again for a 1492-byte datagram: the next plateau down, 1006.
    h.receive_raw(&frag_needed(&r[0], 0));
    let r2 = h.take();
    assert_resent(&r2, una, &data, 1006);
    assert_eq!(h.counters().mib.pmtu_updates, 2);
}

#[test]
fn rfc1191_resend_restarts_the_timer_without_backoff_rfc6298_5() {
    // Control: with nothing from the router, when the first timer (TLP or RTO) fires.
    let (mut a, _, _, _) = in_flight(2);
    let t0 = a.now;
    a.run_until_output(secs(10));
    let first = a.take()[0].at - t0;

    let (mut h, _, segs, _) = in_flight(2);
    h.advance(ms(50));
    h.expect_none();
    h.receive_raw(&frag_needed(&segs[0], 1280));
    let t1 = h.now;
    assert_eq!(h.take().len(), 3);
    // The timer runs from the resend, not from the dropped originals, and is not backed off.
    h.run_until_output(secs(10));
    let r = h.take();
    assert_eq!(r[0].at - t1, first, "{}", show(&r));
    assert!(r.iter().all(|s| ip_len(s) <= 1280), "{}", show(&r));
}

#[test]
fn rfc1191_frag_needed_in_sack_recovery_resends_only_what_the_peer_lacks() {
    let (mut h, _handle, segs, data) = in_flight(5);
    let una = h.c.irs.wrapping_add(1);
    // The peer got segments 2..4 (sent before the path changed, say) and SACKs them: SND.UNA
    // is lost (RFC 6675), fast retransmit at the old size.
    let o = h.seg(ACK).sack(&[(segs[2].seq(), segs[4].end())]);
    h.send(o);
    let fr = h.take();
    assert_eq!(h.counters().mib.fast_retrans, 1);
    assert_eq!(fr[0].seq(), una, "{}", show(&fr));
    // The retransmission did not fit either.
    h.receive_raw(&frag_needed(&fr[0], 1280));
    let r = h.take();
    // Only the unSACKed head goes again, at the new size.
    assert_resent(&r, una, &data[..2 * 1448], 1280);
    assert_eq!(h.counters().mib.pmtu_updates, 1);
    assert_eq!(h.counters().mib.fast_retrans, 1);
    // The peer now has everything: nothing more goes out, and nothing at the old size.
    h.c.ack = segs[4].end();
    h.send_ack();
    assert!(h.take().iter().all(|s| ip_len(s) <= 1280));
}

/// Sends `len` new bytes, ACKing each flight, and returns the largest datagram sent.
fn largest_datagram_sending(h: &mut Harness, handle: ConnHandle, len: usize) -> usize {
    let data = pattern(len, 5);
    h.app_send(handle, &data);
    let (mut sent, mut largest) = (0, 0);
    while sent < len {
        let n = h.take();
        assert!(!n.is_empty(), "stalled after {sent} bytes");
        largest = n.iter().map(ip_len).max().unwrap().max(largest);
        sent += n.iter().map(|s| s.len()).sum::<usize>();
        h.c.ack = h.c.ack.wrapping_add(n.iter().map(|s| s.len() as u32).sum());
        h.send_ack();
    }
    largest
}

#[test]
fn rfc1191_6_3_lowered_pmtu_is_raised_again_after_ten_minutes() {
    let (mut h, handle, segs, data) = in_flight(3);
    h.receive_raw(&frag_needed(&segs[0], 1280));
    h.take();
    h.c.ack = h.c.irs.wrapping_add(1 + data.len() as u32);
    h.send_ack();
    h.take();
    let lowered = h.now;
    h.advance_to(lowered + secs(599));
    h.take();
    assert_eq!(largest_datagram_sending(&mut h, handle, 10 * 1448), 1280);
    // Ten minutes on, the estimate expires: full-sized segments again.
    h.advance_to(lowered + secs(600));
    h.take();
    let segs = {
        let more = pattern(3 * 1448, 6);
        h.app_send(handle, &more);
        h.take()
    };
    assert_eq!(segs.len(), 3, "{}", show(&segs));
    assert!(segs.iter().all(|s| ip_len(s) == 1500), "{}", show(&segs));
    // The path is still narrow: the router's next frag-needed lowers it once more.
    h.receive_raw(&frag_needed(&segs[0], 1280));
    let r = h.take();
    assert!(r.iter().all(|s| ip_len(s) <= 1280), "{}", show(&r));
    assert_eq!(h.counters().mib.pmtu_updates, 2);
    assert_eq!(h.counters().mib.timeouts, 0);
    assert_eq!(h.counters().total_drops(), 0);
}
