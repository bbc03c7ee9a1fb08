//! CUBIC (RFC 9438) with the Reno-friendly region and fast convergence.
//!
//! Windows are bytes (u32) at the interface; the cubic function itself is evaluated in f64
//! with W in segments as the RFC writes it (C = 0.4 segments/s³). cbrt is only taken at the
//! start of a congestion-avoidance epoch; a per-ACK update is a handful of multiplications.

use super::{flight_reduction, slow_start};
use crate::time::Instant;
use core::time::Duration;

/// RFC 9438 §5.1 constant C (segments / s³).
pub const C: f64 = 0.4;
/// RFC 9438 §4.6 multiplicative decrease factor.
pub const BETA: f64 = 0.7;
/// RFC 9438 §4.3: α_cubic = 3(1 - β)/(1 + β), Reno-equivalent average throughput.
pub const ALPHA: f64 = 3.0 * (1.0 - BETA) / (1.0 + BETA);

/// One congestion-avoidance epoch (RFC 9438 §4.2): starts at the first CA ACK.
#[derive(Clone, Copy, Debug)]
struct Epoch {
    start: Instant,
    /// K in seconds.
    k: f64,
    /// W_max this epoch's curve plateaus at, in segments.
    origin: f64,
    /// W_est of §4.3, in segments.
    w_est: f64,
}

#[derive(Clone)]
pub struct Cubic {
    cwnd: u32,
    ssthresh: u32,
    mss: u32,
    iw_segments: u32,
    pristine: bool,
    /// Growth below one byte, carried to the next ACK so slow growth near the plateau is not
    /// truncated away.
    carry: f64,
    /// W_max (segments) from the last reduction, after fast convergence; 0 = none.
    w_max: f64,
    /// cwnd (segments) when ssthresh was last set, for the α switch of §4.3; 0 = none.
    cwnd_prior: f64,
    epoch: Option<Epoch>,
    min_rtt: Option<Duration>,
    /// Time of the previous ACK, to tell idle gaps from the ACK clock.
    last_ack: Option<Instant>,
}

