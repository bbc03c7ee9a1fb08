//! Congestion control: NewReno (RFC 5681) and CUBIC (RFC 9438), selected per connection and
//! stored inline (enum dispatch, no allocation). Loss *detection* and recovery bookkeeping live
//! in the connection; this module only decides the window.

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

pub enum Cc {
    NewReno(newreno::NewReno),
    Cubic(cubic::Cubic),
}

impl Cc {
    /// Initial window `iw_segments * mss` (RFC 6928: 10), ssthresh "arbitrarily high".
    pub fn new(kind: CcKind, mss: u32, iw_segments: u32) -> Cc {
        let _ = (kind, mss, iw_segments);
        todo!("cc helper")
    }
    pub fn cwnd(&self) -> u32 {
        todo!("cc helper")
    }
    pub fn ssthresh(&self) -> u32 {
        todo!("cc helper")
    }
    pub fn in_slow_start(&self) -> bool {
        self.cwnd() < self.ssthresh()
    }
    /// New data acknowledged outside recovery: grow (slow start / congestion avoidance).
    /// `in_flight` is bytes outstanding before this ACK; growth is skipped when the sender was
    /// not using the window (application-limited, RFC 7661 spirit).
    pub fn on_ack(
        &mut self,
        now: Instant,
        bytes_acked: u32,
        in_flight: u32,
        rtt: Option<Duration>,
    ) {
        let _ = (now, bytes_acked, in_flight, rtt);
        todo!("cc helper")
    }
    /// Loss detected by dupacks/SACK: reduce ssthresh and set cwnd for fast recovery.
    pub fn on_congestion_event(&mut self, now: Instant, in_flight: u32) {
        let _ = (now, in_flight);
        todo!("cc helper")
    }
    /// Retransmission timeout: ssthresh reduced, cwnd to one segment (loss window).
    pub fn on_rto(&mut self, now: Instant, in_flight: u32) {
        let _ = (now, in_flight);
        todo!("cc helper")
    }
    /// Full ACK ended recovery: cwnd deflated to ssthresh (RFC 6582 §3.2 step 3).
    pub fn on_recovery_exit(&mut self, now: Instant) {
        let _ = now;
        todo!("cc helper")
    }
    /// Sets cwnd directly (window inflation/deflation during NewReno recovery).
    pub fn set_cwnd(&mut self, cwnd: u32) {
        let _ = cwnd;
        todo!("cc helper")
    }
    /// MSS changed after negotiation.
    pub fn set_mss(&mut self, mss: u32) {
        let _ = mss;
        todo!("cc helper")
    }
}
