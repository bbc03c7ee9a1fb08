//! Delivery rate estimation (draft-cheng-iccrg-delivery-rate-estimation-02, as Linux's
//! `tcp_rate.c`): every transmission is stamped with how much had been delivered by then and
//! when, and every ACK turns the most recently sent segment it newly delivered into one rate
//! sample: bytes delivered between that segment's send and its ACK, over the longer of the send
//! and the ACK intervals (so neither ACK compression nor a send burst inflates the rate).
//!
//! Counts are wrapping u32 bytes and microseconds: only differences within one flight are
//! taken, and a flight never spans 2 GB or 35 minutes.

/// The connection's delivery state at one transmission, kept with the segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TxStamp {
    /// C.delivered when the segment was sent.
    pub delivered: u32,
    /// C.delivered_time when the segment was sent.
    pub delivered_us: u32,
    /// C.first_sent_time: send time of the segment delivered most recently before this one.
    pub first_sent_us: u32,
    /// The sender was application-limited when this segment went out.
    pub app_limited: bool,
}

/// What one ACK delivered, gathered segment by segment, then finished into a [`Sample`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Gather {
    have: bool,
    prior_delivered: u32,
    prior_us: u32,
    send_elapsed_us: u32,
    newest_xmit_us: u32,
    rtt_us: Option<u32>,
    app_limited: bool,
}

/// One rate sample (draft §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Bytes delivered over the interval.
    pub delivered: u32,
    /// The interval, microseconds; 0 when it was shorter than min RTT (an ACK for a burst
    /// sent at once), which gives no rate but still counts for rounds.
    pub interval_us: u32,
    /// C.delivered at the send of the segment the sample is taken from (round counting).
    pub prior_delivered: u32,
    /// RTT of that segment, when it was not retransmitted (Karn).
    pub rtt_us: Option<u32>,
    pub app_limited: bool,
}

impl Sample {
    /// Delivery rate in bytes per second, when the interval allows one.
    pub fn bytes_per_sec(&self) -> Option<u64> {
        (self.interval_us > 0)
            .then(|| u64::from(self.delivered) * 1_000_000 / u64::from(self.interval_us))
    }
}

/// Per-connection delivery counters (draft §3.1, the C.* variables).
#[derive(Clone, Copy, Debug, Default)]
pub struct Rate {
    delivered: u32,
    delivered_us: u32,
    first_sent_us: u32,
    /// C.app_limited: delivered count at which the app-limited phase ends (None: not limited).
    app_limited_until: Option<u32>,
}