impl Cubic {
    pub fn new(mss: u32, iw_segments: u32) -> Self {
        let mss = mss.max(1);
        Cubic {
            cwnd: iw_segments.max(1).saturating_mul(mss),
            ssthresh: u32::MAX,
            mss,
            iw_segments,
            pristine: true,
            carry: 0.0,
            w_max: 0.0,
            cwnd_prior: 0.0,
            epoch: None,
            min_rtt: None,
            last_ack: None,
        }
    }
    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }
    pub fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    /// W_max in bytes (0 before the first congestion event).
    pub fn w_max(&self) -> u32 {
        (self.w_max * f64::from(self.mss)) as u32
    }
    /// Current K in seconds, when an epoch is running.
    pub fn k(&self) -> Option<f64> {
        self.epoch.map(|e| e.k)
    }
    pub fn min_rtt(&self) -> Option<Duration> {
        self.min_rtt
    }

    /// Called for every ACK carrying new data, before growth (which is skipped when
    /// `app_limited`). Keeps the minimum RTT and, per RFC 9438 §5.8, stops the cubic clock
    /// while the window is not being used: an application-limited ACK, or a gap since the
    /// previous ACK longer than the minimum RTT (the sender went idle; a live ACK clock never
    /// pauses that long outside recovery), moves the epoch start forward by that gap so the
    /// curve resumes where it left off instead of jumping ahead.
    pub fn observe_ack(&mut self, now: Instant, rtt: Option<Duration>, app_limited: bool) {
        if let Some(r) = rtt {
            self.min_rtt = Some(self.min_rtt.map_or(r, |m| m.min(r)));
        }
        if let (Some(e), Some(last)) = (&mut self.epoch, self.last_ack) {
            let gap = now.saturating_since(last);
            if app_limited || self.min_rtt.is_some_and(|m| gap > m) {
                e.start += gap;
            }
        }
        self.last_ack = Some(now);
    }

    fn segs(&self, bytes: u32) -> f64 {
        f64::from(bytes) / f64::from(self.mss)
    }

    /// W_cubic(t) of RFC 9438 eq. 1, in segments.
    fn w_cubic(e: &Epoch, t: f64) -> f64 {
        let d = t - e.k;
        C * d * d * d + e.origin
    }

    fn start_epoch(&mut self, now: Instant) -> Epoch {
        let cwnd = self.segs(self.cwnd);
        // §4.2 eq. 2; with no reduction on record (end of slow start, or after an RTO per
        // §4.8) the plateau is the current window and K = 0, so growth is convex at once.
        let (k, origin) = if self.w_max > cwnd {
            (((self.w_max - cwnd) / C).cbrt(), self.w_max)
        } else {
            (0.0, cwnd)
        };
        let e = Epoch {
            start: now,
            k,
            origin,
            w_est: cwnd,
        };
        self.epoch = Some(e);
        e
    }

    pub fn on_ack(&mut self, now: Instant, bytes_acked: u32) {
        self.pristine = false;
        let mut acked = bytes_acked;
        if self.cwnd < self.ssthresh {
            acked = slow_start(&mut self.cwnd, self.ssthresh, self.mss, acked);
            if acked == 0 {
                return;
            }
        }
        let mut e = match self.epoch {
            Some(e) => e,
            None => self.start_epoch(now),
        };
        let cwnd = self.segs(self.cwnd);
        let acked_segs = self.segs(acked);

        // §4.3: W_est grows like Reno with α_cubic, or α = 1 once past the pre-loss window.
        let alpha = if e.w_est >= self.cwnd_prior {
            1.0
        } else {
            ALPHA
        };
        e.w_est += alpha * acked_segs / cwnd;
        self.epoch = Some(e);

        let t = now.saturating_since(e.start).as_secs_f64();
        let new_cwnd = if Self::w_cubic(&e, t) < e.w_est {
            // Reno-friendly region. The RFC sets cwnd = W_est; taking the max keeps a window
            // that the cubic target already grew past (Linux does the same).
            self.carry = 0.0;
            e.w_est.max(cwnd)
        } else {
            // §4.2: aim one RTT ahead, the target bounded to [cwnd, 1.5 cwnd], and close
            // (target - cwnd)/cwnd of the gap per acknowledged segment.
            let rtt = self.min_rtt.map_or(0.0, |r| r.as_secs_f64());
            let target = Self::w_cubic(&e, t + rtt).clamp(cwnd, 1.5 * cwnd);
            cwnd + (target - cwnd) * acked_segs / cwnd
        };
        let bytes = new_cwnd * f64::from(self.mss) + self.carry;
        let whole = bytes.floor();
        self.carry = bytes - whole;
        // `as` saturates (and maps NaN to 0), and the window never shrinks on an ACK.
        self.cwnd = (whole as u32).max(self.cwnd);
    }

    /// §4.6 reduction with §4.7 fast convergence.
    fn reduce(&mut self, in_flight: u32) {
        let cwnd = self.segs(self.cwnd);
        self.w_max = if cwnd < self.w_max {
            cwnd * (1.0 + BETA) / 2.0
        } else {
            cwnd
        };
        self.cwnd_prior = cwnd;
        self.ssthresh = flight_reduction(in_flight, BETA, self.mss);
        self.epoch = None;
        self.carry = 0.0;
    }

    pub fn on_congestion_event(&mut self, in_flight: u32) {
        self.pristine = false;
        self.reduce(in_flight);
        self.cwnd = self.ssthresh;
    }

    /// §4.8: ssthresh as for any loss, cwnd to the loss window, and the next epoch starts with
    /// K = 0 and W_max = cwnd at that time.
    pub fn on_rto(&mut self, in_flight: u32) {
        self.pristine = false;
        self.reduce(in_flight);
        self.w_max = 0.0;
        self.cwnd = self.mss;
    }

    pub fn on_recovery_exit(&mut self) {
        self.cwnd = self.ssthresh;
        self.epoch = None;
        self.carry = 0.0;
    }

    pub fn set_cwnd(&mut self, cwnd: u32) {
        self.pristine = false;
        self.cwnd = cwnd.max(self.mss);
        self.carry = 0.0;
    }

    pub fn set_mss(&mut self, mss: u32) {
        let mss = mss.max(1);
        // W_max and friends are kept in segments; rescale so the byte values stay put.
        let scale = f64::from(self.mss) / f64::from(mss);
        self.w_max *= scale;
        self.cwnd_prior *= scale;
        if let Some(e) = &mut self.epoch {
            e.origin *= scale;
            e.w_est *= scale;
        }
        self.mss = mss;
        if self.pristine {
            self.cwnd = self.iw_segments.max(1).saturating_mul(mss);
        } else {
            self.cwnd = self.cwnd.max(mss);
        }
    }
}
