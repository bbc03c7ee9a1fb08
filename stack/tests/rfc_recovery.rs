//! Loss recovery as packet traces: RACK-TLP (RFC 8985), PRR (RFC 6937), DSACK (RFC 2883) and
//! the undo it drives (RFC 3708), one reduction per window (RFC 6582 / RFC 6675), and the
//! receive side's out-of-order queue and effective send MSS (RFC 9293 §3.8.6, RFC 6691).
//!
//! Every connection is opened with a 100 ms handshake RTT, so SRTT = min_rtt = 100 ms,
//! RTTVAR = 50 ms and RTO = 300 ms; RACK's reordering window outside recovery is
//! min_rtt / 4 = 25 ms, and the probe timeout is 2 * SRTT = 200 ms.

mod common;
use common::*;
use core::time::Duration;
use stack::{ConnHandle, TcpConfig};

/// Full-sized payload: MSS 1460 less 12 bytes of timestamps.
const SMSS: u32 = 1448;

/// Start of the engine's `i`-th full segment.
fn seg_at(h: &Harness, i: u32) -> u32 {
    h.c.irs + 1 + i * SMSS
}

/// `seg_at` for this connection, detached from the harness.
fn starts(h: &Harness) -> impl Fn(u32) -> u32 {
    let irs = h.c.irs;
    move |i| irs + 1 + i * SMSS
}

/// The app writes `n` full segments; returns what went out at once.
fn send_segments(h: &mut Harness, handle: ConnHandle, n: u32) -> Vec<Seg> {
    let len = (n * SMSS) as usize;
    assert_eq!(h.app_send(handle, &pattern(len, 3)), len);
    h.take()
}

/// Asserts `segs` are full segments `first..first + segs.len()` in order.
fn assert_segments(h: &Harness, segs: &[Seg], first: u32) {
    for (k, sg) in segs.iter().enumerate() {
        assert_eq!(
            sg.seq(),
            seg_at(h, first + k as u32),
            "segment {k}:\n  {}",
            show(segs)
        );
        assert_eq!(sg.len(), SMSS as usize, "segment {k}:\n  {}", show(segs));
    }
}

/// The peer acknowledges `ack` and SACKs `blocks` (no data).
fn sack(h: &mut Harness, ack: u32, blocks: &[(u32, u32)]) {
    h.c.ack = ack;
    let o = h.seg(ACK).sack(blocks);
    h.send(o);
}

/// The peer acknowledges everything up to `ack`; two quiet seconds follow (no resend, no
/// probe, no RTO).
fn ack_all_then_quiet(h: &mut Harness, ack: u32) {
    h.c.ack = ack;
    h.send_ack();
    h.advance(secs(2));
    h.expect_none();
}

/// RFC 8985 §7: the tail of a flight is lost and no ACK comes for it. Instead of waiting for
/// the RTO, a probe goes out at PTO = 2 * SRTT; with nothing new to send it resends the last
/// segment. The peer's SACK of the probe shows the segment before it missing, RACK marks that
/// lost (RFC 8985 §7.4 via §6.2) and recovery repairs it: no timeout at all.
#[test]
fn rfc8985_7_tail_loss_answered_by_probe_not_rto() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 5);
    assert_eq!(d.len(), 5);
    assert_segments(&h, &d, 0);
    // Segments 0-2 arrive; 3 and 4 are lost. R = 100 ms again: SRTT 100, RTTVAR 37.5,
    // RTO 250 ms; two segments in flight, so PTO = 200 ms (no delayed-ACK allowance).
    h.advance_to(t1 + ms(100));
    h.c.ack = seg(3);
    h.send_ack();
    h.expect_none();
    h.advance_to(t1 + ms(299));
    h.expect_none();
    h.advance_to(t1 + ms(300));
    let probe = h.expect_one(ACK | PSH, seg(4), p);
    assert_eq!(
        probe.payload, d[4].payload,
        "the probe is the last segment again"
    );
    assert_eq!(h.counters().mib.tlp_probes, 1);
    assert_eq!(h.counters().mib.timeouts, 0);
    // The probe arrives and is SACKed one RTT later; segment 3 is still missing. Segment 3
    // was sent 400 ms ago, more than RACK.rtt (100 ms) + reo_wnd (25 ms) before the probe
    // was delivered: lost, and resent at once.
    h.advance_to(t1 + ms(400));
    sack(&mut h, seg(3), &[(seg(4), seg(5))]);
    let r = h.expect_one_nopsh(ACK, seg(3), p);
    assert_eq!(r.payload, d[3].payload);
    assert_eq!(h.counters().mib.rack_lost, 1);
    assert_eq!(h.counters().mib.sack_recoveries, 1);
    assert_eq!(h.counters().mib.fast_retrans, 1);
    assert_eq!(h.counters().mib.retrans_segs, 2);
    // The repair is acknowledged: nothing more, and no RTO ever fires.
    h.advance_to(t1 + ms(500));
    h.c.ack = seg(5);
    h.send_ack();
    h.expect_none();
    h.advance(secs(5));
    h.expect_none();
    assert_eq!(h.counters().mib.timeouts, 0);
    assert_eq!(h.counters().mib.tlp_probes, 1);
}

