//! Retransmission timer computation (RFC 6298): SRTT/RTTVAR, min/max RTO, exponential backoff.
//! Karn's rule is the caller's: only sample RTT from segments that were not retransmitted
//! (or from timestamps, RFC 7323 §4).
//!
//! SRTT and RTTVAR are kept in 1/8 µs fixed point: the RFC's gains (1/8 and 1/4) then divide
//! exactly for any whole-microsecond sample, so the exponentially weighted averages do not lose
//! precision to truncation the way plain microsecond integers would on small RTTs.

use core::time::Duration;

/// Clock granularity G of RFC 6298 §2: the engine's timers tick in milliseconds at best.
const GRANULARITY_US: u64 = 1_000;
/// Fixed-point shift for SRTT/RTTVAR (units of 1/8 µs).
const FRAC_SHIFT: u32 = 3;
/// Samples beyond this are clamped so the fixed-point arithmetic cannot overflow (about 12 days;
/// any real RTO is capped far below by `max`).
const MAX_SAMPLE_US: u64 = 1 << 40;

pub struct RttEstimator {
    /// SRTT in 1/8 µs; `None` until the first sample.
    srtt: Option<u64>,
    /// RTTVAR in 1/8 µs.
    rttvar: u64,
    initial_us: u64,
    min_us: u64,
    max_us: u64,
    backoff: u32,
    /// Smallest precise sample seen, µs (u32::MAX before any): RACK's min_RTT (RFC 8985 §6.2).
    min_rtt_us: u32,
}

