//! The scenarios of TCP-BEHAVIOUR.md that users know from busy Linux servers: resets on unread
//! data, data after close, crashes and reboots, FIN_WAIT_1/FIN_WAIT_2 pile-ups, abort and
//! half-close, black-box.

mod common;
use common::*;
use stack::{CloseReason, Engine, State, TcpConfig};

#[test]
fn close_with_unread_data_sends_rst_not_fin_rfc2525_2_17() {
    // The server reads 4096 of 5000 bytes and closes.
    let mut h = Harness::new(
        TcpConfig::default(),
        Behaviour {
            read: Read::UpTo(4096),
            ..Behaviour::default()
        },
    );
    let handle = h.establish();
    let s = h.c.irs;
    let mss = h.eff_mss(&h.c.clone());
    let data = pattern(5000, 1);
    for chunk in data.chunks(mss) {
        h.send_data(chunk);
    }
    assert_eq!(h.app().data(), &data[..4096]);
    h.advance(ms(500));
    h.take();
    h.app_close(handle);
    let r = h.expect_rst(s + 1);
    assert!(!r.has(FIN));
    assert_eq!(h.counters().mib.abort_on_close, 1);
    assert_eq!(h.counters().mib.out_rsts, 1);
    assert_eq!(h.app().closes(), vec![CloseReason::Aborted]);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.gauge_total(), 0);
    assert_eq!(h.counters().orphans, 0);
}

#[test]
fn data_arriving_after_full_close_is_answered_with_rst_tcp_abort_on_data() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.app_close(handle);
    h.expect_one(FIN | ACK, s + 1, p + 1);
    h.c.ack = s + 2;
    h.send_ack();
    assert_eq!(h.gauge(State::FinWait2), 1);
    // The client keeps writing after the server closed.
    h.send_data(b"are you still there?");
    h.expect_rst(s + 2);
    assert_eq!(h.counters().mib.abort_on_data, 1);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.gauge_total(), 0);
    assert_eq!(h.counters().orphans, 0);
    assert!(h.app().data().is_empty());
}

#[test]
fn engine_restart_answers_old_connection_segments_with_rst_rfc9293_3_10_7_1() {
    let mut h = Harness::with_defaults();
    h.establish();
    let s = h.c.irs;
    // Crash and reboot: all state is lost.
    h.engine = Engine::new(
        engine_config(TcpConfig::default()),
        TestApp::default(),
        h.now,
    )
    .expect("engine");
    h.engine.listen(LPORT).unwrap();
    h.arp_introduce();
    h.send_data(b"hello again");
    let r = h.expect_rst(s + 1);
    assert!(!r.has(ACK), "<SEQ=SEG.ACK><CTL=RST>: {r}");
    // Counted as a drop, under whichever reason (no connection / listener got an ACK).
    assert_eq!(h.counters().total_drops(), 1);
    assert_eq!(h.engine.conn_count(), 0);
}

#[test]
fn rebooted_peer_rst_in_reply_to_our_data_resets_connection() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let p = h.c.iss;
    h.app_send(handle, b"anyone?");
    let d = h.take().pop().expect("data");
    // The rebooted peer answers <SEQ=SEG.ACK><CTL=RST>.
    let o = h.seg(RST).seq(d.ack()).no_ts();
    assert_eq!(d.ack(), p + 1);
    h.send(o);
    h.expect_none();
    assert_eq!(
        h.app().events.last(),
        Some(&Event::Closed(handle, CloseReason::ResetByPeer))
    );
    assert_eq!(h.counters().mib.estab_resets, 1);
    assert_eq!(h.engine.conn_count(), 0);
    // Nothing is retransmitted afterwards.
    h.advance(secs(60));
    h.expect_none();
}

#[test]
fn fin_wait_1_stuck_on_zero_window_is_reset_after_orphan_retries_without_leak() {
    let orphan_retries = 3;
    let cfg = TcpConfig {
        orphan_retries,
        ..TcpConfig::default()
    };
    let mut h = Harness::new(cfg, Behaviour::default());
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    c.window = 0;
    let (c, handle) = h.open(c);
    h.c = c;
    h.take();
    let s = h.c.irs;
    // Unsent data behind a zero window, then the app closes: the FIN waits behind the data.
    h.app_send(handle, &pattern(1000, 1));
    h.app_close(handle);
    assert_eq!(h.counters().orphans, 1);
    h.expect_none();
    h.c.ack = s + 1;
    let mut probes = 0;
    let mut reset = false;
    for _ in 0..50 {
        if h.run_until_output(secs(3600)).is_none() {
            break;
        }
        for sg in h.take() {
            if sg.has(RST) {
                reset = true;
            } else {
                assert!(!sg.has(FIN), "the FIN cannot pass a zero window: {sg}");
                probes += 1;
            }
        }
        if reset {
            break;
        }
        // The stubborn peer answers every probe, keeping its window shut.
        h.send_ack();
    }
    assert!(reset, "the orphan must be reset (sent {probes} probes)");
    assert!(
        probes >= orphan_retries as usize && probes <= orphan_retries as usize + 1,
        "{probes} probes for orphan_retries = {orphan_retries}"
    );
    assert_eq!(h.engine.conn_count(), 0, "no leak");
    assert_eq!(h.counters().orphans, 0);
    assert_eq!(h.gauge_total(), 0);
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.app().closes().len(), 1);
}