/// RFC 8985 §7.3: when unsent data is waiting (cwnd-limited) and the peer's window admits it,
/// the probe is one new segment rather than a retransmission.
#[test]
fn rfc8985_7_3_probe_sends_new_data_when_the_window_allows() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    // Twelve segments queued, the initial window (10 * 1460 bytes) lets ten go.
    let d = send_segments(&mut h, handle, 12);
    assert_eq!(d.len(), 10, "{}", show(&d));
    assert_segments(&h, &d, 0);
    h.advance_to(t1 + ms(199));
    h.expect_none();
    h.advance_to(t1 + ms(200));
    let probe = h.expect_one_nopsh(ACK, seg(10), p);
    assert_eq!(probe.len(), SMSS as usize);
    assert_eq!(h.counters().mib.tlp_probes, 1);
    assert_eq!(
        h.counters().mib.retrans_segs,
        0,
        "new data, not a retransmission"
    );
    assert_eq!(h.counters().mib.timeouts, 0);
}

/// RFC 8985 §6.2: segment 0 is lost and so is its fast retransmission. A segment sent after
/// the retransmission is SACKed: the retransmission was sent before a delivered segment, and
/// in recovery reo_wnd is 0, so once RACK.rtt has passed since it went out it is lost and is
/// sent a third time, with no RTO (DupThresh counting can never find a lost retransmission).
#[test]
fn rfc8985_6_2_lost_retransmission_detected_by_rack() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 5);
    assert_segments(&h, &d, 0);
    h.advance_to(t1 + ms(100));
    let una = seg(0);
    sack(&mut h, una, &[(seg(1), seg(2))]);
    h.expect_none();
    sack(&mut h, una, &[(seg(1), seg(3))]);
    h.expect_none();
    sack(&mut h, una, &[(seg(1), seg(4))]);
    let r1 = h.expect_one_nopsh(ACK, una, p);
    assert_eq!(r1.payload, d[0].payload);
    assert_eq!(h.counters().mib.fast_retrans, 1);
    // RACK, run on the same ACK in recovery (reo_wnd 0), also found segment 0 lost: it is
    // older than RACK.rtt (100 ms) and was sent before the SACKed segment 3.
    assert_eq!(h.counters().mib.rack_lost, 1);
    // 10 ms later the app writes one more segment; PRR lets it go (cwnd - pipe = 1 SMSS).
    h.advance_to(t1 + ms(110));
    let n = send_segments(&mut h, handle, 1);
    assert_eq!(n.len(), 1, "{}", show(&n));
    assert_segments(&h, &n, 5);
    // The retransmission is lost. Segments 4 and 5 arrive and are SACKed 100 ms after 5 was
    // sent: RACK.rtt = 100 ms, the retransmission (sent at +100 ms) is 110 ms old.
    h.advance_to(t1 + ms(210));
    sack(&mut h, una, &[(seg(1), seg(6))]);
    let r2 = h.expect_one_nopsh(ACK, una, p);
    assert_eq!(r2.payload, d[0].payload);
    assert_eq!(h.counters().mib.rack_lost, 2);
    assert_eq!(h.counters().mib.retrans_segs, 2);
    assert_eq!(h.counters().mib.fast_retrans, 1, "the same episode");
    assert_eq!(h.counters().mib.sack_recoveries, 1);
    h.advance_to(t1 + ms(310));
    h.c.ack = seg(6);
    h.send_ack();
    h.expect_none();
    h.advance(secs(5));
    h.expect_none();
    assert_eq!(h.counters().mib.timeouts, 0);
}