fn dur_to_us(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl RttEstimator {
    /// Before any sample the RTO is `initial` (RFC 6298: 1 s).
    pub fn new(initial: Duration, min: Duration, max: Duration) -> Self {
        let min_us = dur_to_us(min);
        // A max below min would make clamping ill-defined; min wins.
        let max_us = dur_to_us(max).max(min_us);
        RttEstimator {
            srtt: None,
            rttvar: 0,
            initial_us: dur_to_us(initial),
            min_us,
            max_us,
            backoff: 0,
            min_rtt_us: u32::MAX,
        }
    }

    /// A sample timed to the microsecond (the handshake, a timed segment): it feeds SRTT and
    /// min_RTT. RACK's per-segment delivery times feed min_RTT alone, via `note_min_rtt_us`.
    pub fn sample(&mut self, rtt: Duration) {
        let us = dur_to_us(rtt).min(MAX_SAMPLE_US);
        self.note_min_rtt_us(us.min(u32::MAX as u64) as u32);
        self.smooth(us);
    }

    /// A sample from the timestamp echo, whole milliseconds: it feeds SRTT only. Below 1 ms it
    /// reads 0, and a min_RTT of 0 would disarm RACK's test for an ACK of an earlier
    /// transmission (RFC 8985 §6.2 step 2), so every late ACK of an original would count as
    /// the delivery of its retransmission and mark the whole flight sent before it lost.
    pub fn sample_coarse(&mut self, rtt: Duration) {
        self.smooth(dur_to_us(rtt).min(MAX_SAMPLE_US));
    }

    /// A delivery RTT measured to the microsecond, for min_RTT alone. Never below 1 µs: a
    /// segment sent and acknowledged within one poll of the cached clock reads 0.
    pub fn note_min_rtt_us(&mut self, us: u32) {
        self.min_rtt_us = self.min_rtt_us.min(us.max(1));
    }

    fn smooth(&mut self, us: u64) {
        let r = us << FRAC_SHIFT;
        match self.srtt {
            None => {
                // RFC 6298 §2.2.
                self.srtt = Some(r);
                self.rttvar = r / 2;
            }
            Some(srtt) => {
                // RFC 6298 §2.3, RTTVAR first because it uses the old SRTT.
                let err = srtt.abs_diff(r);
                self.rttvar = self.rttvar - self.rttvar / 4 + err / 4;
                self.srtt = Some(srtt - srtt / 8 + r / 8);
            }
        }
    }

    /// RTO before backoff, clamped to [min, max], in µs.
    fn base_rto_us(&self) -> u64 {
        let raw = match self.srtt {
            None => self.initial_us,
            Some(srtt) => {
                let var_term = (GRANULARITY_US << FRAC_SHIFT).max(4 * self.rttvar);
                // Round up so the timer never fires before the computed RTO.
                (srtt + var_term).div_ceil(1 << FRAC_SHIFT)
            }
        };
        raw.clamp(self.min_us, self.max_us)
    }

    /// Current RTO including backoff, clamped to [min, max].
    pub fn rto(&self) -> Duration {
        let base = self.base_rto_us();
        let rto = match 1u64.checked_shl(self.backoff) {
            Some(factor) => base.saturating_mul(factor),
            None => u64::MAX,
        };
        Duration::from_micros(rto.min(self.max_us))
    }

    /// The smallest RTT sample so far, µs (u32::MAX before any).
    pub fn min_rtt_us(&self) -> u32 {
        self.min_rtt_us
    }

    /// Raises the RTO used until the first sample to at least `rto` (RFC 6298 §5.7 after a
    /// lost SYN or SYN-ACK); no effect once a sample was taken.
    pub fn raise_initial(&mut self, rto: Duration) {
        self.initial_us = self.initial_us.max(dur_to_us(rto));
    }

    pub fn srtt(&self) -> Option<Duration> {
        // 1/8 µs = 125 ns, so the conversion is exact.
        self.srtt.map(|s| Duration::from_nanos(s * 125))
    }

    pub fn rttvar(&self) -> Duration {
        Duration::from_nanos(self.rttvar * 125)
    }

    /// Doubles the RTO (RFC 6298 §5.5).
    pub fn backoff(&mut self) {
        // Past 63 doublings the RTO is pinned at max anyway; saturate instead of wrapping.
        self.backoff = self.backoff.saturating_add(1).min(64);
    }

    pub fn reset_backoff(&mut self) {
        self.backoff = 0;
    }

    pub fn backoff_count(&self) -> u32 {
        self.backoff
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }
    fn us(v: u64) -> Duration {
        Duration::from_micros(v)
    }
    fn est() -> RttEstimator {
        RttEstimator::new(ms(1000), ms(200), ms(120_000))
    }

    #[test]
    fn rfc6298_2_1_initial_rto_before_any_sample() {
        let e = est();
        assert_eq!(e.rto(), ms(1000));
        assert_eq!(e.srtt(), None);
        assert_eq!(e.rttvar(), Duration::ZERO);
    }

    #[test]
    fn rfc6298_2_2_first_sample_sets_srtt_r_rttvar_half() {
        let mut e = est();
        e.sample(ms(100));
        assert_eq!(e.srtt(), Some(ms(100)));
        assert_eq!(e.rttvar(), ms(50));
        // 100 + max(1 ms, 4 * 50) = 300 ms
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn rfc6298_2_3_subsequent_sample_exact_ewma() {
        let mut e = est();
        e.sample(ms(100));
        e.sample(ms(200));
        // RTTVAR = 3/4*50 + 1/4*|100-200| = 62.5 ms; SRTT = 7/8*100 + 1/8*200 = 112.5 ms.
        assert_eq!(e.rttvar(), us(62_500));
        assert_eq!(e.srtt(), Some(us(112_500)));
        // RTO = 112.5 + 4*62.5 = 362.5 ms
        assert_eq!(e.rto(), us(362_500));
        e.sample(ms(100));
        // RTTVAR = 3/4*62.5 + 1/4*12.5 = 50 ms; SRTT = 7/8*112.5 + 1/8*100 = 110.9375 ms.
        assert_eq!(e.rttvar(), ms(50));
        assert_eq!(e.srtt(), Some(us(110_937) + Duration::from_nanos(500)));
        // 110.9375 + 200 = 310.9375 ms, rounded up to the µs.
        assert_eq!(e.rto(), us(310_938));
    }

    /// RFC 8985 §6.2's min_RTT comes from microsecond samples only: a timestamp echo of 0 ms
    /// smooths SRTT like any sample but leaves min_RTT alone, and a precise 0 reads 1 us.
    #[test]
    fn coarse_samples_feed_srtt_but_not_min_rtt() {
        let mut e = est();
        e.sample_coarse(ms(0));
        assert_eq!(e.srtt(), Some(ms(0)));
        assert_eq!(e.min_rtt_us(), u32::MAX);
        e.sample(us(500));
        assert_eq!(e.min_rtt_us(), 500);
        e.sample_coarse(ms(0));
        assert_eq!(e.min_rtt_us(), 500);
        e.note_min_rtt_us(120);
        assert_eq!(e.min_rtt_us(), 120);
        e.note_min_rtt_us(0);
        assert_eq!(e.min_rtt_us(), 1);
    }

    #[test]
    fn rfc6298_2_3_sub_microsecond_precision_is_kept() {
        let mut e = RttEstimator::new(ms(1000), Duration::ZERO, ms(60_000));
        e.sample(us(1));
        e.sample(us(2));
        // RTTVAR = 3/4*0.5 + 1/4*1 = 0.625 µs; SRTT = 7/8 + 2/8 = 1.125 µs.
        assert_eq!(e.rttvar(), Duration::from_nanos(625));
        assert_eq!(e.srtt(), Some(Duration::from_nanos(1125)));
    }

    #[test]
    fn rfc6298_2_4_granularity_floor_when_rttvar_is_tiny() {
        let mut e = RttEstimator::new(ms(1000), Duration::ZERO, ms(60_000));
        for _ in 0..200 {
            e.sample(ms(10));
        }
        // RTTVAR decays towards 0 (4*RTTVAR < G), so RTO = SRTT + G = 10 ms + 1 ms.
        assert_eq!(e.srtt(), Some(ms(10)));
        assert_eq!(e.rto(), ms(11));
    }

    #[test]
    fn rfc6298_2_4_and_2_5_clamped_to_min_and_max() {
        let mut e = est();
        e.sample(ms(1));
        // 1 + max(1, 2) = 3 ms < 200 ms minimum.
        assert_eq!(e.rto(), ms(200));
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(1000));
        e.sample(ms(5000));
        assert_eq!(e.rto(), ms(1000));
    }

    #[test]
    fn rfc6298_5_5_backoff_doubles_capped_and_resets() {
        let mut e = RttEstimator::new(ms(1000), ms(200), ms(60_000));
        e.sample(ms(100)); // 300 ms
        e.backoff();
        assert_eq!(e.backoff_count(), 1);
        assert_eq!(e.rto(), ms(600));
        e.backoff();
        assert_eq!(e.rto(), ms(1200));
        for _ in 0..100 {
            e.backoff();
        }
        assert_eq!(e.rto(), ms(60_000));
        e.reset_backoff();
        assert_eq!(e.backoff_count(), 0);
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn backoff_applies_to_initial_rto_too() {
        let mut e = est();
        e.backoff();
        assert_eq!(e.rto(), ms(2000));
    }

    #[test]
    fn rfc6298_5_7_raised_initial_rto_until_a_sample() {
        let mut e = est();
        e.raise_initial(ms(3000));
        assert_eq!(e.rto(), ms(3000));
        // Never lowers it.
        e.raise_initial(ms(500));
        assert_eq!(e.rto(), ms(3000));
        e.sample(ms(100));
        assert_eq!(e.rto(), ms(300));
    }

    #[test]
    fn absurd_samples_do_not_overflow() {
        let mut e = est();
        e.sample(Duration::MAX);
        e.sample(Duration::ZERO);
        e.sample(Duration::MAX);
        assert_eq!(e.rto(), ms(120_000));
    }
}
