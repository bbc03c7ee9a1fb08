//! BBR (v1: draft-cardwell-iccrg-bbr-congestion-control-00, as Linux's `tcp_bbr.c`), window
//! part: the sender models the path as a bottleneck bandwidth (the windowed maximum of the
//! delivery rate over 10 round trips) and a round-trip propagation time (the minimum RTT over
//! 10 s), and keeps cwnd at a gain times their product. A random loss is repaired without
//! cutting the model, which is what lets BBR keep its rate on a lossy path where CUBIC halves.
//!
//! tcpterm does not pace: the timer wheel ticks in milliseconds, coarser than the sub-ms
//! round trips this server sees. So the gain cycle of PROBE_BW, which only changes the pacing
//! rate, is not run; cwnd (cwnd_gain 2 in PROBE_BW, 2/ln 2 in STARTUP and DRAIN) is the only
//! control. Loss handling follows Linux: packet conservation for the first round of a
//! recovery, cwnd restored to its value before the episode when the episode ends, and an RTO
//! restarts from one segment.

use super::rate::{Rate, Sample};
use crate::time::Instant;
use core::time::Duration;

/// 2/ln 2 (high gain of STARTUP), as Linux's 2885/1000.
const HIGH_GAIN_PERMILLE: u64 = 2885;
const CWND_GAIN_PERMILLE: u64 = 2000;
/// Bandwidth filter length, in round trips.
const BW_ROUNDS: u32 = 10;
/// RTprop filter length.
const MIN_RTT_WIN: Duration = Duration::from_secs(10);
const PROBE_RTT_TIME: Duration = Duration::from_millis(200);
/// cwnd floor and PROBE_RTT's window, in segments.
const MIN_SEGS: u32 = 4;
/// Send quanta added to the target for bursts and delayed ACKs (Linux's quantisation budget).
const QUANTA: u32 = 3;
/// A send quantum: the bytes sent at the bottleneck rate in 1 ms (Linux's TSO goal at
/// `sk_pacing_shift` 10), at least 2 and at most 127 segments, within a 64 KiB burst.
const QUANTUM_MAX_BYTES: u64 = 65_535 - 1 - 320;
const QUANTUM_MAX_SEGS: u64 = 127;
/// Below 1.2 Mbit/s a quantum is one segment (Linux's `bbr_min_tso_rate`).
const QUANTUM_MIN_RATE: u64 = 1_200_000 / 8;
/// ACK aggregation (Linux's `bbr_update_ack_aggregation`): the largest excess of ACKed over
/// expected bytes is kept over this many rounds (two windows of it), and the window it adds is
/// at most the bytes of this much time at the bottleneck rate.
const EXTRA_ACKED_ROUNDS: u8 = 5;
const EXTRA_ACKED_MAX: Duration = Duration::from_millis(100);
/// An aggregation epoch that has ACKed this much is restarted, however fast it went.
const ACK_EPOCH_RESET_BYTES: u32 = 1 << 30;
/// STARTUP ends after this many rounds without 25% bandwidth growth.
const FULL_BW_ROUNDS: u8 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Startup,
    Drain,
    ProbeBw,
    ProbeRtt,
}

/// The sender's loss state, as Linux's `icsk_ca_state` (Open/Disorder folded together).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CaState {
    Open,
    Recovery,
    /// After a retransmission timeout, until SND.UNA passes what was outstanding at it.
    Loss,
}

/// Running maximum over a window of rounds (Kathleen Nichols' algorithm, as Linux's
/// `win_minmax`): three samples, the best, second and third best of successive sub-windows.
#[derive(Clone, Copy, Debug, Default)]
struct MaxFilter {
    s: [(u32, u64); 3],
}