/// RFC 8985 §6.2, §6.3: three segments in flight, the first lost. The two SACKs behind it
/// are fewer than DupThresh, and IsLost() needs more than 2 * SMSS above it, so RFC 6675
/// never starts recovery; RACK's reordering timer fires at RACK.rtt + reo_wnd = 125 ms after
/// the segment was sent and resends it, long before the RTO (300 ms).
#[test]
fn rfc8985_6_2_loss_in_a_small_flight_without_three_dupacks() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 3);
    assert_segments(&h, &d, 0);
    h.advance_to(t1 + ms(100));
    let una = seg(0);
    sack(&mut h, una, &[(seg(1), seg(2))]);
    h.expect_none();
    sack(&mut h, una, &[(seg(1), seg(3))]);
    h.expect_none();
    assert_eq!(h.counters().mib.fast_retrans, 0);
    h.advance_to(t1 + ms(124));
    h.expect_none();
    h.advance_to(t1 + ms(125));
    let r = h.expect_one_nopsh(ACK, una, p);
    assert_eq!(r.payload, d[0].payload);
    assert_eq!(h.counters().mib.rack_lost, 1);
    assert_eq!(h.counters().mib.fast_retrans, 1);
    assert_eq!(h.counters().mib.sack_recoveries, 1);
    assert_eq!(h.counters().mib.timeouts, 0);
    assert_eq!(h.counters().mib.tlp_probes, 0);
    h.advance_to(t1 + ms(225));
    h.c.ack = seg(3);
    h.send_ack();
    h.expect_none();
    h.advance(secs(5));
    h.expect_none();
    assert_eq!(h.counters().mib.timeouts, 0);
}

/// RFC 6582 §3.2 step 2 / RFC 6675 §5: segments 0 and 4 of one window are lost. The third
/// duplicate ACK starts the one recovery episode of this window; the loss of segment 4 is
/// repaired inside it (RACK marks it lost when segment 5, sent after it, is SACKed) and
/// starts no second reduction. After the full ACK cwnd = ssthresh = 0.7 * 10 * 1448 (CUBIC's
/// β), so an idle connection then sends exactly 7 segments (two reductions would allow 4).
#[test]
fn rfc6582_rfc6675_one_reduction_for_two_losses_in_one_window() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 10);
    assert_eq!(d.len(), 10);
    assert_segments(&h, &d, 0);
    h.advance_to(t1 + ms(100));
    let una = seg(0);
    sack(&mut h, una, &[(seg(1), seg(2))]);
    sack(&mut h, una, &[(seg(1), seg(3))]);
    h.expect_none();
    sack(&mut h, una, &[(seg(1), seg(4))]);
    let r = h.expect_one_nopsh(ACK, seg(0), p);
    assert_eq!(r.payload, d[0].payload);
    // Segment 5 arrives after the hole at 4: the second loss, same window.
    sack(&mut h, una, &[(seg(5), seg(6)), (seg(1), seg(4))]);
    let r = h.expect_one_nopsh(ACK, seg(4), p);
    assert_eq!(r.payload, d[4].payload);
    for k in 7..=10 {
        sack(&mut h, una, &[(seg(5), seg(k)), (seg(1), seg(4))]);
        h.expect_none();
    }
    assert_eq!(h.counters().mib.sack_recoveries, 1);
    assert_eq!(h.counters().mib.fast_retrans, 1);
    assert_eq!(h.counters().mib.rack_lost, 2);
    assert_eq!(h.counters().mib.retrans_segs, 2);
    // Both repairs arrive: the full ACK ends recovery.
    h.advance_to(t1 + ms(200));
    h.c.ack = seg(10);
    h.send_ack();
    h.expect_none();
    let n = send_segments(&mut h, handle, 10);
    assert_eq!(n.len(), 7, "cwnd = ssthresh = 10136 bytes:\n  {}", show(&n));
    assert_segments(&h, &n, 10);
    assert_eq!(h.counters().mib.sack_recoveries, 1);
    assert_eq!(h.counters().mib.timeouts, 0);
}

/// RFC 6937 §3.1: while pipe > ssthresh, PRR sends CEIL(prr_delivered * ssthresh /
/// RecoverFS) - prr_out. NewReno halves (ssthresh = 10 of RecoverFS = 20 segments), so one
/// segment goes out for every two delivered: the fast retransmit on the first ACK, then a new
/// segment on the 4th, 6th, 8th and 10th delivered segment, 5 in all for 10 delivered; pipe
/// stays above ssthresh throughout (16 down to 11 segments).
#[test]
fn rfc6937_prr_sends_in_proportion_during_recovery() {
    let cfg = TcpConfig {
        cc: stack::tcp::cc::CcKind::NewReno,
        initial_window: 20,
        ..TcpConfig::default()
    };
    let (mut h, handle) = establish_rtt_100(cfg);
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 40);
    assert_eq!(d.len(), 20, "20 * 1460 bytes of initial window");
    assert_segments(&h, &d, 0);
    h.advance_to(t1 + ms(100));
    let una = seg(0);
    sack(&mut h, una, &[(seg(1), seg(2))]);
    sack(&mut h, una, &[(seg(1), seg(3))]);
    h.expect_none();
    let mut sent_per_ack = Vec::new();
    let mut next_new = 20;
    for k in 3..=12u32 {
        sack(&mut h, una, &[(seg(1), seg(k + 1))]);
        let out = h.take();
        for s in &out {
            let want = if k == 3 { seg(0) } else { seg(next_new) };
            assert_eq!(s.seq(), want, "after SACK of 1..={k}:\n  {}", show(&out));
            assert_eq!(s.len(), SMSS as usize);
            assert_eq!(s.ack(), p);
            if k != 3 {
                next_new += 1;
            }
        }
        sent_per_ack.push(out.len());
    }
    //                          delivered: 1  2  3  4  5  6  7  8  9  10
    assert_eq!(sent_per_ack, vec![1, 0, 0, 1, 0, 1, 0, 1, 0, 1]);
    assert_eq!(h.counters().mib.retrans_segs, 1);
    assert_eq!(h.counters().mib.fast_retrans, 1);
    assert_eq!(h.counters().mib.timeouts, 0);
}