#[test]
fn orphaned_fin_wait_2_times_out_after_fin_timeout() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.app_close(handle);
    h.expect_one(FIN | ACK, s + 1, p + 1);
    h.c.ack = s + 2;
    h.send_ack();
    let t = h.now;
    assert_eq!(h.gauge(State::FinWait2), 1);
    let fin_timeout = TcpConfig::default().fin_timeout;
    h.advance_to(t + (fin_timeout - ms(1)));
    assert_eq!(h.gauge(State::FinWait2), 1);
    h.advance_to(t + fin_timeout);
    assert_eq!(h.gauge(State::FinWait2), 0);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.counters().orphans, 0);
    assert_eq!(h.app().closes().len(), 1);
}

#[test]
fn fin_wait_2_after_half_close_does_not_time_out() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.app_shutdown(handle);
    h.expect_one(FIN | ACK, s + 1, p + 1);
    h.c.ack = s + 2;
    h.send_ack();
    // Not an orphan: the app still reads, so fin_timeout does not apply.
    h.advance(secs(3600));
    h.expect_none();
    assert_eq!(h.gauge(State::FinWait2), 1);
    assert!(h.app().closes().is_empty());
}

#[test]
fn abort_sends_rst_and_discards_everything() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let s = h.c.irs;
    h.app_send(handle, b"unacked");
    h.take();
    h.app_abort(handle);
    h.expect_rst(s + 1 + 7);
    assert_eq!(h.app().closes(), vec![CloseReason::Aborted]);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.engine.time_wait_count(), 0);
    assert_eq!(h.gauge_total(), 0);
    assert_eq!(h.counters().mib.out_rsts, 1);
    // Nothing is retransmitted afterwards.
    h.advance(secs(60));
    h.expect_none();
}

#[test]
fn abort_from_on_open_callback_resets_new_connection() {
    let mut h = Harness::new(
        TcpConfig::default(),
        Behaviour {
            on_open: vec![Action::Abort],
            ..Behaviour::default()
        },
    );
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let sa = h.syn(&mut c);
    h.handshake_ack(&mut c);
    h.expect_rst(sa.seq() + 1);
    assert_eq!(h.app().opens(), 1);
    assert_eq!(h.app().closes(), vec![CloseReason::Aborted]);
    assert_eq!(h.engine.conn_count(), 0);
}

#[test]
fn close_from_on_open_sends_fin() {
    let mut h = Harness::new(
        TcpConfig::default(),
        Behaviour {
            on_open: vec![Action::Send(b"220 bye".to_vec()), Action::Close],
            ..Behaviour::default()
        },
    );
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let sa = h.syn(&mut c);
    h.handshake_ack(&mut c);
    let segs = h.take();
    let data: Vec<u8> = segs.iter().flat_map(|x| x.payload.clone()).collect();
    assert_eq!(data, b"220 bye");
    let fin = segs.iter().find(|x| x.has(FIN)).expect("FIN");
    assert_eq!(fin.end(), sa.seq() + 1 + 7 + 1);
    assert_eq!(h.gauge(State::FinWait1), 1);
}

#[test]
fn half_close_sends_fin_and_keeps_receiving() {
    let mut h = Harness::with_defaults();
    let handle = h.establish();
    let (p, s) = (h.c.iss, h.c.irs);
    h.app_shutdown(handle);
    h.expect_one(FIN | ACK, s + 1, p + 1);
    assert_eq!(
        h.app_send(handle, b"too late"),
        0,
        "send after shutdown_write"
    );
    h.c.ack = s + 2;
    h.send_ack();
    assert_eq!(h.gauge(State::FinWait2), 1);
    // The peer keeps sending; it is delivered, not reset.
    h.send_data(b"still talking");
    h.advance(TcpConfig::default().delayed_ack);
    let a = h.take();
    assert!(a.iter().all(|x| !x.has(RST)), "{}", show(&a));
    assert_eq!(a.last().map(|x| x.ack()), Some(p + 1 + 13));
    assert_eq!(h.app().data(), b"still talking");
    // Then it closes too.
    let o = h.seg(FIN | ACK);
    h.send(o);
    h.expect_one(ACK, s + 2, p + 15);
    assert_eq!(h.app().peer_closed(), 1);
    assert_eq!(h.gauge(State::TimeWait), 1);
    assert_eq!(h.app().closes(), vec![CloseReason::Normal]);
}

#[test]
fn close_all_closes_every_connection() {
    let mut h = Harness::with_defaults();
    let (_a, _) = h.open(Conn::new(PPORT, PEER_ISS, PeerOpts::full()));
    let (_b, _) = h.open(Conn::new(PPORT + 1, PEER_ISS, PeerOpts::full()));
    h.take();
    h.engine.close_all(h.now, &mut h.out);
    h.poll();
    let segs = h.take();
    assert_eq!(
        segs.iter().filter(|x| x.has(FIN)).count(),
        2,
        "{}",
        show(&segs)
    );
    assert_eq!(h.gauge(State::FinWait1), 2);
    // No longer listening.
    let c = Conn::new(PPORT + 2, PEER_ISS, PeerOpts::full());
    let o = h.syn_for(&c);
    h.send(o);
    let r = h.take();
    assert!(r.iter().all(|x| !x.has(SYN)), "{}", show(&r));
}
