//! Rate pacing with a linear ramp-up, driven by the worker loop's timestamp.
//!
//! The schedule is the integral of the rate: with target `r` and ramp `R`, by time `t` into the
//! phase `r·t²/(2R)` actions are due during the ramp and `r·R/2 + r·(t−R)` after it. Working from
//! the integral (not from the time since the last action) keeps the long-run rate exact however
//! irregularly the loop runs. When the generator falls behind (the target cannot keep up), at
//! most `max_burst` actions are released at once and the rest of the backlog is dropped and
//! counted, so a stall is not followed by a storm that would distort latency.

use core::time::Duration;
use stack::Instant;

#[derive(Clone, Debug)]
pub struct Pacer {
    /// Per second; `None` is unlimited.
    rate: Option<f64>,
    ramp: f64,
    start: Instant,
    /// Actions released so far, including skipped ones.
    issued: u64,
    max_burst: u64,
    /// Actions dropped because the generator fell more than `max_burst` behind.
    pub lagged: u64,
}

impl Pacer {
    /// `share` is this worker's part of the rate (1/workers).
    pub fn new(rate: Option<f64>, ramp: Duration, start: Instant, share: f64) -> Self {
        let rate = rate.map(|r| r * share);
        // A burst of 10 ms worth of actions (at least 16) absorbs loop jitter without storming.
        let max_burst = rate.map_or(u64::MAX, |r| ((r * 0.01) as u64).max(16));
        Pacer {
            rate,
            ramp: ramp.as_secs_f64(),
            start,
            issued: 0,
            max_burst,
            lagged: 0,
        }
    }

    pub fn is_unlimited(&self) -> bool {
        self.rate.is_none()
    }

    /// Actions due by `t` microseconds into the phase. Kept in whole microseconds so that
    /// round numbers come out exact (no 999.9999 for 1000).
    fn scheduled(&self, t: f64) -> f64 {
        let Some(r) = self.rate else {
            return f64::INFINITY;
        };
        let ramp = self.ramp * 1e6;
        if t <= 0.0 {
            0.0
        } else if t < ramp {
            r * t * t / (2.0 * ramp * 1e6)
        } else {
            r * (ramp / 2.0 + (t - ramp)) / 1e6
        }
    }

    /// How many actions may be released now (call `take` for those actually used).
    pub fn due(&mut self, now: Instant) -> u64 {
        if self.rate.is_none() {
            return u64::MAX;
        }
        let t = now.saturating_since(self.start).as_micros() as f64;
        let total = self.scheduled(t) as u64;
        let backlog = total.saturating_sub(self.issued);
        if backlog > self.max_burst {
            self.lagged += backlog - self.max_burst;
            self.issued = total - self.max_burst;
            return self.max_burst;
        }
        backlog
    }

    /// Records that `n` actions were released.
    pub fn take(&mut self, n: u64) {
        if self.rate.is_some() {
            self.issued += n;
        }
    }

    /// When the next action becomes due (None: unlimited, or never).
    pub fn next_at(&self) -> Option<Instant> {
        let r = self.rate?;
        let k = (self.issued + 1) as f64;
        let at_ramp_end = r * self.ramp / 2.0;
        let t = if k <= at_ramp_end && self.ramp > 0.0 {
            (2.0 * self.ramp * k / r).sqrt()
        } else {
            self.ramp + (k - at_ramp_end) / r
        };
        // Rounded up, so the action is really due at the returned instant.
        Some(self.start + Duration::from_micros((t * 1e6).ceil() as u64))
    }