/// RFC 2883 §4 (TCPDSACKOldSent): data that arrives again after we acknowledged it is
/// answered at once with a D-SACK, the first SACK block naming the duplicate range; for a
/// segment that is partly old the block is [SEG.SEQ, RCV.NXT).
#[test]
fn rfc2883_duplicate_segment_answered_with_dsack() {
    let (mut h, _) = establish_rtt_100(TcpConfig::default());
    let s = h.c.irs + 1;
    let p = h.c.iss + 1;
    let a = pattern(100, 1);
    h.send_data(&a);
    // One segment: the ACK is delayed (40 ms).
    h.advance(ms(40));
    let ack = h.expect_one(ACK, s, p + 100);
    assert!(ack.sack().is_empty());
    // Our ACK was lost; the peer resends the same 100 bytes.
    let o = h.seg(ACK | PSH).seq(p).data(&a);
    h.send(o);
    let d = h.expect_one(ACK, s, p + 100);
    assert_eq!(d.sack(), vec![(p, p + 100)], "{d}");
    assert_eq!(h.counters().mib.dsack_sent, 1);
    // The D-SACK is reported once (RFC 2883 §4 (1)): the next ACK has no block.
    h.send_data(&pattern(10, 2));
    h.advance(ms(40));
    let n = h.expect_one(ACK, s, p + 110);
    assert!(n.sack().is_empty(), "{n}");
    // A segment half old, half new: [p + 60, p + 160) with RCV.NXT = p + 110.
    let b = pattern(100, 3);
    let o = h.seg(ACK | PSH).seq(p + 60).data(&b);
    h.c.nxt = p + 160;
    h.send(o);
    let d = h.expect_one(ACK, s, p + 160);
    assert_eq!(d.sack(), vec![(p + 60, p + 110)], "{d}");
    assert_eq!(h.counters().mib.dsack_sent, 2);
    let mut want = a.clone();
    want.extend_from_slice(&pattern(10, 2));
    want.extend_from_slice(&b[50..]);
    assert_eq!(
        h.app().data(),
        want,
        "the new half is delivered, the old half is not"
    );
}

/// With an 8000-byte receive buffer and the first 1000 bytes lost, the peer sends the other
/// seven 1000-byte segments of the window, up to its right edge. Each is answered at once
/// (`snd_nxt` is the engine's) with one SACK block covering all of them and the whole window
/// still open. Returns the 8000 bytes the peer's stream holds there.
fn fill_window_behind_hole(h: &mut Harness, snd_nxt: u32) -> Vec<u8> {
    let p = h.c.iss + 1;
    let data = pattern(8000, 5);
    for k in 1..8u32 {
        let at = (k * 1000) as usize;
        let o = h
            .seg(ACK | PSH)
            .seq(p + k * 1000)
            .data(&data[at..at + 1000]);
        h.send(o);
        let a = h.expect_one(ACK, snd_nxt, p);
        assert_eq!(a.sack(), vec![(p + 1000, p + (k + 1) * 1000)], "{a}");
        assert_eq!(h.scaled_window(&a), 8000, "{a}");
    }
    data
}

