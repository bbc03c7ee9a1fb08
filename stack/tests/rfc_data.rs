//! Data transfer: delivery, ACK generation (RFC 1122 §4.2.3.2, RFC 5681 §4.2), out-of-order
//! data and SACK (RFC 2018), window scaling and timestamps (RFC 7323), PAWS, black-box.

mod common;
use common::*;
use stack::TcpConfig;

#[test]
fn in_order_data_is_delivered_exactly_once_and_in_order_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    let stream = pattern(600, 9);
    h.send_data(&stream[..100]);
    h.send_data(&stream[100..300]);
    h.send_data(&stream[300..600]);
    assert_eq!(h.app().data(), stream);
    h.advance(ms(500));
    let last = h.take().into_iter().last().expect("acknowledged");
    assert_eq!(last.ack(), h.c.iss + 601);
}

#[test]
fn segment_without_ack_flag_in_established_is_dropped_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    // "If the ACK bit is off, drop the segment and return."
    let o = h.seg(PSH).data(b"no ack flag");
    h.send(o);
    h.advance(ms(500));
    assert!(h.app().data().is_empty());
}

#[test]
fn delayed_ack_single_segment_acked_exactly_at_timeout_rfc1122_4_2_3_2() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let t0 = h.now;
    h.send_data(&pattern(100, 1));
    h.expect_none();
    h.advance_to(t0 + ms(39));
    h.expect_none();
    h.advance_to(t0 + ms(40));
    let a = h.expect_one(ACK, s + 1, p + 101);
    assert!(a.payload.is_empty());
    assert_eq!(h.counters().mib.delayed_acks, 1);
}

#[test]
fn delayed_ack_is_cancelled_by_piggybacked_reply() {
    let mut h = Harness::new(
        TcpConfig::default(),
        Behaviour {
            echo: true,
            ..Behaviour::default()
        },
    );
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.send_data(b"ping");
    // The echo carries the ACK; no separate pure ACK afterwards.
    let d = h.expect_one_nopsh(ACK | PSH, s + 1, p + 5);
    assert_eq!(d.payload, b"ping");
    h.c.ack = s + 5;
    h.send_ack();
    h.advance(ms(500));
    h.expect_none();
}

#[test]
fn every_second_full_sized_segment_is_acked_immediately_rfc5681_4_2() {
    let mut h = Harness::with_defaults();
    // No timestamps: a full-sized segment is exactly the MSS.
    let opts = PeerOpts {
        ts: false,
        ..PeerOpts::full()
    };
    h.establish_with(opts);
    let (p, s) = (h.c.iss, h.c.irs);
    h.send_data(&pattern(1460, 1));
    h.expect_none();
    h.send_data(&pattern(1460, 2));
    h.expect_one(ACK, s + 1, p + 1 + 2920);
}

#[test]
fn out_of_order_segment_gets_immediate_dup_ack_with_sack_block_rfc2018_rfc5681_4_2() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let stream = pattern(200, 7);
    // Segment 2 first.
    let o = h.seg(ACK | PSH).seq(p + 101).data(&stream[100..]);
    h.send(o);
    let d = h.expect_one(ACK, s + 1, p + 1);
    assert_eq!(d.sack(), vec![(p + 101, p + 201)]);
    assert!(h.app().data().is_empty(), "nothing deliverable yet");
    assert_eq!(h.counters().mib.ofo_queue, 1);
    // The hole fills: immediate ACK of everything, no SACK left, both delivered in order.
    let o = h.seg(ACK | PSH).seq(p + 1).data(&stream[..100]);
    h.send(o);
    let a = h.expect_one(ACK, s + 1, p + 201);
    assert!(a.sack().is_empty(), "{a}");
    assert_eq!(h.app().data(), stream);
}

#[test]
fn sack_first_block_reports_the_most_recent_segment_rfc2018_4() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let o = h.seg(ACK | PSH).seq(p + 101).data(&[1u8; 100]);
    h.send(o);
    h.take();
    let o = h.seg(ACK | PSH).seq(p + 301).data(&[2u8; 100]);
    h.send(o);
    let d = h.expect_one(ACK, s + 1, p + 1);
    assert_eq!(d.sack(), vec![(p + 301, p + 401), (p + 101, p + 201)]);
    // Filling the gap between the two blocks merges them.
    let o = h.seg(ACK | PSH).seq(p + 201).data(&[3u8; 100]);
    h.send(o);
    let d = h.expect_one(ACK, s + 1, p + 1);
    assert_eq!(d.sack(), vec![(p + 101, p + 401)]);
}

