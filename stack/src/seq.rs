//! TCP sequence numbers: 32-bit values compared modulo 2^32 (RFC 9293 §3.4).
//!
//! There is deliberately no `Ord`: "greater" only means something within half the sequence
//! space, so every comparison goes through the wrapping helpers below.

use core::fmt;
use core::ops::{Add, AddAssign, Sub};

#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    #[inline]
    pub const fn new(v: u32) -> Self {
        SeqNum(v)
    }
    /// Signed distance `self - other` in the sequence space.
    #[inline]
    pub fn diff(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
    #[inline]
    pub fn lt(self, other: SeqNum) -> bool {
        self.diff(other) < 0
    }
    #[inline]
    pub fn le(self, other: SeqNum) -> bool {
        self.diff(other) <= 0
    }
    #[inline]
    pub fn gt(self, other: SeqNum) -> bool {
        self.diff(other) > 0
    }
    #[inline]
    pub fn ge(self, other: SeqNum) -> bool {
        self.diff(other) >= 0
    }
    /// `lo <= self < hi` in sequence space.
    #[inline]
    pub fn in_range(self, lo: SeqNum, hi: SeqNum) -> bool {
        self.ge(lo) && self.lt(hi)
    }
    #[inline]
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.ge(other) {
            self
        } else {
            other
        }
    }
    #[inline]
    pub fn min(self, other: SeqNum) -> SeqNum {
        if self.le(other) {
            self
        } else {
            other
        }
    }
}

impl Add<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn add(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs))
    }
}

impl Add<usize> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn add(self, rhs: usize) -> SeqNum {
        SeqNum(self.0.wrapping_add(rhs as u32))
    }
}

impl AddAssign<u32> for SeqNum {
    #[inline]
    fn add_assign(&mut self, rhs: u32) {
        self.0 = self.0.wrapping_add(rhs);
    }
}

impl AddAssign<usize> for SeqNum {
    #[inline]
    fn add_assign(&mut self, rhs: usize) {
        self.0 = self.0.wrapping_add(rhs as u32);
    }
}

/// `a - b` as an unsigned count of octets; callers guarantee `a` is at or after `b`.
impl Sub for SeqNum {
    type Output = u32;
    #[inline]
    fn sub(self, rhs: SeqNum) -> u32 {
        self.0.wrapping_sub(rhs.0)
    }
}

impl Sub<u32> for SeqNum {
    type Output = SeqNum;
    #[inline]
    fn sub(self, rhs: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(rhs))
    }
}

impl fmt::Debug for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for SeqNum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap_around_zero() {
        let a = SeqNum(u32::MAX - 5);
        let b = a + 10u32;
        assert_eq!(b.0, 4);
        assert!(a.lt(b));
        assert!(b.gt(a));
        assert_eq!(b - a, 10);
        assert_eq!(b.diff(a), 10);
        assert_eq!(a.diff(b), -10);
        assert!(SeqNum(2).in_range(a, b));
        assert!(!SeqNum(5).in_range(a, b));
        assert!(!b.in_range(a, b));
        assert_eq!(a.max(b), b);
        assert_eq!(a.min(b), a);
    }
}