/// RFC 9293 §3.8.6 / RFC 5681 §4.2: with a hole at RCV.NXT, out-of-order segments filling
/// the rest of the advertised window are all kept (the window is limit - unread bytes; the
/// out-of-order bytes lie inside it and do not shrink it again); each is answered at once
/// with a SACK block covering all of them, and filling the hole delivers every byte in order.
#[test]
fn rfc9293_3_8_6_one_hole_then_full_window_of_out_of_order_kept() {
    let cfg = TcpConfig {
        rx_buf: 8000,
        ..TcpConfig::default()
    };
    let (mut h, _) = establish_rtt_100(cfg);
    let s = h.c.irs + 1;
    let p = h.c.iss + 1;
    let wnd = h.scaled_window(&h.log.last().unwrap().clone());
    assert_eq!(wnd, 8000, "the SYN-ACK advertised the whole buffer");
    let data = fill_window_behind_hole(&mut h, s);
    assert_eq!(h.counters().drops.tcp_rcv_buffer_full, 0);
    assert_eq!(h.counters().mib.ofo_drop, 0);
    assert_eq!(h.counters().mib.ofo_queue, 7);
    assert!(h.app().data().is_empty());
    // The hole fills: everything up to the window's right edge is acknowledged and read.
    let o = h.seg(ACK | PSH).seq(p).data(&data[..1000]);
    h.c.nxt = p + 8000;
    h.send(o);
    let a = h.expect_one(ACK, s, p + 8000);
    assert!(a.sack().is_empty(), "{a}");
    assert_eq!(h.app().data(), data);
    assert_eq!(h.counters().drops.tcp_rcv_buffer_full, 0);
}

/// Payload of a full segment that also carries one SACK block: MSS 1460 less 12 bytes of
/// timestamps and 12 of one SACK block (two NOPs, kind, length, one 8-byte block).
const SMSS_SACK1: usize = 1436;

/// The peer sends 100 bytes beyond a 100-byte hole at RCV.NXT; the engine answers with one
/// SACK block, which every later segment carries until the hole fills. `snd_nxt` is the
/// engine's.
fn open_hole(h: &mut Harness, snd_nxt: u32) -> (u32, u32) {
    let s = snd_nxt;
    let p = h.c.iss + 1;
    let o = h.seg(ACK | PSH).seq(p + 100).data(&pattern(100, 9));
    h.send(o);
    let a = h.expect_one(ACK, s, p);
    assert_eq!(a.sack(), vec![(p + 100, p + 200)], "{a}");
    (p + 100, p + 200)
}

/// Payload plus options of `sg` against the 1460-byte MSS (RFC 6691: the options count).
fn assert_fits_mss(sg: &Seg) {
    let options = sg.repr.header_len() - 20;
    assert!(sg.len() + options <= 1460, "over the MSS: {sg}");
}

/// RFC 9293 §3.7.1 / RFC 6691: while the receive side holds out-of-order data, every data
/// segment carries a SACK block, and its payload shrinks by the block's 12 bytes: new data,
/// the tail loss probe and the RTO retransmission alike are 1436 bytes, so that payload plus
/// options is exactly the MSS and the frame exactly the 1514-byte MTU.
#[test]
fn rfc6691_segments_carrying_sack_blocks_fit_the_mss() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let s = h.c.irs + 1;
    let block = open_hole(&mut h, s);
    let t1 = h.now;
    let len = 3 * SMSS_SACK1;
    assert_eq!(h.app_send(handle, &pattern(len, 3)), len);
    let d = h.take();
    assert_eq!(d.len(), 3, "{}", show(&d));
    for (k, sg) in d.iter().enumerate() {
        assert_eq!(sg.seq(), s + (k * SMSS_SACK1) as u32, "{sg}");
        assert_eq!(sg.len(), SMSS_SACK1, "{sg}");
        assert_eq!(sg.sack(), vec![block], "{sg}");
        assert_eq!(sg.repr.header_len(), 20 + 24, "{sg}");
        assert_fits_mss(sg);
    }
    // Nothing is acknowledged. PTO = 2 * SRTT: the probe is the last segment, whole.
    h.advance_to(t1 + ms(200));
    let probe = h.expect_one(ACK | PSH, d[2].seq(), p);
    assert_eq!(probe.payload, d[2].payload, "{probe}");
    assert_eq!(probe.sack(), vec![block]);
    assert_fits_mss(&probe);
    // Then the RTO (300 ms after the probe): the first segment again, same size.
    h.advance_to(t1 + ms(499));
    h.expect_none();
    h.advance_to(t1 + ms(500));
    let r = h.expect_one_nopsh(ACK, d[0].seq(), p);
    assert_eq!(r.payload, d[0].payload, "{r}");
    assert_eq!(r.sack(), vec![block]);
    assert_fits_mss(&r);
    assert_eq!(h.counters().mib.timeouts, 1);
    assert_eq!(h.counters().drops.tx_oversize, 0);
}

