//! SYN queue limits and SYN cookies (RFC 4987 §3.6; Linux `tcp_syncookies` 0/1/2), black-box.

mod common;
use common::*;
use stack::{State, SynCookiePolicy, TcpConfig};

fn cookie_harness(policy: SynCookiePolicy) -> Harness {
    Harness::new(
        TcpConfig {
            syn_backlog: 1,
            syncookies: policy,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    )
}

#[test]
fn syn_queue_overflow_with_auto_policy_sends_cookie_and_final_ack_establishes() {
    let mut h = cookie_harness(SynCookiePolicy::Auto);
    let mut a = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut a);
    assert_eq!(h.gauge(State::SynReceived), 1);
    assert_eq!(
        h.counters().mib.syncookies_sent,
        0,
        "room in the queue: no cookie"
    );
    // The queue (backlog 1) is full: the second SYN gets a stateless cookie SYN-ACK.
    let opts = PeerOpts {
        mss: Some(1400),
        ..PeerOpts::full()
    };
    let mut b = Conn::new(PPORT + 1, PEER_ISS + 5555, opts);
    let sa = h.syn(&mut b);
    assert_eq!(sa.ack(), PEER_ISS + 5555 + 1);
    assert_eq!(sa.repr.options.mss, Some(1460));
    assert_eq!(h.counters().mib.syncookies_sent, 1);
    assert_eq!(
        h.gauge(State::SynReceived),
        1,
        "no state kept for the cookie"
    );
    // The final ACK carries the cookie back (and echoes the SYN-ACK's TSval).
    b.window = 16384;
    h.handshake_ack(&mut b);
    assert_eq!(h.app().opens(), 1, "{}", show(&h.segs));
    assert_eq!(h.counters().mib.syncookies_recv, 1);
    assert_eq!(h.gauge(State::Established), 1);
    assert_eq!(h.gauge(State::SynReceived), 1);
    let handle = h.app().last_open().unwrap();
    h.take();
    // Data flows both ways; our segments respect the MSS the cookie encoded (<= 1400 minus
    // the timestamp option, never above what the peer announced).
    h.c = b;
    h.send_data(b"hello cookie");
    assert_eq!(h.app().data(), b"hello cookie");
    h.advance(ms(500));
    h.take();
    assert_eq!(h.app_send(handle, &pattern(4000, 1)), 4000);
    let segs = h.take();
    let full = segs.iter().map(|x| x.len()).max().unwrap();
    assert!((536 - 12..=1400 - 12).contains(&full), "{}", show(&segs));
    let mut next = b.irs + 1;
    for sg in &segs {
        assert_eq!(sg.seq(), next);
        next += sg.len() as u32;
    }
    assert_eq!(next, b.irs + 1 + 4000);
}

#[test]
fn forged_ack_to_listener_gets_rst_and_syncookies_failed() {
    let mut h = cookie_harness(SynCookiePolicy::Auto);
    let mut a = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut a);
    let mut b = Conn::new(PPORT + 1, PEER_ISS, PeerOpts::full());
    h.syn(&mut b);
    assert_eq!(h.counters().mib.syncookies_sent, 1);
    // An ACK nobody's SYN-ACK asked for, while cookies are in use.
    let c = Conn::new(PPORT + 2, PEER_ISS, PeerOpts::none());
    let o = h.seg_on(&c, ACK).seq(PEER_ISS + 1).ack(0xdead_beef);
    h.send(o);
    h.expect_rst(0xdead_beef);
    assert_eq!(h.counters().mib.syncookies_failed, 1);
    assert_eq!(h.counters().drops.tcp_bad_cookie, 1);
    assert_eq!(h.app().opens(), 0);
    assert_eq!(h.gauge(State::Established), 0);
}

#[test]
fn never_policy_drops_syn_beyond_backlog_and_counts_listen_overflow() {
    let mut h = cookie_harness(SynCookiePolicy::Never);
    let mut a = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut a);
    let b = Conn::new(PPORT + 1, PEER_ISS, PeerOpts::full());
    let o = h.syn_for(&b);
    h.send(o);
    h.expect_none();
    assert_eq!(h.counters().mib.syncookies_sent, 0);
    assert_eq!(h.counters().mib.listen_overflows, 1);
    assert_eq!(h.counters().drops.tcp_syn_queue_full, 1);
    assert_eq!(h.gauge(State::SynReceived), 1);
    // Once the first completes, the queue has room again.
    h.handshake_ack(&mut a);
    let mut b = b;
    h.take();
    h.syn(&mut b);
    assert_eq!(h.gauge(State::SynReceived), 1);
}

