//! Congestion control: NewReno (RFC 5681), CUBIC (RFC 9438) and BBR (v1, window part; see
//! `bbr`), selected per connection (enum dispatch; NewReno and CUBIC inline, BBR's larger
//! state boxed so that connections not using it do not pay for it). Loss *detection* and
//! recovery bookkeeping live in the connection; this module only decides the window.
//!
//! All windows are in bytes. The caller drives recovery: on entering fast recovery it calls
//! `on_congestion_event` (which sets cwnd = ssthresh) and then applies RFC 5681/6582 window
//! inflation itself with `set_cwnd` (ssthresh + 3*SMSS, +SMSS per further dupack, partial-ACK
//! deflation); `on_recovery_exit` deflates to ssthresh. `on_ack` is for ACKs outside recovery.

pub mod bbr;
pub mod cubic;
pub mod newreno;
pub mod rate;

use crate::time::Instant;
use bbr::{AckInfo, Bbr};
use core::time::Duration;
use rate::{Rate, Sample};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CcKind {
    NewReno,
    #[default]
    Cubic,
    Bbr,
}

impl core::str::FromStr for CcKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "newreno" | "reno" => Ok(CcKind::NewReno),
            "cubic" => Ok(CcKind::Cubic),
            "bbr" => Ok(CcKind::Bbr),
            _ => Err(format!(
                "unknown congestion control {s:?} (expected newreno, cubic or bbr)"
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
    Bbr(Box<Bbr>),
}

impl Cc {
    /// Initial window `iw_segments * mss` (RFC 6928: 10), ssthresh "arbitrarily high".
    pub fn new(kind: CcKind, mss: u32, iw_segments: u32) -> Cc {
        match kind {
            CcKind::NewReno => Cc::NewReno(newreno::NewReno::new(mss, iw_segments)),
            CcKind::Cubic => Cc::Cubic(cubic::Cubic::new(mss, iw_segments)),
            CcKind::Bbr => Cc::Bbr(Box::new(Bbr::new(mss, iw_segments))),
        }
    }
    pub fn kind(&self) -> CcKind {
        match self {
            Cc::NewReno(_) => CcKind::NewReno,
            Cc::Cubic(_) => CcKind::Cubic,
            Cc::Bbr(_) => CcKind::Bbr,
        }
    }
    #[inline]
    pub fn cwnd(&self) -> u32 {
        match self {
            Cc::NewReno(c) => c.cwnd(),
            Cc::Cubic(c) => c.cwnd(),
            Cc::Bbr(c) => c.cwnd(),
        }
    }
    /// BBR has no slow-start threshold (Linux reports it as infinite).
    #[inline]
    pub fn ssthresh(&self) -> u32 {
        match self {
            Cc::NewReno(c) => c.ssthresh(),
            Cc::Cubic(c) => c.ssthresh(),
            Cc::Bbr(_) => u32::MAX,
        }
    }
    pub fn in_slow_start(&self) -> bool {
        match self {
            Cc::Bbr(c) => c.mode() == bbr::Mode::Startup,
            _ => self.cwnd() < self.ssthresh(),
        }
    }
    /// BBR sets the window on every ACK itself, in recovery too: the caller's PRR and NewReno
    /// inflation do not apply (as Linux skips them for a `cong_control` module).
    #[inline]
    pub fn drives_recovery(&self) -> bool {
        matches!(self, Cc::Bbr(_))
    }
    /// The delivery counters to stamp transmissions with, for a rate-based controller.
    #[inline]
    pub fn rate_mut(&mut self) -> Option<&mut Rate> {
        match self {
            Cc::Bbr(c) => Some(&mut c.rate),
            _ => None,
        }
    }
    /// Every acceptable ACK, in recovery or not, with its rate sample (rate-based control only;
    /// the others take `on_ack`).
    pub fn on_delivery(&mut self, now: Instant, sample: Option<Sample>, info: AckInfo) {
        if let Cc::Bbr(c) = self {
            c.on_ack(now, sample, info);
        }
    }
    /// A reduction all of whose retransmissions proved needless (RFC 3708): back to `prior`,
    /// the state before it. Loss-based control takes it back whole; BBR keeps its model and
    /// counters (they moved on since) and takes only the larger window. Returns whether the
    /// window grew.
    pub fn undo(&mut self, prior: Cc) -> bool {
        if prior.cwnd() <= self.cwnd() {
            return false;
        }
        match self {
            Cc::Bbr(c) => c.undo(prior.cwnd()),
            _ => *self = prior,
        }
        true
    }
    /// Heap bytes owned (BBR's boxed state).
    pub fn heap_bytes(&self) -> usize {
        match self {
            Cc::Bbr(_) => core::mem::size_of::<Bbr>(),
            _ => 0,
        }
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
            Cc::Bbr(_) => {}
        }
    }
    /// Loss detected by dupacks/SACK: reduce ssthresh and set cwnd for fast recovery.
    /// Afterwards cwnd == ssthresh; NewReno's +3*SMSS inflation is the caller's (`set_cwnd`).
    pub fn on_congestion_event(&mut self, now: Instant, in_flight: u32) {
        let _ = now;
        match self {
            Cc::NewReno(c) => c.on_congestion_event(in_flight),
            Cc::Cubic(c) => c.on_congestion_event(in_flight),
            Cc::Bbr(c) => c.on_congestion_event(),
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
            Cc::Bbr(c) => c.on_rto(),
        }
    }
    /// Full ACK ended recovery: cwnd deflated to ssthresh (RFC 6582 §3.2 step 3).
    pub fn on_recovery_exit(&mut self, now: Instant) {
        let _ = now;
        match self {
            Cc::NewReno(c) => c.on_recovery_exit(),
            Cc::Cubic(c) => c.on_recovery_exit(),
            Cc::Bbr(_) => {}
        }
    }
    /// Sets cwnd directly (window inflation/deflation during NewReno recovery). Floored at one
    /// SMSS so a caller's arithmetic slip cannot stall the connection.
    pub fn set_cwnd(&mut self, cwnd: u32) {
        match self {
            Cc::NewReno(c) => c.set_cwnd(cwnd),
            Cc::Cubic(c) => c.set_cwnd(cwnd),
            Cc::Bbr(c) => c.set_cwnd(cwnd),
        }
    }
    /// MSS changed after negotiation. Before any ACK the initial window is recomputed as
    /// `iw_segments * mss`; afterwards cwnd (bytes) is kept.
    pub fn set_mss(&mut self, mss: u32) {
        match self {
            Cc::NewReno(c) => c.set_mss(mss),
            Cc::Cubic(c) => c.set_mss(mss),
            Cc::Bbr(c) => c.set_mss(mss),
        }
    }
}

#[cfg(test)]
mod tests;