/// RFC 8985 §7.3 with RFC 6691: segments went out full-sized (1448 bytes) before the peer's
/// out-of-order data made every segment carry a SACK block. The probe of the last segment is
/// then 1436 bytes and must still end at SND.NXT (it is sized by its own options), so that
/// its SACK shows whether the tail arrived; a probe cut short would leave the tail unprobed.
#[test]
fn rfc8985_7_3_probe_ends_at_snd_nxt_when_sack_blocks_shorten_it() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 5);
    assert_segments(&h, &d, 0);
    h.advance_to(t1 + ms(100));
    h.c.ack = seg(3);
    h.send_ack();
    h.expect_none();
    let block = open_hole(&mut h, seg(5));
    h.advance_to(t1 + ms(300));
    let probe = h.expect_one(ACK | PSH, seg(5) - SMSS_SACK1 as u32, p);
    assert_eq!(probe.end(), seg(5), "the probe ends at SND.NXT: {probe}");
    assert_eq!(probe.len(), SMSS_SACK1);
    assert_eq!(probe.payload, d[4].payload[12..], "{probe}");
    assert_eq!(probe.sack(), vec![block]);
    assert_fits_mss(&probe);
    assert_eq!(h.counters().mib.tlp_probes, 1);
}

/// Ten segments out; the peer SACKs 1-3 and the third SACK starts recovery: segment 0 is
/// resent and cwnd falls to ssthresh (0.7 * 14480 = 10136 bytes under CUBIC). Segment 0 was
/// only delayed; the ACK that its arrival provokes echoes its TSval (RFC 7323 §4.3: the
/// segment that advanced RCV.NXT), not the retransmission's, which the peer has not yet seen.
fn spurious_fast_retransmit() -> (Harness, ConnHandle, Vec<Seg>, Seg) {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 10);
    assert_eq!(d.len(), 10);
    h.advance_to(t1 + ms(100));
    let una = seg(0);
    sack(&mut h, una, &[(seg(1), seg(2))]);
    sack(&mut h, una, &[(seg(1), seg(3))]);
    sack(&mut h, una, &[(seg(1), seg(4))]);
    let r = h.expect_one_nopsh(ACK, seg(0), p);
    assert_eq!(r.payload, d[0].payload);
    assert_eq!(h.counters().mib.sack_recoveries, 1);
    h.advance_to(t1 + ms(101));
    h.c.ts_recent = d[0].tsval().unwrap();
    (h, handle, d, r)
}

/// After the undo the idle connection sends the whole initial window of 10 segments again
/// (cwnd 14600 bytes), not ssthresh's 7.
fn assert_window_restored(h: &mut Harness, handle: ConnHandle) {
    assert_eq!(h.counters().mib.cwnd_undo, 1);
    let n = send_segments(h, handle, 12);
    assert_eq!(n.len(), 10, "cwnd restored to 14600 bytes:\n  {}", show(&n));
    assert_segments(h, &n, 10);
    assert_eq!(h.counters().mib.timeouts, 0);
}

/// RFC 3708 / RFC 2883 §4.1 (Linux's TCPDSACKUndo): the rest of the flight arrived with
/// segment 0, so its ACK ends recovery and empties the flight. Then the retransmission
/// arrives and the peer reports it with a D-SACK, a block below the cumulative ACK: the
/// episode's only retransmission was needless and the reduction is undone, although nothing
/// is in flight any more (as Linux's tcp_try_undo_dsack does).
#[test]
fn rfc3708_dsack_after_the_flight_emptied_undoes_the_reduction() {
    let (mut h, handle, _, r) = spurious_fast_retransmit();
    let seg = starts(&h);
    h.c.ack = seg(10);
    h.send_ack();
    h.expect_none();
    h.advance_to(r.at + ms(100));
    h.c.ts_recent = r.tsval().unwrap();
    sack(&mut h, seg(10), &[(seg(0), seg(1))]);
    h.expect_none();
    assert_eq!(h.counters().mib.dsack_recv, 1);
    assert_eq!(h.counters().mib.retrans_segs, 1);
    assert_window_restored(&mut h, handle);
}

/// The same, but segment 5 is still on its way when segment 0 arrives: the partial ACK
/// SACKs 6-9 above it, so segment 5 counts as lost and is resent. The D-SACK for segment 0
/// alone then undoes nothing, since one retransmission of the episode is not yet shown
/// needless (RFC 3708 §3.2 counts them all); the D-SACK for segment 5, after the full ACK,
/// completes the undo.
#[test]
fn rfc3708_undo_waits_for_a_dsack_of_every_retransmission() {
    let (mut h, handle, d, r) = spurious_fast_retransmit();
    let p = h.c.iss + 1;
    let seg = starts(&h);
    sack(&mut h, seg(5), &[(seg(6), seg(10))]);
    let out = h.take();
    assert_eq!(out.len(), 1, "{}", show(&out));
    let second = out[0].clone();
    assert_eq!((second.seq(), second.ack()), (seg(5), p));
    assert_eq!(second.payload, d[5].payload);
    h.advance_to(r.at + ms(100));
    h.c.ts_recent = r.tsval().unwrap();
    sack(&mut h, seg(5), &[(seg(0), seg(1)), (seg(6), seg(10))]);
    h.expect_none();
    assert_eq!(h.counters().mib.dsack_recv, 1);
    assert_eq!(h.counters().mib.cwnd_undo, 0);
    h.advance_to(r.at + ms(101));
    h.c.ts_recent = d[5].tsval().unwrap();
    h.c.ack = seg(10);
    h.send_ack();
    h.expect_none();
    h.advance_to(r.at + ms(102));
    h.c.ts_recent = second.tsval().unwrap();
    sack(&mut h, seg(10), &[(seg(5), seg(6))]);
    h.expect_none();
    assert_eq!(h.counters().mib.dsack_recv, 2);
    assert_eq!(h.counters().mib.retrans_segs, 2);
    assert_window_restored(&mut h, handle);
}

