//! Congestion control: NewReno (RFC 5681) and CUBIC (RFC 9438), selected per connection and
//! stored inline (enum dispatch, no allocation). Loss *detection* and recovery bookkeeping live
//! in the connection; this module only decides the window.
//!
//! All windows are in bytes. The caller drives recovery: on entering fast recovery it calls
//! `on_congestion_event` (which sets cwnd = ssthresh) and then applies RFC 5681/6582 window
//! inflation itself with `set_cwnd` (ssthresh + 3*SMSS, +SMSS per further dupack, partial-ACK
//! deflation); `on_recovery_exit` deflates to ssthresh. `on_ack` is for ACKs outside recovery.

pub mod cubic;
pub mod newreno;

use crate::time::Instant;
use core::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CcKind {
    NewReno,
    #[default]
    Cubic,
}

impl core::str::FromStr for CcKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "newreno" | "reno" => Ok(CcKind::NewReno),
            "cubic" => Ok(CcKind::Cubic),
            _ => Err(format!(
                "unknown congestion control {s:?} (expected newreno or cubic)"
            )),
        }
    }
}

/// RFC 3465 §2.2 limit L on slow-start growth per ACK, in SMSS.
const ABC_L: u32 = 2;

/// Slow start with appropriate byte counting, never overshooting ssthresh. Returns the
/// acknowledged bytes left over once cwnd reached ssthresh, for congestion avoidance to count
/// (0 while still in slow start).
fn slow_start(cwnd: &mut u32, ssthresh: u32, mss: u32, acked: u32) -> u32 {
    let inc = acked.min(ABC_L.saturating_mul(mss));
    let grown = cwnd.saturating_add(inc).min(ssthresh).max(*cwnd);
    let used = grown - *cwnd;
    *cwnd = grown;
    if grown >= ssthresh {
        acked - used
    } else {
        0
    }
}

/// ssthresh after a loss: `factor * FlightSize`, floored at 2*SMSS (RFC 5681 eq. 4).
fn flight_reduction(in_flight: u32, factor: f64, mss: u32) -> u32 {
    ((f64::from(in_flight) * factor) as u32).max(mss.saturating_mul(2))
}

/// Application-limited heuristic (RFC 7661 spirit): the sender used less than half the window.
/// `in_flight + bytes_acked` is deliberately lenient: it is right if the caller counts
/// `in_flight` after removing the acknowledged bytes, and only over-estimates use (so errs
/// towards growing, never towards stalling a bulk sender with stretch ACKs) if it counts before.
fn app_limited(cwnd: u32, in_flight: u32, bytes_acked: u32) -> bool {
    in_flight.saturating_add(bytes_acked) < cwnd / 2
}

#[derive(Clone)]
pub enum Cc {
    NewReno(newreno::NewReno),
    Cubic(cubic::Cubic),
}

impl Cc {
    /// Initial window `iw_segments * mss` (RFC 6928: 10), ssthresh "arbitrarily high".
    pub fn new(kind: CcKind, mss: u32, iw_segments: u32) -> Cc {
        match kind {
            CcKind::NewReno => Cc::NewReno(newreno::NewReno::new(mss, iw_segments)),
            CcKind::Cubic => Cc::Cubic(cubic::Cubic::new(mss, iw_segments)),
        }
    }
    pub fn kind(&self) -> CcKind {
        match self {
            Cc::NewReno(_) => CcKind::NewReno,
            Cc::Cubic(_) => CcKind::Cubic,
        }
    }
    #[inline]
    pub fn cwnd(&self) -> u32 {
        match self {
            Cc::NewReno(c) => c.cwnd(),
            Cc::Cubic(c) => c.cwnd(),
        }
    }
    #[inline]
    pub fn ssthresh(&self) -> u32 {
        match self {
            Cc::NewReno(c) => c.ssthresh(),
            Cc::Cubic(c) => c.ssthresh(),
        }
    }
    pub fn in_slow_start(&self) -> bool {
        self.cwnd() < self.ssthresh()
    }
    /// New data acknowledged outside recovery: grow (slow start / congestion avoidance).
    /// `in_flight` is bytes outstanding before this ACK; growth is skipped when the sender was
    /// not using the window (application-limited, RFC 7661 spirit): when
    /// `in_flight + bytes_acked < cwnd / 2`. `rtt` is this ACK's RTT sample, if any (CUBIC
    /// keeps the minimum, and pauses its epoch clock over app-limited and idle periods).
    pub fn on_ack(
        &mut self,
        now: Instant,
        bytes_acked: u32,
        in_flight: u32,
        rtt: Option<Duration>,
    ) {
        if bytes_acked == 0 {
            return;
        }
        let limited = app_limited(self.cwnd(), in_flight, bytes_acked);
        if let Cc::Cubic(c) = self {
            c.observe_ack(now, rtt, limited);
        }
        if limited {
            return;
        }
        match self {
            Cc::NewReno(c) => c.on_ack(bytes_acked),
            Cc::Cubic(c) => c.on_ack(now, bytes_acked),
        }
    }
    /// Loss detected by dupacks/SACK: reduce ssthresh and set cwnd for fast recovery.
    /// Afterwards cwnd == ssthresh; NewReno's +3*SMSS inflation is the caller's (`set_cwnd`).
    pub fn on_congestion_event(&mut self, now: Instant, in_flight: u32) {
        let _ = now;
        match self {
            Cc::NewReno(c) => c.on_congestion_event(in_flight),
            Cc::Cubic(c) => c.on_congestion_event(in_flight),
        }
    }
    /// Retransmission timeout: ssthresh reduced, cwnd to one segment (loss window).
    /// Call it once per loss episode (RFC 5681 §3.1: not again for a backed-off retransmission
    /// of the same segment), or ssthresh collapses to 2*SMSS.
    pub fn on_rto(&mut self, now: Instant, in_flight: u32) {
        let _ = now;
        match self {
            Cc::NewReno(c) => c.on_rto(in_flight),
            Cc::Cubic(c) => c.on_rto(in_flight),
        }
    }
    /// Full ACK ended recovery: cwnd deflated to ssthresh (RFC 6582 §3.2 step 3).
    pub fn on_recovery_exit(&mut self, now: Instant) {
        let _ = now;
        match self {
            Cc::NewReno(c) => c.on_recovery_exit(),
            Cc::Cubic(c) => c.on_recovery_exit(),
        }
    }
    /// Sets cwnd directly (window inflation/deflation during NewReno recovery). Floored at one
    /// SMSS so a caller's arithmetic slip cannot stall the connection.
    pub fn set_cwnd(&mut self, cwnd: u32) {
        match self {
            Cc::NewReno(c) => c.set_cwnd(cwnd),
            Cc::Cubic(c) => c.set_cwnd(cwnd),
        }
    }
    /// MSS changed after negotiation. Before any ACK the initial window is recomputed as
    /// `iw_segments * mss`; afterwards cwnd (bytes) is kept.
    pub fn set_mss(&mut self, mss: u32) {
        match self {
            Cc::NewReno(c) => c.set_mss(mss),
            Cc::Cubic(c) => c.set_mss(mss),
        }
    }
}

#[cfg(test)]
mod tests;
