//! Connection establishment (RFC 9293 §3.5, §3.7.1; RFC 7323 §2-3; RFC 2018 §2), black-box.

mod common;
use common::*;
use stack::{CloseReason, State, TcpConfig};

#[test]
fn passive_open_syn_gets_syn_ack_with_ack_seq_plus_one_and_negotiated_options_rfc9293_3_5() {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let syn = h.syn_for(&c);
    let peer_tsval = syn.repr.options.timestamp.unwrap().0;
    h.send(syn);
    let sa = h.expect_one(
        SYN | ACK,
        h.segs.first().map_or(0, |s| s.seq()),
        PEER_ISS + 1,
    );
    // Addressed back to the peer on every layer.
    assert_eq!(sa.eth_src, US_MAC);
    assert_eq!(sa.eth_dst, PEER_MAC);
    assert_eq!(sa.ip_src, US_IP);
    assert_eq!(sa.ip_dst, PEER_IP);
    assert_eq!(sa.repr.src_port, LPORT);
    assert_eq!(sa.repr.dst_port, PPORT);
    assert!(sa.payload.is_empty(), "a SYN carries no data here");
    let o = sa.repr.options;
    // Our MSS: min(config mss, MTU - 40) = 1460.
    assert_eq!(o.mss, Some(1460));
    // RFC 7323 §2.2: we may send WS because the peer did; our shift covers rx_buf.
    assert_eq!(o.window_scale, Some(TcpConfig::default().rcv_wscale()));
    // RFC 2018 §2: SACK-permitted only because the peer offered it.
    assert!(o.sack_permitted);
    // RFC 7323 §3.2: TSecr echoes the SYN's TSval.
    let (_, tsecr) = o.timestamp.expect("timestamps answered");
    assert_eq!(tsecr, peer_tsval);
    // The window of a SYN is never scaled (RFC 7323 §2.2).
    assert!(sa.repr.window > 0);

    assert_eq!(h.gauge(State::SynReceived), 1);
    assert_eq!(h.gauge(State::Established), 0);
    assert_eq!(h.counters().mib.passive_opens, 1);
    assert_eq!(h.app().opens(), 0, "on_open only once ESTABLISHED");

    Harness::learn_syn(&mut c, &sa);
    h.handshake_ack(&mut c);
    h.expect_none();
    assert_eq!(h.app().opens(), 1);
    assert_eq!(h.gauge(State::Established), 1);
    assert_eq!(h.gauge(State::SynReceived), 0);
    assert_eq!(h.engine.conn_count(), 1);
}

#[test]
fn syn_without_options_gets_no_ws_ts_sack_and_mss_default_536_rfc9293_3_7_1() {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::none());
    let sa = h.syn(&mut c);
    let o = sa.repr.options;
    assert_eq!(o.mss, Some(1460), "MSS is always sent on a SYN");
    assert_eq!(
        o.window_scale, None,
        "RFC 7323 §2.2: no WS unless the SYN had one"
    );
    assert_eq!(
        o.timestamp, None,
        "RFC 7323 §3.2: no TS unless the SYN had one"
    );
    assert!(
        !o.sack_permitted,
        "RFC 2018: no SACK-permitted unless offered"
    );
    c.window = 65535;
    h.handshake_ack(&mut c);
    h.c = c;
    let handle = h.app().last_open().expect("open");
    h.take();

    // No MSS option from the peer: send at most 536 bytes per segment (RFC 9293 §3.7.1,
    // RFC 1122 §4.2.2.6), and no options on any later segment.
    assert_eq!(h.app_send(handle, &pattern(2000, 1)), 2000);
    let segs = h.take();
    let lens: Vec<usize> = segs.iter().map(|s| s.len()).collect();
    assert_eq!(lens, vec![536, 536, 536, 392], "{}", show(&segs));
    let mut seq = c.irs + 1;
    for s in &segs {
        assert_eq!(s.seq(), seq);
        seq += s.len() as u32;
        assert_eq!(s.repr.options.timestamp, None, "{s}");
        assert_eq!(s.repr.options.sack.len, 0, "{s}");
        assert_eq!(s.repr.options.window_scale, None, "{s}");
        assert_eq!(s.repr.options.mss, None, "{s}");
        // Unscaled window: the raw field is the window itself, capped at 65535.
        assert!(s.repr.window > 0);
    }
}