/// RFC 9293 §3.10.7.4 as Linux's tcp_sequence applies it: the peer has filled our whole
/// window behind a hole (a lost segment at RCV.NXT), so every ACK it sends now starts at the
/// window's right edge. Such an ACK is acceptable: it acknowledges our data (no RTO follows),
/// and only its absent text would lie outside the window. Refusing it, as the RFC's table
/// read literally does, stalls our sending until the hole is repaired.
#[test]
fn rfc9293_3_10_7_4_ack_at_the_right_window_edge_is_processed() {
    let cfg = TcpConfig {
        rx_buf: 8000,
        ..TcpConfig::default()
    };
    let (mut h, handle) = establish_rtt_100(cfg);
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 3);
    assert_segments(&h, &d, 0);
    fill_window_behind_hole(&mut h, seg(3));
    // The peer has sent up to the right edge; its next ACK acknowledges all three segments.
    h.advance_to(t1 + ms(100));
    h.c.nxt = p + 8000;
    h.c.ack = seg(3);
    h.send_ack();
    assert_eq!(h.counters().drops.tcp_out_of_window, 0);
    h.advance(secs(2));
    assert_eq!(
        h.counters().mib.timeouts,
        0,
        "the ACK was taken: nothing to resend"
    );
    assert_eq!(h.counters().mib.retrans_segs, 0);
}

/// RFC 8985 §6.2 step 2: an ACK sooner than min_RTT after a retransmission is presumed to be
/// for the original, so RACK.xmit_ts does not jump to the retransmission's time. That needs a
/// min_RTT timed to the microsecond: on a sub-millisecond path the timestamp echo reads 0 ms,
/// and a min_RTT of 0 once made every late ACK of an original count for its retransmission,
/// marking the whole flight sent before it lost (seen on a veth: 3,115 of 4,622 resends were
/// of data the peer held, D-SACKed).
#[test]
fn rfc8985_6_2_late_ack_of_the_original_does_not_mark_the_flight_lost() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let half_ms = Duration::from_micros(500);
    // One round trip of 500 us: the timed segment gives min_RTT 500 us; the timestamp echo,
    // in whole milliseconds, reads 0.
    let t0 = h.now;
    let first = send_segments(&mut h, handle, 2);
    assert_segments(&h, &first, 0);
    h.advance_to(t0 + half_ms);
    h.c.ack = seg(2);
    h.send_ack();
    h.expect_none();
    // Eight more; the first is held up, the next three are SACKed 500 us later.
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 8);
    assert_segments(&h, &d, 2);
    h.advance_to(t1 + half_ms);
    let una = seg(2);
    sack(&mut h, una, &[(seg(3), seg(4))]);
    sack(&mut h, una, &[(seg(3), seg(5))]);
    sack(&mut h, una, &[(seg(3), seg(6))]);
    let r = h.take();
    assert_eq!(r.len(), 1, "{}", show(&r));
    assert_eq!((r[0].seq(), r[0].ack()), (una, p));
    // 100 us after the resend, the original arrives after all: the ACK covers it and the
    // three SACKed segments. Segments 6-9, sent with segment 2, are still on their way.
    h.advance(Duration::from_micros(100));
    h.c.ack = seg(6);
    h.send_ack();
    // They arrive 500 us after they were sent, but stay in flight for 4 ms more: RACK must
    // not call them lost, since no segment sent after them has been delivered.
    h.advance(ms(4));
    let spurious = h.take();
    assert!(spurious.is_empty(), "resent in flight: {}", show(&spurious));
    assert_eq!(h.counters().mib.retrans_segs, 1);
    ack_all_then_quiet(&mut h, seg(10));
    assert_eq!(h.counters().mib.retrans_segs, 1);
    assert_eq!(h.counters().mib.timeouts, 0);
}

