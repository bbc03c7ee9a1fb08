//! Malformed and hostile frames: dropped, counted under the right reason, never answered, never
//! a panic (RFC 9293 §3.1 checksum, RFC 1122 §3.2.1 / §4.2.2.5 header checks), black-box.

mod common;
use common::*;
use stack::sim::SimRng;
use stack::wire::checksum;
use stack::{State, TcpConfig};

const IP: usize = 14;
const TCP: usize = 14 + 20;

fn refill_ip_checksum(f: &mut [u8]) {
    f[IP + 10..IP + 12].copy_from_slice(&[0, 0]);
    let c = checksum::checksum(&f[IP..IP + 20]);
    f[IP + 10..IP + 12].copy_from_slice(&c.to_be_bytes());
}

fn refill_tcp_checksum(f: &mut [u8]) {
    f[TCP + 16..TCP + 18].copy_from_slice(&[0, 0]);
    let seg = &f[TCP..];
    let ph = checksum::pseudo_header(PEER_IP, US_IP, 6, seg.len() as u16);
    let c = !checksum::fold(checksum::sum(seg, ph));
    f[TCP + 16..TCP + 18].copy_from_slice(&c.to_be_bytes());
}

fn syn_frame(h: &Harness) -> Vec<u8> {
    let c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    h.syn_for(&c).frame()
}

/// Nothing answered, no connection state created.
fn assert_ignored(h: &mut Harness) {
    h.expect_none();
    assert_eq!(h.gauge(State::SynReceived), 0);
    assert_eq!(h.engine.conn_count(), 0);
}

#[test]
fn bad_tcp_checksum_is_dropped_and_counted_rfc9293_3_1() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    f[TCP + 16] ^= 0x5a;
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.tcp_checksum, 1);
    assert_eq!(h.counters().mib.in_csum_errors, 1);
    assert_eq!(h.counters().total_drops(), 1);
    // A corrupted payload byte is caught too.
    h.establish();
    let s = h.c.irs;
    let mut f = h.seg(ACK | PSH).ack(s + 1).data(b"payload").frame();
    let n = f.len();
    f[n - 1] ^= 1;
    h.receive_raw(&f);
    h.expect_none();
    assert!(h.app().data().is_empty());
    assert_eq!(h.counters().drops.tcp_checksum, 2);
}

#[test]
fn bad_ip_header_checksum_is_dropped_rfc1122_3_2_1_2() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    f[IP + 10] ^= 0xff;
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.ip_checksum, 1);
    assert_eq!(h.counters().total_drops(), 1);
}

#[test]
fn truncated_ethernet_frame_is_dropped() {
    let mut h = Harness::with_defaults();
    let f = syn_frame(&h);
    h.receive_raw(&f[..10]);
    h.receive_raw(&[]);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.eth_truncated, 2);
}

#[test]
fn ip_total_length_beyond_frame_is_dropped() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    let claimed = (f.len() - 14 + 100) as u16;
    f[IP + 2..IP + 4].copy_from_slice(&claimed.to_be_bytes());
    refill_ip_checksum(&mut f);
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.ip_truncated, 1);
}

#[test]
fn tcp_header_cut_short_is_dropped_as_truncated() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    // The IP datagram carries only 10 bytes of TCP header.
    f.truncate(TCP + 10);
    f[IP + 2..IP + 4].copy_from_slice(&30u16.to_be_bytes());
    refill_ip_checksum(&mut f);
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.tcp_truncated, 1);
}

#[test]
fn tcp_data_offset_below_five_is_malformed() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    f[TCP + 12] = 0x40;
    refill_tcp_checksum(&mut f);
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.tcp_malformed, 1);
}

#[test]
fn tcp_data_offset_beyond_segment_is_truncated() {
    let mut h = Harness::with_defaults();
    let c = Conn::new(PPORT, PEER_ISS, PeerOpts::none());
    let mut f = h.syn_for(&c).frame();
    // 20-byte header claims 60.
    f[TCP + 12] = 0xf0;
    refill_tcp_checksum(&mut f);
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.tcp_truncated, 1);
}

#[test]
fn option_with_zero_length_is_malformed_rfc9293_3_2() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    // The first option is MSS (kind 2, length 4): claim length 0.
    assert_eq!(f[TCP + 20], 2);
    f[TCP + 21] = 0;
    refill_tcp_checksum(&mut f);
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.tcp_malformed, 1);
}