#[test]
fn always_policy_answers_every_syn_with_a_cookie_and_keeps_no_state() {
    let mut h = Harness::new(
        TcpConfig {
            syncookies: SynCookiePolicy::Always,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    );
    let mut a = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let sa = h.syn(&mut a);
    assert_eq!(sa.ack(), PEER_ISS + 1);
    assert_eq!(h.counters().mib.syncookies_sent, 1);
    assert_eq!(h.gauge(State::SynReceived), 0);
    assert_eq!(h.engine.conn_count(), 0);
    // Window scaling survives the cookie (carried in the timestamp): the third ACK's raw
    // window 1 means 1 << 7 = 128 bytes.
    a.window = 1;
    h.handshake_ack(&mut a);
    assert_eq!(h.app().opens(), 1);
    assert_eq!(h.counters().mib.syncookies_recv, 1);
    assert_eq!(h.gauge(State::Established), 1);
    h.c = a;
    h.take();
    let handle = h.app().last_open().unwrap();
    h.app_send(handle, &pattern(1000, 2));
    let segs = h.take();
    let sent: usize = segs.iter().map(|x| x.len()).sum();
    assert_eq!(sent, 128, "{}", show(&segs));
}

#[test]
fn cookie_ack_with_wrong_ack_number_fails_validation() {
    let mut h = Harness::new(
        TcpConfig {
            syncookies: SynCookiePolicy::Always,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    );
    let mut a = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let sa = h.syn(&mut a);
    let o = h.seg_on(&a, ACK).ack(sa.seq() + 2);
    h.send(o);
    h.expect_rst(sa.seq() + 2);
    assert_eq!(h.counters().mib.syncookies_failed, 1);
    assert_eq!(h.app().opens(), 0);
}

#[test]
fn cookie_without_timestamps_still_establishes_with_a_valid_mss() {
    let mut h = Harness::new(
        TcpConfig {
            syncookies: SynCookiePolicy::Always,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    );
    let opts = PeerOpts {
        mss: Some(1200),
        ..PeerOpts::none()
    };
    let mut a = Conn::new(PPORT, PEER_ISS, opts);
    let sa = h.syn(&mut a);
    assert_eq!(sa.repr.options.timestamp, None);
    a.window = 65535;
    h.handshake_ack(&mut a);
    assert_eq!(h.app().opens(), 1);
    let handle = h.app().last_open().unwrap();
    h.take();
    h.app_send(handle, &pattern(5000, 3));
    let segs = h.take();
    let full = segs.iter().map(|x| x.len()).max().unwrap();
    assert!((536..=1200).contains(&full), "{}", show(&segs));
}

// ---- Cookies are tried only after a recent SYN-queue overflow (Linux tcp_synq_no_recent_overflow)

/// A valid cookie ACK for a fresh tuple, minted by an engine with the same secret (the
/// harness seeds every engine alike) answering with cookies always, `after` past the start.
fn minted_cookie_ack(after: core::time::Duration, port: u16) -> (Out, u32) {
    let mut mint = Harness::new(
        TcpConfig {
            syncookies: SynCookiePolicy::Always,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    );
    mint.advance(after);
    let mut c = Conn::new(port, PEER_ISS + 99, PeerOpts::full());
    let sa = mint.syn(&mut c);
    (mint.seg_on(&c, ACK), sa.seq().wrapping_add(1))
}

#[test]
fn rfc4987_valid_cookie_ack_refused_under_auto_without_a_recent_overflow() {
    let mut h = cookie_harness(SynCookiePolicy::Auto);
    let (ack, cookie_ack) = minted_cookie_ack(secs(0), PPORT + 7);
    // This engine never overflowed, so it sent no cookie: the ACK is not tried as one, and
    // gets the ordinary reset for a segment without a connection (RFC 9293 §3.10.7.2).
    h.send(ack);
    h.expect_rst(cookie_ack);
    let c = h.counters();
    assert_eq!(c.drops.tcp_no_connection, 1);
    assert_eq!(c.drops.tcp_bad_cookie, 0);
    assert_eq!(c.mib.syncookies_failed, 0);
    assert_eq!(c.mib.syncookies_recv, 0);
    assert_eq!(h.app().opens(), 0);
}

#[test]
fn rfc4987_cookie_ack_accepted_under_auto_within_the_cookie_lifetime_after_an_overflow() {
    let mut h = cookie_harness(SynCookiePolicy::Auto);
    let mut a = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut a);
    let mut b = Conn::new(PPORT + 1, PEER_ISS + 1, PeerOpts::full());
    h.syn(&mut b);
    assert_eq!(h.counters().mib.listen_overflows, 1);
    // 100 s later, a cookie ACK (valid, of the current tick) is still tried and accepted.
    h.advance(secs(100));
    h.take();
    let (ack, _) = minted_cookie_ack(secs(100), PPORT + 7);
    h.send(ack);
    assert_eq!(h.app().opens(), 1, "{}", show(&h.segs));
    assert_eq!(h.counters().mib.syncookies_recv, 1);
}

#[test]
fn rfc4987_cookie_ack_refused_under_auto_once_the_overflow_is_older_than_a_cookie() {
    let mut h = cookie_harness(SynCookiePolicy::Auto);
    let mut a = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn(&mut a);
    let mut b = Conn::new(PPORT + 1, PEER_ISS + 1, PeerOpts::full());
    h.syn(&mut b);
    // No cookie minted at the overflow validates after 192 s (three 64 s ticks), so no ACK
    // after that can carry one of ours.
    h.advance(secs(192));
    h.take();
    let (ack, cookie_ack) = minted_cookie_ack(secs(192), PPORT + 7);
    h.send(ack);
    h.expect_rst(cookie_ack);
    assert_eq!(h.counters().drops.tcp_no_connection, 1);
    assert_eq!(h.counters().mib.syncookies_failed, 0);
    assert_eq!(h.app().opens(), 0);
}

#[test]
fn rfc4987_cookie_ack_always_tried_under_always() {
    let mut h = Harness::new(
        TcpConfig {
            syncookies: SynCookiePolicy::Always,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    );
    let (ack, _) = minted_cookie_ack(secs(0), PPORT + 7);
    h.send(ack);
    assert_eq!(h.app().opens(), 1);
    assert_eq!(h.counters().mib.syncookies_recv, 1);
}

#[test]
fn rfc4987_never_policy_never_tries_a_cookie() {
    let mut h = cookie_harness(SynCookiePolicy::Never);
    let (ack, cookie_ack) = minted_cookie_ack(secs(0), PPORT + 7);
    h.send(ack);
    h.expect_rst(cookie_ack);
    assert_eq!(h.counters().drops.tcp_no_connection, 1);
    assert_eq!(h.counters().mib.syncookies_failed, 0);
}

// ---- Window scale and SACK come back only with our timestamp (RFC 7323 §3.2) ------------------

/// Opens `a` through a cookie handshake on `h`, the final ACK built by `ack`, and checks what
/// was negotiated: raw window 100 in the ACK means 100 bytes unless window scaling is on, and
/// an out-of-order segment gets SACK blocks only with SACK on.
fn cookie_open_negotiated(
    h: &mut Harness,
    mut a: Conn,
    ack: impl FnOnce(&Harness, &Conn) -> Out,
) -> (usize, bool) {
    let sa = h.syn(&mut a);
    a.window = 100;
    let o = ack(h, &a);
    h.send(o);
    assert_eq!(h.app().opens(), 1, "{}", show(&h.segs));
    assert!(sa.repr.options.timestamp.is_none());
    let handle = h.app().last_open().unwrap();
    h.take();
    h.c = a;
    h.app_send(handle, &pattern(1000, 9));
    let sent: usize = h.take().iter().map(|s| s.len()).sum();
    let o = h.seg(ACK | PSH).seq(h.c.nxt + 100).data(b"later");
    h.send(o);
    let dup = h.take().pop().expect("a duplicate ACK");
    (sent, !dup.sack().is_empty())
}

#[test]
fn rfc7323_3_2_cookie_ack_without_timestamp_gets_no_window_scale_or_sack() {
    let mut h = Harness::new(
        TcpConfig {
            syncookies: SynCookiePolicy::Always,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    );
    // The SYN offers WS and SACK but no timestamp: the cookie SYN-ACK had nowhere to keep
    // them, offered neither, and the ACK must not restore them.
    let opts = PeerOpts {
        ts: false,
        ..PeerOpts::full()
    };
    let a = Conn::new(PPORT, PEER_ISS, opts);
    let (sent, sack) = cookie_open_negotiated(&mut h, a, |h, a| h.seg_on(a, ACK));
    assert_eq!(sent, 100, "window scaling must be off");
    assert!(!sack, "SACK must be off");
}

#[test]
fn rfc7323_3_2_cookie_ack_with_timestamp_we_never_sent_gets_no_window_scale_or_sack() {
    // Timestamps off here: our SYN-ACK carried none, so a TS option in the ACK is ignored
    // (RFC 7323 §3.2), not decoded, whatever its TSecr claims (0x37: WS 7, SACK, "ours").
    let mut h = Harness::new(
        TcpConfig {
            syncookies: SynCookiePolicy::Always,
            timestamps: false,
            ..TcpConfig::default()
        },
        Behaviour::default(),
    );
    let a = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let (sent, sack) = cookie_open_negotiated(&mut h, a, |h, a| {
        h.seg_on(a, ACK).ts(h.peer_tsval(), 0x1000_0037)
    });
    assert_eq!(sent, 100, "window scaling must be off");
    assert!(!sack, "SACK must be off");
}