/// RFC 8985 §6.2 on a tail: segments 0 and 4 of five are lost. The SACKs of 1-3 start
/// recovery and resend 0; its ACK (a partial ACK, nothing SACKed above 4) shows a segment sent
/// after 4 delivered, so RACK finds 4 lost on that ACK, RACK.rtt after it went out, and resends
/// it at once: no timeout, and no blind rescue of a tail that could still be in flight
/// (RFC 6675's NextSeg rule 4, which tcpterm leaves to RACK as Linux does).
#[test]
fn rfc8985_6_2_lost_tail_found_on_the_partial_ack() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let p = h.c.iss + 1;
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 5);
    assert_segments(&h, &d, 0);
    h.advance_to(t1 + ms(100));
    let una = seg(0);
    for k in 2..=4 {
        sack(&mut h, una, &[(seg(1), seg(k))]);
    }
    let r0 = h.take();
    assert_eq!(r0.len(), 1, "{}", show(&r0));
    assert_eq!((r0[0].seq(), r0[0].ack()), (una, p));
    h.advance_to(t1 + ms(200));
    h.c.ack = seg(4);
    h.send_ack();
    let r4 = h.take();
    assert_eq!(r4.len(), 1, "{}", show(&r4));
    assert_eq!((r4[0].seq(), r4[0].len()), (seg(4), SMSS as usize));
    assert_eq!(r4[0].payload, d[4].payload);
    ack_all_then_quiet(&mut h, seg(5));
    assert_eq!(h.counters().mib.retrans_segs, 2);
    assert_eq!(h.counters().mib.timeouts, 0);
}

/// RFC 8985 §6.2 with RFC 6691: five segments went out full-sized (1448 bytes); then the
/// peer's out-of-order data makes every segment carry a SACK block, 1436 bytes of payload at
/// most. Segments 0 and 2 are lost and each is resent as 1436 + 12 bytes. Segment 0's resend
/// is lost whole, of segment 2's only the 12-byte piece. Once a segment sent after them is
/// SACKed, RACK finds both records lost again: segment 0 goes out whole, and of segment 2
/// exactly its missing 12 bytes. Resending a record from its start repeated the SACKed 1436
/// bytes and left the hole to the RTO (seen on a veth at 5% loss: RTO resends of 12-28
/// bytes).
#[test]
fn rfc8985_6_2_only_the_unsacked_part_of_a_lost_record_is_resent() {
    let (mut h, handle) = establish_rtt_100(TcpConfig::default());
    let seg = starts(&h);
    let t1 = h.now;
    let d = send_segments(&mut h, handle, 5);
    assert_segments(&h, &d, 0);
    let block = open_hole(&mut h, seg(5));
    h.advance_to(t1 + ms(100));
    let una = seg(0);
    sack(&mut h, una, &[(seg(1), seg(2))]);
    sack(&mut h, una, &[(seg(3), seg(4)), (seg(1), seg(2))]);
    sack(&mut h, una, &[(seg(3), seg(5)), (seg(1), seg(2))]);
    let r = h.take();
    let got: Vec<(u32, usize)> = r.iter().map(|sg| (sg.seq(), sg.len())).collect();
    let piece = SMSS_SACK1 as u32;
    assert_eq!(
        got,
        vec![
            (seg(0), SMSS_SACK1),
            (seg(0) + piece, 12),
            (seg(2), SMSS_SACK1),
            (seg(2) + piece, 12)
        ],
        "{}",
        show(&r)
    );
    for sg in &r {
        assert_eq!(sg.sack(), vec![block], "{sg}");
        assert_fits_mss(sg);
    }
    h.advance_to(t1 + ms(110));
    assert_eq!(h.app_send(handle, &pattern(SMSS_SACK1, 4)), SMSS_SACK1);
    let n = h.take();
    assert_eq!(n.len(), 1, "{}", show(&n));
    let n_end = n[0].end();
    h.advance_to(t1 + ms(210));
    sack(&mut h, una, &[(seg(3), n_end), (seg(1), seg(2) + piece)]);
    let r2 = h.take();
    let got: Vec<(u32, usize)> = r2.iter().map(|sg| (sg.seq(), sg.len())).collect();
    assert_eq!(
        got,
        vec![
            (seg(0), SMSS_SACK1),
            (seg(0) + piece, 12),
            (seg(2) + piece, 12)
        ],
        "{}",
        show(&r2)
    );
    assert_eq!(r2[2].payload, r[3].payload);
    ack_all_then_quiet(&mut h, n_end);
    assert_eq!(h.counters().mib.timeouts, 0);
    assert_eq!(h.counters().mib.retrans_segs, 7);
}