#[test]
fn peer_mss_limits_our_segments_minus_timestamp_option_rfc6691() {
    let mut h = Harness::with_defaults();
    let opts = PeerOpts {
        mss: Some(1000),
        ..PeerOpts::full()
    };
    let handle = h.establish_with(opts);
    assert_eq!(h.app_send(handle, &pattern(3000, 2)), 3000);
    let segs = h.take();
    let lens: Vec<usize> = segs.iter().map(|s| s.len()).collect();
    // 1000 - 12 bytes of timestamp option = 988 per full segment.
    assert_eq!(lens, vec![988, 988, 988, 36], "{}", show(&segs));
    for s in &segs {
        assert!(
            s.repr.options.timestamp.is_some(),
            "TS on every segment: {s}"
        );
    }
}

#[test]
fn mss_option_is_min_of_config_and_mtu() {
    let mut h = Harness::new(
        TcpConfig {
            mss: 1200,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    );
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let sa = h.syn(&mut c);
    assert_eq!(sa.repr.options.mss, Some(1200));
}

#[test]
fn handshake_final_ack_with_wrong_ack_gets_rst_and_embryo_stays_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let sa = h.syn(&mut c);
    // SYN-RECEIVED, ACK not acceptable (SND.UNA < SEG.ACK =< SND.NXT fails): send a reset
    // <SEQ=SEG.ACK><CTL=RST>.
    let bad = sa.seq().wrapping_add(1000);
    let o = h.seg_on(&c, ACK).ack(bad);
    h.send(o);
    let r = h.expect_rst(bad);
    assert!(!r.has(ACK) || r.ack() == c.nxt);
    assert_eq!(h.app().opens(), 0);
    // The embryo is still waiting for the right ACK.
    h.handshake_ack(&mut c);
    assert_eq!(h.app().opens(), 1);
    assert_eq!(h.gauge(State::Established), 1);
}

#[test]
fn active_open_sends_syn_with_options_and_acks_syn_ack_rfc9293_3_5() {
    let mut h = Harness::with_defaults();
    let (handle, syn) = h.connect(50000, 8080);
    assert_eq!(syn.flags(), SYN, "{syn}");
    assert_eq!(syn.repr.src_port, 50000);
    assert_eq!(syn.repr.dst_port, 8080);
    assert_eq!(syn.eth_dst, PEER_MAC);
    assert_eq!(syn.ip_dst, PEER_IP);
    let o = syn.repr.options;
    assert_eq!(o.mss, Some(1460));
    assert_eq!(o.window_scale, Some(TcpConfig::default().rcv_wscale()));
    assert!(o.sack_permitted);
    let (our_tsval, tsecr) = o.timestamp.expect("TS offered");
    assert_eq!(tsecr, 0, "RFC 7323 §3.2: TSecr is zero on an initial SYN");
    assert_eq!(h.gauge(State::SynSent), 1);
    assert_eq!(h.counters().mib.active_opens, 1);
    assert_eq!(h.app().opens(), 0);

    let iss = syn.seq();
    let q = 5_000_000u32;
    let c = Conn::new(8080, q, PeerOpts::full());
    let sa = h
        .seg_on(&c, SYN | ACK)
        .dport(50000)
        .seq(q)
        .ack(iss + 1)
        .win(65535)
        .options(stack::wire::tcp::TcpOptions {
            mss: Some(1460),
            window_scale: Some(7),
            sack_permitted: true,
            timestamp: Some((h.peer_tsval(), our_tsval)),
            ..Default::default()
        });
    h.send(sa);
    // <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>
    let a = h.expect_one(ACK, iss + 1, q + 1);
    assert!(a.payload.is_empty());
    assert!(a.repr.options.timestamp.is_some());
    assert_eq!(h.app().opens(), 1);
    assert_eq!(h.app().last_open(), Some(handle));
    assert_eq!(h.gauge(State::Established), 1);
    assert_eq!(h.gauge(State::SynSent), 0);
    assert_eq!(h.tcp_state(handle), Some(State::Established));
}

