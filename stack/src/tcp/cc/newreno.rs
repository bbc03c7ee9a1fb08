//! NewReno window arithmetic (RFC 5681 §3.1, RFC 6582).
//!
//! Slow start uses appropriate byte counting with L = 2 (RFC 3465 §2.2); congestion avoidance
//! counts bytes too (RFC 3465 §2.1): one SMSS per cwnd's worth of acknowledged data, which is
//! exactly the "+1 SMSS per RTT" of RFC 5681 §3.1 regardless of delayed or stretch ACKs.

use super::{flight_reduction, slow_start};

#[derive(Clone)]
pub struct NewReno {
    cwnd: u32,
    ssthresh: u32,
    mss: u32,
    /// RFC 3465 `bytes_acked` for congestion avoidance.
    ca_acked: u32,
    iw_segments: u32,
    /// No ACK or loss seen yet, so an MSS change can rescale the initial window.
    pristine: bool,
}

impl NewReno {
    pub fn new(mss: u32, iw_segments: u32) -> Self {
        let mss = mss.max(1);
        NewReno {
            cwnd: iw_segments.max(1).saturating_mul(mss),
            ssthresh: u32::MAX,
            mss,
            ca_acked: 0,
            iw_segments,
            pristine: true,
        }
    }
    pub fn cwnd(&self) -> u32 {
        self.cwnd
    }
    pub fn ssthresh(&self) -> u32 {
        self.ssthresh
    }
    pub fn on_ack(&mut self, bytes_acked: u32) {
        self.pristine = false;
        let mut acked = bytes_acked;
        if self.cwnd < self.ssthresh {
            acked = slow_start(&mut self.cwnd, self.ssthresh, self.mss, acked);
            if acked == 0 {
                return;
            }
        }
        self.ca_acked = self.ca_acked.saturating_add(acked);
        if self.ca_acked >= self.cwnd {
            self.ca_acked -= self.cwnd;
            self.cwnd = self.cwnd.saturating_add(self.mss);
        }
    }
    /// RFC 5681 §3.2 step 2: ssthresh = max(FlightSize / 2, 2*SMSS), cwnd = ssthresh. The
    /// 3*SMSS inflation of step 3 (and per-dupack inflation) is the caller's, via `set_cwnd`.
    pub fn on_congestion_event(&mut self, in_flight: u32) {
        self.pristine = false;
        self.ssthresh = flight_reduction(in_flight, 0.5, self.mss);
        self.cwnd = self.ssthresh;
        self.ca_acked = 0;
    }
    /// RFC 5681 §3.1 eq. (4) and the loss window of one SMSS.
    pub fn on_rto(&mut self, in_flight: u32) {
        self.pristine = false;
        self.ssthresh = flight_reduction(in_flight, 0.5, self.mss);
        self.cwnd = self.mss;
        self.ca_acked = 0;
    }
    pub fn on_recovery_exit(&mut self) {
        self.cwnd = self.ssthresh;
        self.ca_acked = 0;
    }
    pub fn set_cwnd(&mut self, cwnd: u32) {
        self.pristine = false;
        self.cwnd = cwnd.max(self.mss);
    }
    pub fn set_mss(&mut self, mss: u32) {
        let mss = mss.max(1);
        self.mss = mss;
        if self.pristine {
            self.cwnd = self.iw_segments.max(1).saturating_mul(mss);
        } else {
            self.cwnd = self.cwnd.max(mss);
        }
    }
}