#[test]
fn option_running_past_header_is_malformed_rfc9293_3_2() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    f[TCP + 21] = 40;
    refill_tcp_checksum(&mut f);
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.tcp_malformed, 1);
}

#[test]
fn frame_for_another_mac_is_not_for_us() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    f[5] ^= 0x10;
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.eth_not_for_us, 1);
}

#[test]
fn packet_for_another_ip_is_not_for_us() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    f[IP + 19] ^= 0x40;
    refill_ip_checksum(&mut f);
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.ip_not_for_us, 1);
}

#[test]
fn ip_fragment_is_dropped() {
    let mut h = Harness::with_defaults();
    let mut f = syn_frame(&h);
    f[IP + 6] |= 0x20; // more fragments
    refill_ip_checksum(&mut f);
    h.receive_raw(&f);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.ip_fragment, 1);
}

#[test]
fn syn_fin_to_listener_is_dropped_with_bad_flags() {
    let mut h = Harness::with_defaults();
    let c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let o = h.syn_for(&c).flags(SYN | FIN);
    h.send(o);
    assert_ignored(&mut h);
    assert_eq!(h.counters().drops.tcp_bad_flags, 1);
}

#[test]
fn syn_rst_to_listener_is_not_answered() {
    let mut h = Harness::with_defaults();
    let c = Conn::new(PPORT, PEER_ISS, PeerOpts::full());
    let o = h.syn_for(&c).flags(SYN | RST);
    h.send(o);
    assert_ignored(&mut h);
    assert_eq!(h.counters().total_drops(), 1);
}

#[test]
fn nic_reported_bad_checksum_is_dropped() {
    let mut h = Harness::with_defaults();
    // Checksum caps are off in the harness, so the NIC's verdict is not consulted; a frame
    // that is correct in software is accepted whatever the meta says.
    let f = syn_frame(&h);
    let meta = stack::wire::RxMeta {
        ipv4: stack::wire::RxCsum::Bad,
        l4: stack::wire::RxCsum::Bad,
    };
    h.engine.receive(h.now, &f, meta, &mut h.out);
    h.poll();
    assert_eq!(h.take().len(), 1, "software-verified SYN answered");
}

#[test]
fn random_mutations_of_valid_frames_never_panic_and_never_leak() {
    let mut h = Harness::new(
        TcpConfig {
            challenge_ack_limit: 1_000_000,
            ..TcpConfig::default()
        },
        Behaviour {
            echo: true,
            ..Behaviour::default()
        },
    );
    h.establish();
    let s = h.c.irs;
    let base = [
        h.seg(ACK | PSH)
            .ack(s + 1)
            .data(b"GET / HTTP/1.1\r\n\r\n")
            .frame(),
        h.syn_for(&Conn::new(PPORT + 9, 77, PeerOpts::full()))
            .frame(),
        h.seg(FIN | ACK).ack(s + 1).frame(),
        h.seg(RST).frame(),
    ];
    let mut rng = SimRng::new(42);
    for i in 0..3000 {
        let mut f = base[i % base.len()].clone();
        match rng.below(4) {
            0 => {
                let n = 1 + rng.below(4);
                for _ in 0..n {
                    let at = rng.below(f.len() as u64) as usize;
                    f[at] ^= 1 << rng.below(8);
                }
                if rng.chance(0.7) {
                    refill_ip_checksum(&mut f);
                    refill_tcp_checksum(&mut f);
                }
            }
            1 => {
                let n = rng.below(f.len() as u64) as usize;
                f.truncate(n);
            }
            2 => {
                // Random bytes in the TCP header and options, checksums made right.
                if f.len() > TCP + 20 {
                    let at = TCP + 12 + rng.below((f.len() - TCP - 12) as u64) as usize;
                    f[at] = rng.next_u64() as u8;
                    refill_ip_checksum(&mut f);
                    refill_tcp_checksum(&mut f);
                }
            }
            _ => {
                f.extend((0..rng.below(64)).map(|_| rng.next_u64() as u8));
            }
        }
        h.receive_raw(&f);
        if i % 100 == 0 {
            h.advance(ms(50));
        }
    }
    h.advance(secs(600));
    let gauges = h.gauge_total();
    assert_eq!(
        gauges,
        (h.engine.conn_count() + h.engine.time_wait_count()) as u64,
        "state gauges must match the live connections"
    );
}