#[test]
fn syn_sent_unacceptable_ack_gets_rst_seq_seg_ack_rfc9293_3_10_7_3() {
    let mut h = Harness::with_defaults();
    let (_handle, syn) = h.connect(50000, 8080);
    let iss = syn.seq();
    let c = Conn::new(8080, 5_000_000, PeerOpts::none());
    let bad = iss.wrapping_add(77);
    let o = h
        .seg_on(&c, SYN | ACK)
        .dport(50000)
        .seq(5_000_000)
        .ack(bad)
        .no_ts();
    h.send(o);
    // SEG.ACK =< ISS or SEG.ACK > SND.NXT: <SEQ=SEG.ACK><CTL=RST>, segment dropped.
    let r = h.expect_rst(bad);
    assert!(!r.has(ACK), "{r}");
    assert_eq!(
        h.gauge(State::SynSent),
        1,
        "still waiting for a proper SYN-ACK"
    );
    assert!(h.app().closes().is_empty());
}

#[test]
fn syn_sent_rst_with_acceptable_ack_is_refused_rfc9293_3_10_7_3() {
    let mut h = Harness::with_defaults();
    let (handle, syn) = h.connect(50000, 8080);
    let c = Conn::new(8080, 5_000_000, PeerOpts::none());
    let o = h
        .seg_on(&c, RST | ACK)
        .dport(50000)
        .seq(0)
        .ack(syn.seq() + 1)
        .win(0)
        .no_ts();
    h.send(o);
    h.expect_none();
    assert_eq!(h.app().closes(), vec![CloseReason::Refused]);
    assert!(h
        .app()
        .events
        .contains(&Event::Closed(handle, CloseReason::Refused)));
    assert_eq!(h.gauge(State::SynSent), 0);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.counters().mib.attempt_fails, 1);
}

#[test]
fn syn_sent_rst_with_unacceptable_ack_is_ignored_rfc9293_3_10_7_3() {
    let mut h = Harness::with_defaults();
    let (_handle, syn) = h.connect(50000, 8080);
    let c = Conn::new(8080, 5_000_000, PeerOpts::none());
    let o = h
        .seg_on(&c, RST | ACK)
        .dport(50000)
        .seq(0)
        .ack(syn.seq() + 500)
        .no_ts();
    h.send(o);
    h.expect_none();
    assert!(h.app().closes().is_empty());
    assert_eq!(h.gauge(State::SynSent), 1);
}

#[test]
fn active_open_syn_retransmitted_at_initial_rto_then_backoff_then_timed_out_rfc6298_2_1() {
    let cfg = TcpConfig {
        syn_retries: 2,
        ..TcpConfig::default()
    };
    let mut h = Harness::new(cfg, Behaviour::default());
    let t0 = h.now;
    let (handle, syn) = h.connect(50000, 8080);
    // RFC 6298 §2.1: no RTT sample yet, RTO = 1 s (rto_initial).
    h.advance_to(t0 + ms(999));
    h.expect_none();
    h.advance_to(t0 + secs(1));
    let r1 = h.expect_one(SYN, syn.seq(), 0);
    assert_eq!(
        r1.repr.options.mss,
        Some(1460),
        "a retransmitted SYN keeps its options"
    );
    // §5.5: back off the timer (double it).
    h.advance_to(t0 + ms(2999));
    h.expect_none();
    h.advance_to(t0 + secs(3));
    h.expect_one(SYN, syn.seq(), 0);
    // After syn_retries retransmissions, one more backed-off RTO and the attempt is abandoned.
    h.advance_to(t0 + ms(6999));
    h.expect_none();
    assert!(h.app().closes().is_empty());
    h.advance_to(t0 + secs(7));
    assert!(
        h.take().iter().all(|s| !s.has(SYN)),
        "no third retransmission"
    );
    assert!(h
        .app()
        .events
        .contains(&Event::Closed(handle, CloseReason::TimedOut)));
    assert_eq!(h.gauge(State::SynSent), 0);
    assert_eq!(h.engine.conn_count(), 0);
    assert_eq!(h.counters().mib.attempt_fails, 1);
}

