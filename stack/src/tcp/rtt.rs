//! Retransmission timer computation (RFC 6298): SRTT/RTTVAR, min/max RTO, exponential backoff.
//! Karn's rule is the caller's: only sample RTT from segments that were not retransmitted
//! (or from timestamps, RFC 7323 §4).

use core::time::Duration;

pub struct RttEstimator {}

impl RttEstimator {
    /// Before any sample the RTO is `initial` (RFC 6298: 1 s).
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        let _ = (initial, min, max);
        todo!("rtt helper")
    }
    pub fn sample(&mut self, rtt: Duration) {
        let _ = rtt;
        todo!("rtt helper")
    }
    /// Current RTO including backoff, clamped to [min, max].
    pub fn rto(&self) -> Duration {
        todo!("rtt helper")
    }
    pub fn srtt(&self) -> Option<Duration> {
        todo!("rtt helper")
    }
    pub fn rttvar(&self) -> Duration {
        todo!("rtt helper")
    }
    /// Doubles the RTO (RFC 6298 §5.5).
    pub fn backoff(&mut self) {
        todo!("rtt helper")
    }
    pub fn reset_backoff(&mut self) {
        todo!("rtt helper")
    }
    pub fn backoff_count(&self) -> u32 {
        todo!("rtt helper")
    }
}