#[test]
fn out_of_order_without_sack_gets_dup_ack_without_sack_option_rfc5681_4_2() {
    let mut h = Harness::with_defaults();
    let opts = PeerOpts {
        sack: false,
        ..PeerOpts::full()
    };
    h.establish_with(opts);
    let (p, s) = (h.c.iss, h.c.irs);
    let o = h.seg(ACK | PSH).seq(p + 101).data(&[1u8; 100]);
    h.send(o);
    let d = h.expect_one(ACK, s + 1, p + 1);
    assert!(d.sack().is_empty());
    let o = h.seg(ACK | PSH).seq(p + 1).data(&[0u8; 100]);
    h.send(o);
    h.expect_one(ACK, s + 1, p + 201);
    assert_eq!(h.app().data().len(), 200);
}

#[test]
fn our_window_is_advertised_scaled_by_our_shift_rfc7323_2_3() {
    let mut h = Harness::with_defaults();
    h.establish();
    let shift = TcpConfig::default().rcv_wscale();
    assert_eq!(shift, 3);
    assert_eq!(h.c.engine_ws, Some(3));
    for chunk in pattern(4000, 1).chunks(1448) {
        h.send_data(chunk);
    }
    h.advance(ms(500));
    let a = h.take().into_iter().last().expect("ACK");
    // Everything consumed: the 256 KiB buffer is open again (receiver SWS avoidance may hold
    // back less than one MSS of it), sent as bytes >> 3 — an unscaled field would read 65535.
    let rx = TcpConfig::default().rx_buf;
    let raw = a.repr.window as usize;
    assert!(raw <= rx >> shift, "{a}");
    assert!(raw >= (rx - 1460) >> shift, "{a}");
}

#[test]
fn our_window_is_not_scaled_when_peer_did_not_offer_ws_rfc7323_2_2() {
    let mut h = Harness::with_defaults();
    let opts = PeerOpts {
        ws: None,
        ..PeerOpts::full()
    };
    h.establish_with(opts);
    assert_eq!(h.c.syn_seg.unwrap().options.window_scale, None);
    h.send_data(&pattern(1000, 1));
    h.advance(ms(500));
    let a = h.take().into_iter().last().expect("ACK");
    assert_eq!(
        a.repr.window, 65535,
        "256 KiB free, capped at 65535 unscaled"
    );
}

#[test]
fn peer_window_scale_limits_what_we_send_rfc7323_2_3() {
    let mut h = Harness::with_defaults();
    let opts = PeerOpts {
        ws: Some(2),
        ..PeerOpts::full()
    };
    let mut c = Conn::new(PPORT, PEER_ISS, opts);
    // The SYN window (65535) is never scaled; from the third ACK on, 100 << 2 = 400 bytes.
    c.window = 100;
    let (c, handle) = h.open(c);
    h.c = c;
    h.take();
    let s = h.c.irs;
    assert_eq!(h.app_send(handle, &pattern(1000, 3)), 1000);
    let segs = h.take();
    assert_eq!(segs.len(), 1, "{}", show(&segs));
    assert_eq!(segs[0].seq(), s + 1);
    assert_eq!(segs[0].len(), 400);
    // The peer takes it and opens another 400.
    h.c.ack = s + 401;
    h.send_ack();
    let segs = h.take();
    assert_eq!(segs.len(), 1, "{}", show(&segs));
    assert_eq!(segs[0].seq(), s + 401);
    assert_eq!(segs[0].len(), 400);
}

#[test]
fn tsecr_echoes_ts_recent_rfc7323_3_2() {
    let mut h = Harness::with_defaults();
    h.establish();
    let ecr = h.c.ts_recent;
    let v = PEER_TS0 + 5000;
    let o = h.seg(ACK | PSH).ts(v, ecr).data(b"abc");
    h.c.nxt += 3;
    h.send(o);
    h.advance(ms(500));
    let a = h.take().into_iter().last().expect("ACK");
    assert_eq!(a.tsecr(), Some(v));
    let o = h.seg(ACK | PSH).ts(v + 100, ecr).data(b"def");
    h.c.nxt += 3;
    h.send(o);
    h.advance(ms(500));
    let a = h.take().into_iter().last().expect("ACK");
    assert_eq!(a.tsecr(), Some(v + 100));
}