impl MaxFilter {
    fn get(&self) -> u64 {
        self.s[0].1
    }
    fn reset(&mut self, round: u32, v: u64) {
        self.s = [(round, v); 3];
    }
    fn update(&mut self, round: u32, v: u64) {
        if v >= self.s[0].1 || round.wrapping_sub(self.s[2].0) > BW_ROUNDS {
            self.reset(round, v);
            return;
        }
        if v >= self.s[1].1 {
            self.s[2] = (round, v);
            self.s[1] = (round, v);
        } else if v >= self.s[2].1 {
            self.s[2] = (round, v);
        }
        let dt = round.wrapping_sub(self.s[0].0);
        if dt > BW_ROUNDS {
            self.s[0] = self.s[1];
            self.s[1] = self.s[2];
            self.s[2] = (round, v);
            if round.wrapping_sub(self.s[0].0) > BW_ROUNDS {
                self.s[0] = self.s[1];
                self.s[1] = self.s[2];
            }
        } else if self.s[1].0 == self.s[0].0 && dt > BW_ROUNDS / 4 {
            self.s[2] = (round, v);
            self.s[1] = (round, v);
        } else if self.s[2].0 == self.s[1].0 && dt > BW_ROUNDS / 2 {
            self.s[2] = (round, v);
        }
    }
}

#[derive(Clone, Debug)]
pub struct Bbr {
    /// Delivery counters every transmission is stamped with.
    pub rate: Rate,
    cwnd: u32,
    mss: u32,
    iw_segments: u32,
    prior_cwnd: u32,
    mode: Mode,
    bw: MaxFilter,
    round: u32,
    next_round_delivered: u32,
    round_start: bool,
    /// RTprop, microseconds (u32::MAX: none yet), and when it was last refreshed.
    min_rtt_us: u32,
    min_rtt_at: Option<Instant>,
    probe_rtt_done: Option<Instant>,
    probe_rtt_round_done: bool,
    full_bw: u64,
    full_bw_cnt: u8,
    full_bw_reached: bool,
    conservation: bool,
    prev_ca: CaState,
    aggr: AckAggregation,
}

/// The ACKs a path bunches: bytes ACKed in an epoch beyond what the bottleneck rate explains.
/// A path that holds ACKs back (delayed or compressed ACKs, a receiver that stops ACKing while
/// its window is closed) needs that much more in flight to keep the bottleneck busy.
#[derive(Clone, Copy, Debug, Default)]
struct AckAggregation {
    extra: [u32; 2],
    idx: usize,
    rounds: u8,
    epoch_us: u32,
    epoch_acked: u32,
}

impl AckAggregation {
    fn get(&self) -> u32 {
        self.extra[0].max(self.extra[1])
    }
    /// One ACK delivering `acked` bytes, the newest delivery at `delivered_us`.
    fn update(&mut self, round_start: bool, bw: u64, acked: u32, delivered_us: u32, cwnd: u32) {
        if round_start {
            self.rounds = self.rounds.saturating_add(1);
            if self.rounds >= EXTRA_ACKED_ROUNDS {
                self.rounds = 0;
                self.idx ^= 1;
                self.extra[self.idx] = 0;
            }
        }
        let epoch = u64::from(delivered_us.wrapping_sub(self.epoch_us));
        let mut expected = (bw * epoch / 1_000_000).min(u64::from(u32::MAX)) as u32;
        if self.epoch_acked <= expected
            || self.epoch_acked.saturating_add(acked) >= ACK_EPOCH_RESET_BYTES
        {
            self.epoch_acked = 0;
            self.epoch_us = delivered_us;
            expected = 0;
        }
        self.epoch_acked = self.epoch_acked.saturating_add(acked);
        let extra = (self.epoch_acked - expected.min(self.epoch_acked)).min(cwnd);
        self.extra[self.idx] = self.extra[self.idx].max(extra);
    }
}

/// What one ACK did, for [`Bbr::on_ack`].
#[derive(Clone, Copy, Debug)]
pub struct AckInfo {
    /// Bytes newly delivered (cumulatively ACKed or SACKed).
    pub acked: u32,
    /// Bytes newly found lost.
    pub lost: u32,
    /// Bytes in flight after the ACK.
    pub in_flight: u32,
    pub ca: CaState,
}

