//! Engine time. The engine never reads a clock: the caller passes `Instant`s in (one per poll
//! loop), which keeps every test exact and replayable.

use core::ops::{Add, AddAssign, Sub};
use core::time::Duration;

/// Monotonic time in microseconds since an arbitrary origin chosen by the caller.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    #[inline]
    pub const fn from_micros(us: u64) -> Self {
        Instant(us)
    }
    #[inline]
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms * 1000)
    }
    #[inline]
    pub const fn from_secs(s: u64) -> Self {
        Instant(s * 1_000_000)
    }
    #[inline]
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    #[inline]
    pub const fn as_millis(self) -> u64 {
        self.0 / 1000
    }
    /// `self - earlier`, saturating at zero.
    #[inline]
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    #[inline]
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d.as_micros() as u64))
    }
}

impl AddAssign<Duration> for Instant {
    #[inline]
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    #[inline]
    fn sub(self, rhs: Instant) -> Duration {
        self.saturating_since(rhs)
    }
}