#[test]
fn delayed_ack_echoes_tsval_of_earliest_unacked_segment_rfc7323_4_3() {
    let mut h = Harness::with_defaults();
    h.establish();
    let p = h.c.iss;
    let ecr = h.c.ts_recent;
    let v = PEER_TS0 + 5000;
    let o = h.seg(ACK | PSH).ts(v, ecr).data(&[1u8; 100]);
    h.c.nxt += 100;
    h.send(o);
    h.expect_none();
    let o = h.seg(ACK | PSH).ts(v + 100, ecr).data(&[2u8; 100]);
    h.c.nxt += 100;
    h.send(o);
    h.advance(ms(500));
    let acks = h.take();
    assert_eq!(acks.len(), 1, "{}", show(&acks));
    assert_eq!(acks[0].ack(), p + 201);
    // TS.Recent is only updated when SEG.SEQ =< Last.ACK.sent: the second segment was beyond
    // the last ACK sent, so the echo is the first segment's TSval.
    assert_eq!(acks[0].tsecr(), Some(v));
}

#[test]
fn our_tsval_clock_ticks_between_1ms_and_1s_rfc7323_5_4() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    h.app_send(handle, b"a");
    let a = h.take().pop().unwrap().tsval().unwrap();
    h.c.ack = h.c.irs + 2;
    h.send_ack();
    h.advance(secs(1));
    h.take();
    h.app_send(handle, b"b");
    let b = h.take().pop().unwrap().tsval().unwrap();
    let delta = b.wrapping_sub(a);
    assert!((1..=1000).contains(&delta), "TSval advanced {delta} in 1 s");
}

#[test]
fn paws_drops_segment_with_older_tsval_and_acks_rfc7323_5_3() {
    let mut h = Harness::with_defaults();
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let ecr = h.c.ts_recent;
    let v = PEER_TS0 + 10_000;
    let o = h.seg(ACK | PSH).ts(v, ecr).data(b"new");
    h.send(o);
    h.advance(ms(500));
    h.take();
    // R1: SEG.TSval < TS.Recent, no RST: not acceptable — ACK and drop.
    let o = h.seg(ACK | PSH).seq(p + 4).ts(v - 500, ecr).data(b"old!");
    h.send(o);
    h.expect_one(ACK, s + 1, p + 4);
    assert_eq!(h.app().data(), b"new");
    assert_eq!(h.counters().mib.paws_estab_rejected, 1);
    assert_eq!(h.counters().drops.tcp_paws, 1);
    // The same bytes with a current TSval are accepted.
    let o = h.seg(ACK | PSH).seq(p + 4).ts(v + 1, ecr).data(b"old!");
    h.send(o);
    assert_eq!(h.app().data(), b"newold!");
}

#[test]
fn timestamps_on_every_segment_once_negotiated_rfc7323_3_2() {
    let mut h = Harness::new(
        TcpConfig::default(),
        Behaviour {
            echo: true,
            ..Behaviour::default()
        },
    );
    h.establish();
    for i in 0..5u8 {
        h.send_data(&pattern(300, i));
    }
    h.advance(ms(500));
    let segs = h.take();
    assert!(!segs.is_empty());
    for s in &segs {
        assert!(s.repr.options.timestamp.is_some(), "{s}");
    }
}

#[test]
fn receive_buffer_limits_are_respected_when_app_does_not_read() {
    let mut h = Harness::new(
        TcpConfig {
            rx_buf: 4096,
            ..TcpConfig::default()
        },
        Behaviour {
            read: Read::None,
            ..Behaviour::default()
        },
    );
    h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    let mss = h.eff_mss(&h.c.clone());
    let stream = pattern(4096, 3);
    for chunk in stream.chunks(mss) {
        h.send_data(chunk);
    }
    h.advance(ms(500));
    let last = h.take().pop().expect("ACK");
    assert_eq!(last.ack(), p + 4097);
    assert_eq!(last.repr.window, 0);
    // Beyond the window: not accepted.
    let o = h.seg(ACK | PSH).data(&[9u8; 100]);
    h.send(o);
    h.expect_one(ACK, s + 1, p + 4097);
}