impl Bbr {
    pub fn new(mss: u32, iw_segments: u32) -> Self {
        let mss = mss.max(1);
        Bbr {
            rate: Rate::default(),
            cwnd: iw_segments.max(1).saturating_mul(mss),
            mss,
            iw_segments,
            prior_cwnd: 0,
            mode: Mode::Startup,
            bw: MaxFilter::default(),
            round: 0,
            next_round_delivered: 0,
            round_start: false,
            min_rtt_us: u32::MAX,
            min_rtt_at: None,
            probe_rtt_done: None,
            probe_rtt_round_done: false,
            full_bw: 0,
            full_bw_cnt: 0,
            full_bw_reached: false,
            conservation: false,
            prev_ca: CaState::Open,
            aggr: AckAggregation::default(),
        }
    }
    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }
    pub fn mode(&self) -> Mode {
        self.mode
    }
    /// BtlBw, bytes per second (0 before the first sample).
    pub fn btl_bw(&self) -> u64 {
        self.bw.get()
    }
    /// RTprop, when measured.
    pub fn min_rtt_us(&self) -> Option<u32> {
        (self.min_rtt_us != u32::MAX).then_some(self.min_rtt_us)
    }
    pub fn set_cwnd(&mut self, cwnd: u32) {
        self.cwnd = cwnd.max(self.mss);
    }
    pub fn set_mss(&mut self, mss: u32) {
        let mss = mss.max(1);
        if self.rate.delivered() == 0 && self.prior_cwnd == 0 {
            self.cwnd = self.iw_segments.max(1).saturating_mul(mss);
        }
        self.mss = mss;
        self.cwnd = self.cwnd.max(mss);
    }

    fn save_cwnd(&mut self) {
        self.prior_cwnd = if self.prev_ca == CaState::Open && self.mode != Mode::ProbeRtt {
            self.cwnd
        } else {
            self.prior_cwnd.max(self.cwnd)
        };
    }
    /// Fast recovery begins: remember the window to return to (the conservation window is set
    /// on the episode's first ACK, which knows what it delivered).
    pub fn on_congestion_event(&mut self) {
        self.save_cwnd();
    }
    /// Retransmission timeout: one segment, the model kept; the bandwidth-growth check
    /// restarts and the timeout counts as the end of a round (Linux's `bbr_set_state`).
    pub fn on_rto(&mut self) {
        self.save_cwnd();
        self.cwnd = self.mss;
        self.prev_ca = CaState::Loss;
        self.full_bw = 0;
        self.round_start = true;
    }
    /// A reduction shown spurious by D-SACK (Linux's `bbr_undo_cwnd`): back to the larger
    /// window, and STARTUP's growth check starts over.
    pub fn undo(&mut self, prior_cwnd: u32) {
        self.full_bw = 0;
        self.full_bw_cnt = 0;
        self.cwnd = self.cwnd.max(prior_cwnd);
    }

    fn bdp(&self, gain_permille: u64) -> Option<u32> {
        if self.min_rtt_us == u32::MAX || self.bw.get() == 0 {
            return None;
        }
        let bdp = self.bw.get() * u64::from(self.min_rtt_us) / 1_000_000;
        Some((bdp * gain_permille / 1000).min(u64::from(u32::MAX / 2)) as u32)
    }
    /// Bytes in flight that keep the bottleneck busy at `gain_permille`: the gained BDP and
    /// the quantisation budget (Linux's `bbr_inflight`).
    fn target_cwnd(&self, gain_permille: u64) -> u32 {
        match self.bdp(gain_permille) {
            Some(b) => b.saturating_add(QUANTA * self.send_quantum()),
            None => self.iw_segments.max(1).saturating_mul(self.mss),
        }
    }
    /// The window to grow toward: the target plus what ACK aggregation holds back, counted
    /// once STARTUP is over (before, the high gain covers it).
    fn cwnd_goal(&self) -> u32 {
        let mut goal = self.target_cwnd(self.cwnd_gain());
        if self.full_bw_reached && self.bdp(1000).is_some() {
            let cap = self.bw.get() * EXTRA_ACKED_MAX.as_micros() as u64 / 1_000_000;
            goal = goal.saturating_add(u64::from(self.aggr.get()).min(cap) as u32);
        }
        goal
    }
    fn send_quantum(&self) -> u32 {
        let gain = match self.mode {
            Mode::Startup => HIGH_GAIN_PERMILLE,
            _ => 1000,
        };
        let rate = self.bw.get() * gain / 1000;
        let min_segs = if rate < QUANTUM_MIN_RATE { 1 } else { 2 };
        let mss = u64::from(self.mss);
        let segs = ((rate / 1000).min(QUANTUM_MAX_BYTES) / mss).clamp(min_segs, QUANTUM_MAX_SEGS);
        (segs * mss) as u32
    }
    fn cwnd_gain(&self) -> u64 {
        match self.mode {
            Mode::Startup | Mode::Drain => HIGH_GAIN_PERMILLE,
            Mode::ProbeBw | Mode::ProbeRtt => CWND_GAIN_PERMILLE,
        }
    }

    /// One ACK: the model from its rate sample, then the window.
    pub fn on_ack(&mut self, now: Instant, s: Option<Sample>, a: AckInfo) {
        self.update_round(s);
        if let Some(s) = s {
            self.update_bw(s);
            if a.acked > 0 && s.interval_us > 0 {
                let at = self.rate.delivered_us();
                self.aggr
                    .update(self.round_start, self.bw.get(), a.acked, at, self.cwnd);
            }
            self.check_full_bw(s);
        }
        self.check_drain(a.in_flight);
        self.update_min_rtt(now, s, a.in_flight);
        self.set_cwnd_for(a);
    }

    fn update_round(&mut self, s: Option<Sample>) {
        self.round_start = false;
        let Some(s) = s else { return };
        if (s.prior_delivered.wrapping_sub(self.next_round_delivered) as i32) >= 0 {
            self.next_round_delivered = self.rate.delivered();
            self.round = self.round.wrapping_add(1);
            self.round_start = true;
            self.conservation = false;
        }
    }

    fn update_bw(&mut self, s: Sample) {
        let Some(bw) = s.bytes_per_sec() else { return };
        if !s.app_limited || bw >= self.bw.get() {
            self.bw.update(self.round, bw);
        }
    }

    fn check_full_bw(&mut self, s: Sample) {
        if self.full_bw_reached || !self.round_start || s.app_limited {
            return;
        }
        let bw = self.bw.get();
        if bw >= self.full_bw.saturating_mul(5) / 4 && bw > 0 {
            self.full_bw = bw;
            self.full_bw_cnt = 0;
            return;
        }
        self.full_bw_cnt += 1;
        self.full_bw_reached = self.full_bw_cnt >= FULL_BW_ROUNDS;
    }

    fn check_drain(&mut self, in_flight: u32) {
        if self.mode == Mode::Startup && self.full_bw_reached {
            self.mode = Mode::Drain;
        }
        if self.mode == Mode::Drain && in_flight <= self.target_cwnd(1000) {
            self.mode = Mode::ProbeBw;
        }
    }

    fn update_min_rtt(&mut self, now: Instant, s: Option<Sample>, in_flight: u32) {
        let expired = self
            .min_rtt_at
            .is_some_and(|at| now.saturating_since(at) > MIN_RTT_WIN);
        if let Some(rtt) = s.and_then(|s| s.rtt_us) {
            if rtt < self.min_rtt_us || expired {
                self.min_rtt_us = rtt.max(1);
                self.min_rtt_at = Some(now);
            }
        }
        if expired && self.mode != Mode::ProbeRtt {
            self.mode = Mode::ProbeRtt;
            self.save_cwnd();
            self.probe_rtt_done = None;
        }
        if self.mode != Mode::ProbeRtt {
            return;
        }
        match self.probe_rtt_done {
            None if in_flight <= MIN_SEGS * self.mss => {
                self.probe_rtt_done = Some(now + PROBE_RTT_TIME);
                self.probe_rtt_round_done = false;
                self.next_round_delivered = self.rate.delivered();
            }
            None => {}
            Some(done) => {
                if self.round_start {
                    self.probe_rtt_round_done = true;
                }
                if self.probe_rtt_round_done && now >= done {
                    self.min_rtt_at = Some(now);
                    self.cwnd = self.cwnd.max(self.prior_cwnd);
                    self.mode = if self.full_bw_reached {
                        Mode::ProbeBw
                    } else {
                        Mode::Startup
                    };
                }
            }
        }
    }

    /// Linux's `bbr_set_cwnd_to_recover_or_restore`: true while packet conservation holds.
    fn recover_or_restore(&mut self, a: AckInfo) -> bool {
        if a.lost > 0 {
            self.cwnd = self.cwnd.saturating_sub(a.lost).max(self.mss);
        }
        if a.ca == CaState::Recovery && self.prev_ca != CaState::Recovery {
            self.conservation = true;
            self.next_round_delivered = self.rate.delivered();
            self.cwnd = a.in_flight.saturating_add(a.acked);
        } else if self.prev_ca >= CaState::Recovery && a.ca == CaState::Open {
            self.cwnd = self.cwnd.max(self.prior_cwnd);
            self.conservation = false;
        }
        self.prev_ca = a.ca;
        if self.conservation {
            self.cwnd = self.cwnd.max(a.in_flight.saturating_add(a.acked));
            return true;
        }
        false
    }

    fn set_cwnd_for(&mut self, a: AckInfo) {
        if a.acked > 0 && !self.recover_or_restore(a) {
            let target = self.cwnd_goal();
            if self.full_bw_reached {
                self.cwnd = self.cwnd.saturating_add(a.acked).min(target);
            } else if self.cwnd < target
                || self.rate.delivered() < self.iw_segments.saturating_mul(self.mss)
            {
                self.cwnd = self.cwnd.saturating_add(a.acked);
            }
        }
        self.cwnd = self.cwnd.max(MIN_SEGS * self.mss);
        if self.mode == Mode::ProbeRtt {
            self.cwnd = self.cwnd.min(MIN_SEGS * self.mss);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::cc::rate::{Gather, TxStamp};

    const MSS: u32 = 1000;
    const RTT_US: u32 = 1000;

    /// A path of `bw` bytes/s and RTT_US: the ACK at `now_us` delivers `bytes` of a segment
    /// sent one RTT earlier; counting this segment, `bw * RTT` bytes have been delivered since.
    struct Path {
        now_us: u32,
    }

    impl Path {
        fn ack(&mut self, b: &mut Bbr, bytes: u32, bw: u64, ca: CaState, lost: u32) {
            self.now_us += (u64::from(bytes) * 1_000_000 / bw) as u32;
            let window = (bw * u64::from(RTT_US) / 1_000_000) as u32;
            let sent = self.now_us - RTT_US;
            let stamp = TxStamp {
                delivered: b.rate.delivered().wrapping_add(bytes).wrapping_sub(window),
                delivered_us: sent,
                first_sent_us: sent,
                app_limited: false,
            };
            let mut g = Gather::default();
            b.rate
                .on_delivered(&mut g, &stamp, bytes, sent, false, self.now_us);
            let s = b.rate.finish(&g, RTT_US / 2);
            let now = Instant::ZERO + Duration::from_micros(u64::from(self.now_us));
            let info = AckInfo {
                acked: bytes,
                lost,
                in_flight: b.cwnd().min(window),
                ca,
            };
            b.on_ack(now, s, info);
        }
        fn run(&mut self, b: &mut Bbr, acks: u32, bw: u64) {
            for _ in 0..acks {
                self.ack(b, MSS, bw, CaState::Open, 0);
            }
        }
    }

    /// 100 MB/s x 1 ms: BDP 100 kB.
    const BW: u64 = 100_000_000;
    const BDP: u32 = 100_000;

    /// A connection 3000 ACKs into the path below: STARTUP and DRAIN are over.
    fn past_startup() -> (Bbr, Path) {
        let mut b = Bbr::new(MSS, 10);
        let mut p = Path { now_us: 10_000 };
        p.run(&mut b, 3000, BW);
        (b, p)
    }

    #[test]
    fn startup_finds_the_bandwidth_then_holds_twice_the_bdp() {
        let mut b = Bbr::new(MSS, 10);
        let mut p = Path { now_us: 10_000 };
        assert_eq!(b.mode(), Mode::Startup);
        p.run(&mut b, 3000, BW);
        assert_eq!(b.mode(), Mode::ProbeBw);
        assert_eq!(b.btl_bw(), BW);
        assert_eq!(b.min_rtt_us(), Some(RTT_US));
        // Twice the BDP, three quanta of 65 segments (1 ms at 100 MB/s is 100 kB, cut to the
        // 65,214 B burst), and the largest ACK aggregation of the last 5-10 rounds.
        assert_eq!(b.cwnd(), 2 * BDP + QUANTA * 65 * MSS + b.aggr.get());
        // Evenly spaced ACKs aggregate nothing beyond the one ACK's bytes, once the rounds of
        // STARTUP, whose bandwidth estimate lagged, have left the filter.
        p.run(&mut b, 2000, BW);
        assert_eq!(b.aggr.get(), MSS);
        assert_eq!(b.cwnd(), 2 * BDP + QUANTA * 65 * MSS + MSS);
    }

    #[test]
    fn acks_held_back_and_released_together_add_their_excess_to_the_window() {
        let mut b = Bbr::new(MSS, 10);
        let mut p = Path { now_us: 10_000 };
        p.run(&mut b, 5000, BW);
        let before = b.cwnd();
        // 20 segments' ACKs held for 200 us, then released at once: the first starts a new
        // epoch (the ACKs were slower than the rate), and the 20 kB come in no time at all.
        p.now_us += 200;
        for _ in 0..20 {
            p.now_us -= 10;
            p.ack(&mut b, MSS, BW, CaState::Open, 0);
        }
        assert_eq!(b.aggr.get(), 20 * MSS);
        assert_eq!(b.cwnd(), before - MSS + 20 * MSS);
    }

    #[test]
    fn a_random_loss_does_not_cut_the_window_and_recovery_ends_where_it_began() {
        let (mut b, mut p) = past_startup();
        let before = b.cwnd();
        b.on_congestion_event();
        // The episode's first ACK: packet conservation, cwnd = in flight + delivered, less
        // the segment found lost.
        p.ack(&mut b, MSS, BW, CaState::Recovery, MSS);
        assert_eq!(b.cwnd(), BDP + MSS);
        for _ in 0..50 {
            p.ack(&mut b, MSS, BW, CaState::Recovery, 0);
        }
        assert!(b.cwnd() >= BDP, "{}", b.cwnd());
        p.ack(&mut b, MSS, BW, CaState::Open, 0);
        assert_eq!(b.cwnd(), before);
        assert_eq!(b.btl_bw(), BW, "the model survives the loss");
    }

    #[test]
    fn an_rto_restarts_from_the_floor_and_restores_the_window_when_the_loss_is_repaired() {
        let (mut b, mut p) = past_startup();
        let before = b.cwnd();
        b.on_rto();
        assert_eq!(b.cwnd(), MSS);
        p.ack(&mut b, MSS, BW, CaState::Loss, 0);
        assert!(b.cwnd() <= 3 * MSS + MIN_SEGS * MSS, "{}", b.cwnd());
        p.ack(&mut b, MSS, BW, CaState::Open, 0);
        assert_eq!(b.cwnd(), before);
    }

    #[test]
    fn probe_rtt_after_ten_seconds_without_a_lower_rtt() {
        let (mut b, mut p) = past_startup();
        let before = b.cwnd();
        // 10 s of ACKs, each RTT sample equal to (not below) the minimum.
        p.run(&mut b, 1_000_000, BW);
        assert_eq!(b.mode(), Mode::ProbeRtt);
        assert_eq!(b.cwnd(), MIN_SEGS * MSS);
        // 200 ms and a round later it is over, with the window back.
        p.run(&mut b, 25_000, BW);
        assert_eq!(b.mode(), Mode::ProbeBw);
        assert_eq!(b.cwnd(), before);
    }

    #[test]
    fn the_bandwidth_filter_forgets_a_peak_after_ten_rounds() {
        let mut f = MaxFilter::default();
        f.update(0, 500);
        for r in 1..=BW_ROUNDS {
            f.update(r, 100);
            assert_eq!(f.get(), 500, "round {r}");
        }
        f.update(BW_ROUNDS + 1, 100);
        assert_eq!(f.get(), 100);
    }

    #[test]
    fn undo_takes_the_larger_window_and_restarts_the_growth_check() {
        let mut b = Bbr::new(MSS, 10);
        b.full_bw = 7;
        b.full_bw_cnt = 2;
        b.undo(50 * MSS);
        assert_eq!((b.cwnd(), b.full_bw, b.full_bw_cnt), (50 * MSS, 0, 0));
        b.undo(MSS);
        assert_eq!(b.cwnd(), 50 * MSS);
    }
}