    /// A concurrency limit that ramps with time when the rate is unlimited.
    pub fn ramped_limit(&self, limit: u32, now: Instant) -> u32 {
        if self.ramp <= 0.0 || self.rate.is_some() {
            return limit;
        }
        let t = now.saturating_since(self.start).as_secs_f64();
        if t >= self.ramp {
            limit
        } else {
            ((limit as f64 * t / self.ramp).ceil() as u32).clamp(1, limit)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(p: &mut Pacer, until_us: u64, step_us: u64) -> u64 {
        let mut total = 0;
        let mut t = 0;
        while t <= until_us {
            let n = p.due(Instant::from_micros(t));
            p.take(n);
            total += n;
            t += step_us;
        }
        total
    }

    #[test]
    fn constant_rate_releases_exactly_rate_times_time() {
        let mut p = Pacer::new(Some(1000.0), Duration::ZERO, Instant::ZERO, 1.0);
        // A loop every 37 us, irregular against the 1 ms period.
        assert_eq!(run(&mut p, 1_000_000, 37), 999);
        assert_eq!(p.lagged, 0);
    }

    #[test]
    fn share_splits_the_rate_between_workers() {
        let mut p = Pacer::new(Some(1000.0), Duration::ZERO, Instant::ZERO, 0.25);
        assert_eq!(run(&mut p, 2_000_000, 100), 500);
    }

    #[test]
    fn linear_ramp_releases_half_during_the_ramp() {
        // 1000/s ramped over 1 s: 500 by the end of the ramp, then 1000/s.
        let mut p = Pacer::new(Some(1000.0), Duration::from_secs(1), Instant::ZERO, 1.0);
        assert_eq!(run(&mut p, 1_000_000, 100), 500);
        let mut q = Pacer::new(Some(1000.0), Duration::from_secs(1), Instant::ZERO, 1.0);
        assert_eq!(run(&mut q, 2_000_000, 100), 1500);
        // A quarter of the way in: r t^2 / 2R = 1000 * 0.0625 / 2.
        let mut h = Pacer::new(Some(1000.0), Duration::from_secs(1), Instant::ZERO, 1.0);
        assert_eq!(run(&mut h, 250_000, 100), 31);
    }

    #[test]
    fn a_stall_releases_at_most_a_burst_and_counts_the_rest() {
        let mut p = Pacer::new(Some(10_000.0), Duration::ZERO, Instant::ZERO, 1.0);
        // 1 s without a loop: 10000 due, 100 (10 ms worth) released.
        assert_eq!(p.due(Instant::from_secs(1)), 100);
        p.take(100);
        assert_eq!(p.lagged, 9900);
        // Then the schedule continues from there, not from zero.
        assert_eq!(p.due(Instant::from_millis(1001)), 10);
    }

    #[test]
    fn unused_tokens_stay_due() {
        let mut p = Pacer::new(Some(100.0), Duration::ZERO, Instant::ZERO, 1.0);
        assert_eq!(p.due(Instant::from_millis(50)), 5);
        p.take(2);
        assert_eq!(p.due(Instant::from_millis(50)), 3);
    }

    #[test]
    fn next_at_is_when_the_next_action_becomes_due() {
        let mut p = Pacer::new(Some(1000.0), Duration::ZERO, Instant::from_secs(5), 1.0);
        assert_eq!(p.next_at(), Some(Instant::from_micros(5_001_000)));
        assert_eq!(p.due(Instant::from_micros(5_000_999)), 0);
        assert_eq!(p.due(Instant::from_micros(5_001_000)), 1);
        p.take(1);
        assert_eq!(p.next_at(), Some(Instant::from_micros(5_002_000)));
        // During a ramp: the first action at sqrt(2 R / r).
        let r = Pacer::new(Some(200.0), Duration::from_secs(1), Instant::ZERO, 1.0);
        assert_eq!(r.next_at(), Some(Instant::from_micros(100_000)));
    }

    #[test]
    fn unlimited_is_always_due_and_ramps_concurrency() {
        let mut p = Pacer::new(None, Duration::from_secs(2), Instant::ZERO, 1.0);
        assert_eq!(p.due(Instant::ZERO), u64::MAX);
        assert_eq!(p.next_at(), None);
        assert_eq!(p.ramped_limit(100, Instant::ZERO), 1);
        assert_eq!(p.ramped_limit(100, Instant::from_secs(1)), 50);
        assert_eq!(p.ramped_limit(100, Instant::from_secs(3)), 100);
        let q = Pacer::new(Some(5.0), Duration::from_secs(2), Instant::ZERO, 1.0);
        assert_eq!(q.ramped_limit(100, Instant::ZERO), 100);
    }
}
