//! Hierarchical hashed timing wheel (Varghese & Lauck): O(1) schedule and cancel, bounded work
//! per tick, millions of entries. Owned by one worker, so it needs no locks.

use crate::time::Instant;
use core::time::Duration;

/// Handle to a scheduled timer. Stale handles (already fired or cancelled) are harmless.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub struct TimerId {
    index: u32,
    generation: u32,
}

impl TimerId {
    /// A handle that refers to no timer.
    pub const NONE: TimerId = TimerId {
        index: u32::MAX,
        generation: 0,
    };
    pub fn is_none(&self) -> bool {
        self.index == u32::MAX
    }
}

pub struct TimerWheel<T: Copy> {
    _entries: Vec<T>,
}

impl<T: Copy> TimerWheel<T> {
    /// `tick` is the resolution; deadlines round up to the next tick. `now` is the origin.
    pub fn new(now: Instant, tick: Duration) -> Self {
        let _ = (now, tick);
        todo!("timer helper")
    }
    /// Schedules `payload` to fire at `at` (or at the next tick if `at` is in the past).
    pub fn schedule(&mut self, at: Instant, payload: T) -> TimerId {
        let _ = (at, payload);
        todo!("timer helper")
    }
    /// Cancels; returns the payload if the timer was still pending.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        let _ = id;
        todo!("timer helper")
    }
    /// Whether `id` is still pending.
    pub fn is_pending(&self, id: TimerId) -> bool {
        let _ = id;
        todo!("timer helper")
    }
    /// Returns one expired timer's payload (deadline <= now), advancing the wheel as needed.
    /// Bounded work per call; call until `None`.
    pub fn poll_expired(&mut self, now: Instant) -> Option<T> {
        let _ = now;
        todo!("timer helper")
    }
    /// Earliest time at which `poll_expired` might return something (may be early, never late).
    pub fn next_deadline(&self) -> Option<Instant> {
        todo!("timer helper")
    }
    pub fn len(&self) -> usize {
        todo!("timer helper")
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