#[inline]
fn after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl Rate {
    /// Total bytes delivered (wrapping).
    pub fn delivered(&self) -> u32 {
        self.delivered
    }
    /// When the newest delivery was seen (microseconds, wrapping).
    pub fn delivered_us(&self) -> u32 {
        self.delivered_us
    }

    /// A transmission at `now_us`; `idle` when nothing was in flight before it, which restarts
    /// both intervals so an idle gap is not counted as delivery time (draft §3.2).
    pub fn on_send(&mut self, now_us: u32, idle: bool) -> TxStamp {
        if idle {
            self.first_sent_us = now_us;
            self.delivered_us = now_us;
        }
        TxStamp {
            delivered: self.delivered,
            delivered_us: self.delivered_us,
            first_sent_us: self.first_sent_us,
            app_limited: self.app_limited_until.is_some(),
        }
    }

    /// The sender had nothing more to send with `in_flight` bytes out and room in cwnd: samples
    /// until this flight is delivered measure the application, not the path (draft §3.4).
    pub fn mark_app_limited(&mut self, in_flight: u32) {
        self.app_limited_until = Some(self.delivered.wrapping_add(in_flight).max(1));
    }

    /// A segment of `bytes` sent at `xmit_us` with `stamp`, delivered (SACKed or cumulatively
    /// ACKed) for the first time at `now_us`.
    pub fn on_delivered(
        &mut self,
        g: &mut Gather,
        stamp: &TxStamp,
        bytes: u32,
        xmit_us: u32,
        rtx: bool,
        now_us: u32,
    ) {
        self.delivered = self.delivered.wrapping_add(bytes);
        self.delivered_us = now_us;
        let newer = !g.have
            || after(stamp.delivered, g.prior_delivered)
            || (stamp.delivered == g.prior_delivered && after(xmit_us, g.newest_xmit_us));
        if newer {
            g.have = true;
            g.prior_delivered = stamp.delivered;
            g.prior_us = stamp.delivered_us;
            g.app_limited = stamp.app_limited;
            g.send_elapsed_us = xmit_us.wrapping_sub(stamp.first_sent_us);
            g.newest_xmit_us = xmit_us;
            g.rtt_us = (!rtx).then(|| now_us.wrapping_sub(xmit_us));
            self.first_sent_us = xmit_us;
        }
    }

    /// Ends one ACK's gathering (draft §3.3): the sample, or None when nothing was delivered.
    /// An interval shorter than `min_rtt_us` is reported as 0 (no rate).
    pub fn finish(&mut self, g: &Gather, min_rtt_us: u32) -> Option<Sample> {
        if let Some(until) = self.app_limited_until {
            if after(self.delivered, until) {
                self.app_limited_until = None;
            }
        }
        if !g.have {
            return None;
        }
        let ack_elapsed = self.delivered_us.wrapping_sub(g.prior_us);
        let mut interval_us = g.send_elapsed_us.max(ack_elapsed);
        if interval_us < min_rtt_us.min(u32::MAX - 1) {
            interval_us = 0;
        }
        Some(Sample {
            delivered: self.delivered.wrapping_sub(g.prior_delivered),
            interval_us,
            prior_delivered: g.prior_delivered,
            rtt_us: g.rtt_us,
            app_limited: g.app_limited,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten 1000-byte segments sent back to back at t=0, each ACKed 100 µs apart from t=1000:
    /// the rate is what the ACKs deliver (1000 B / 100 µs = 10 MB/s), not the send burst.
    #[test]
    fn ack_spacing_sets_the_rate_of_a_burst() {
        let mut r = Rate::default();
        let stamps: Vec<TxStamp> = (0..10).map(|i| r.on_send(0, i == 0)).collect();
        let mut last = None;
        for (i, st) in stamps.iter().enumerate() {
            let mut g = Gather::default();
            let now = 1000 + 100 * i as u32;
            r.on_delivered(&mut g, st, 1000, 0, false, now);
            last = r.finish(&g, 500);
            if i == 0 {
                // One segment over 1000 µs: the first sample is 1 MB/s.
                assert_eq!(last.unwrap().bytes_per_sec(), Some(1_000_000));
            }
        }
        let s = last.unwrap();
        // The last segment's stamp saw 0 delivered at t=0; by t=1900 10000 B had arrived.
        assert_eq!(s.delivered, 10_000);
        assert_eq!(s.interval_us, 1900);
        assert_eq!(s.rtt_us, Some(1900));
    }

    #[test]
    fn an_interval_below_min_rtt_gives_no_rate() {
        let mut r = Rate::default();
        let st = r.on_send(0, true);
        let mut g = Gather::default();
        r.on_delivered(&mut g, &st, 1000, 0, false, 100);
        let s = r.finish(&g, 200).unwrap();
        assert_eq!((s.interval_us, s.bytes_per_sec()), (0, None));
        assert_eq!(r.finish(&Gather::default(), 0), None, "nothing delivered");
        assert_eq!(r.delivered(), 1000);
    }

    #[test]
    fn app_limited_marks_samples_until_that_flight_is_delivered() {
        let mut r = Rate::default();
        r.mark_app_limited(2000);
        let a = r.on_send(0, true);
        let b = r.on_send(0, false);
        assert!(a.app_limited && b.app_limited);
        let mut g = Gather::default();
        r.on_delivered(&mut g, &a, 1000, 0, false, 1000);
        assert!(r.finish(&g, 0).unwrap().app_limited);
        let mut g = Gather::default();
        r.on_delivered(&mut g, &b, 1500, 0, false, 1100);
        assert!(r.finish(&g, 0).unwrap().app_limited);
        // 2500 delivered > 2000: the limited phase is over for what is sent now.
        assert!(!r.on_send(1200, false).app_limited);
    }

    #[test]
    fn a_retransmission_gives_a_rate_but_no_rtt() {
        let mut r = Rate::default();
        let st = r.on_send(0, true);
        let mut g = Gather::default();
        r.on_delivered(&mut g, &st, 1000, 500, true, 2000);
        let s = r.finish(&g, 100).unwrap();
        assert_eq!(s.rtt_us, None);
        assert_eq!(s.interval_us, 2000);
    }
}