#[test]
fn simultaneous_open_syn_in_syn_sent_answers_syn_ack_rfc9293_3_5_figure_8() {
    let mut h = Harness::with_defaults();
    let (_handle, syn) = h.connect(50000, 8080);
    let iss = syn.seq();
    let q = 9_000_000u32;
    let c = Conn::new(8080, q, PeerOpts::full());
    // The peer's own SYN crosses ours.
    let mut o = h.syn_for(&c).dport(50000);
    o.repr.options.timestamp = Some((h.peer_tsval(), 0));
    h.send(o);
    // SYN-SENT + SYN without ACK: enter SYN-RECEIVED, send <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>.
    let sa = h.expect_one(SYN | ACK, iss, q + 1);
    assert_eq!(sa.repr.options.mss, Some(1460));
    assert_eq!(h.gauge(State::SynReceived), 1);
    assert_eq!(h.gauge(State::SynSent), 0);
    assert_eq!(h.app().opens(), 0);
}

#[test]
fn simultaneous_open_completes_on_peer_syn_ack_rfc9293_figure_8() {
    let mut h = Harness::with_defaults();
    let (handle, syn) = h.connect(50000, 8080);
    let iss = syn.seq();
    let our_tsval = syn.tsval().unwrap();
    let q = 9_000_000u32;
    let c = Conn::new(8080, q, PeerOpts::full());
    let o = h.syn_for(&c).dport(50000);
    h.send(o);
    h.take();
    // Figure 8 line 6: the peer's SYN-ACK <SEQ=Q><ACK=ISS+1> completes the open.
    let mut o = h.syn_for(&c).dport(50000).flags(SYN | ACK).ack(iss + 1);
    o.repr.options.timestamp = Some((h.peer_tsval(), our_tsval));
    h.send(o);
    // Whether an ACK (or a repeated SYN-ACK) goes out here differs between readings of the
    // figure and the §3.10.7.4 text; a reset never does.
    for s in h.take() {
        assert!(!s.has(RST), "unexpected {s}");
    }
    assert_eq!(h.app().opens(), 1);
    assert_eq!(h.app().last_open(), Some(handle));
    assert_eq!(h.gauge(State::Established), 1);
    assert_eq!(h.gauge(State::SynReceived), 0);
}

#[test]
fn simultaneous_open_completes_on_plain_ack_rfc9293_3_10_7_4() {
    let mut h = Harness::with_defaults();
    let (handle, syn) = h.connect(50000, 8080);
    let iss = syn.seq();
    let q = 9_000_000u32;
    let c = Conn::new(8080, q, PeerOpts::none());
    let o = h.syn_for(&c).dport(50000);
    h.send(o);
    h.expect_one(SYN | ACK, iss, q + 1);
    let o = h.seg_on(&c, ACK).dport(50000).seq(q + 1).ack(iss + 1);
    h.send(o);
    h.expect_none();
    assert_eq!(h.app().opens(), 1);
    assert_eq!(h.tcp_state(handle), Some(State::Established));
}

#[test]
fn retransmitted_syn_in_syn_received_gets_the_same_syn_ack() {
    let mut h = Harness::with_defaults();
    let mut c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let sa = h.syn(&mut c);
    let o = h.syn_for(&c);
    h.send(o);
    let again = h.take();
    assert_eq!(again.len(), 1, "{}", show(&again));
    assert_seg(&again[0], SYN | ACK, sa.seq(), PEER_ISS + 1);
    assert_eq!(h.gauge(State::SynReceived), 1, "no second embryo");
}

#[test]
fn syn_to_listener_twice_from_two_ports_makes_two_embryos() {
    let mut h = Harness::with_defaults();
    let mut a = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let mut b = Conn::new(PPORT + 1, PEER_ISS + 7777, PeerOpts::full());
    h.syn(&mut a);
    h.syn(&mut b);
    assert_eq!(h.gauge(State::SynReceived), 2);
    h.handshake_ack(&mut a);
    h.handshake_ack(&mut b);
    assert_eq!(h.gauge(State::Established), 2);
    assert_eq!(h.engine.conn_count(), 2);
}
