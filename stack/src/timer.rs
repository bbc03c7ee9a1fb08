//! Hierarchical hashed timing wheel (Varghese & Lauck): O(1) schedule and cancel, bounded work
//! per tick, millions of entries. Owned by one worker, so it needs no locks.
//!
//! Layout: time is counted in ticks since the origin. `LEVELS` levels of `SLOTS` buckets each; a
//! tick number is read as `LEVELS` groups of `SLOT_BITS` bits, level `k` being group `k`. A timer
//! due at tick `d` lives at the level of the highest group in which `d` differs from the wheel's
//! current tick `c`, in the slot named by `d`'s group at that level (the Linux/Tokio placement).
//! Timers whose deadline differs from `c` above the top group go to one overflow list.
//!
//! Invariant: a timer at level `k`, slot `s` agrees with `c` on every group above `k` and has
//! `s > group_k(c)`; the only exception is level 0 slot `group_0(c)`, the *due list*, whose
//! timers have deadline `<= c`. Because of this, when `c` advances into a new slot of level `k`
//! every level below `k` is empty, so each advanced tick touches exactly one bucket: level 0's
//! slot simply becomes the due list (no work), a higher level's slot is cascaded (each entry is
//! re-placed relative to the new `c`, landing strictly lower), or at a top-level wrap the overflow
//! list is re-examined. Empty stretches are skipped with per-level occupancy bitmaps, never walked
//! tick by tick.
//!
//! Bound per `poll_expired` call: it returns as soon as the due list has an entry, and a cascade at
//! level `k` leaves its earliest timer at a level below `k`, so a call performs at most
//! `LEVELS + 1` bucket cascades (overflow, then one per level) before it either returns a timer or
//! finds that the next event lies after `now`. A cascade costs O(1) per timer it moves, and a
//! timer is moved at most `LEVELS` times in its life, so the amortised cost per timer is O(1).
//!
//! Entries live in a slab (`Vec`) with a free list, linked per bucket by `u32` indices in an
//! intrusive doubly-linked list; ids carry a generation so stale ids are harmless. Once the slab
//! has grown to the peak number of pending timers, nothing allocates.

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

const SLOT_BITS: u32 = 8;
const SLOTS: usize = 1 << SLOT_BITS;
const SLOT_MASK: u64 = (SLOTS as u64) - 1;
/// 4 levels of 256 slots: 2^32 ticks, about 49.7 days at a 1 ms tick, before the overflow list.
const LEVELS: usize = 4;
const WHEEL_BITS: u32 = SLOT_BITS * LEVELS as u32;
const BITMAP_WORDS: usize = SLOTS / 64;
/// Bucket number of the overflow list; wheel buckets are `level * SLOTS + slot`.
const OVERFLOW: u32 = (LEVELS * SLOTS) as u32;
const NUM_LISTS: usize = LEVELS * SLOTS + 1;
const NIL: u32 = u32::MAX;
/// `Entry::bucket` of a slab entry that is on the free list.
const FREE: u32 = u32::MAX;

/// 24 bytes plus the payload.
struct Entry<T> {
    /// Deadline in ticks since the origin.
    deadline: u64,
    /// Next in the bucket list, or next on the free list when free.
    next: u32,
    prev: u32,
    generation: u32,
    /// Which list the entry is on, so cancel can fix up the list head and occupancy bit.
    bucket: u32,
    /// A free entry keeps its stale payload: `T: Copy`, so there is nothing to drop.
    payload: T,
}

pub struct TimerWheel<T: Copy> {
    entries: Vec<Entry<T>>,
    heads: Box<[u32; NUM_LISTS]>,
    /// Bit set iff the wheel bucket is non-empty.
    occupied: [[u64; BITMAP_WORDS]; LEVELS],
    free_head: u32,
    len: usize,
    origin: Instant,
    tick_us: u64,
    /// Current tick: every tick up to and including it has been processed.
    current: u64,
    /// A lower bound on the overflow list's earliest deadline (exact after each re-examination;
    /// may be stale-early after cancels, which only costs an extra re-examination).
    overflow_min: u64,
}

#[inline]
fn group(t: u64, level: usize) -> usize {
    ((t >> (SLOT_BITS * level as u32)) & SLOT_MASK) as usize
}

impl<T: Copy> TimerWheel<T> {
    /// `tick` is the resolution; deadlines round up to the next tick. `now` is the origin.
    /// A tick under 1 µs is treated as 1 µs (the resolution of `Instant`).
    pub fn new(now: Instant, tick: Duration) -> Self {
        let tick_us = u64::try_from(tick.as_micros()).unwrap_or(u64::MAX).max(1);
        TimerWheel {
            entries: Vec::new(),
            heads: Box::new([NIL; NUM_LISTS]),
            occupied: [[0; BITMAP_WORDS]; LEVELS],
            free_head: NIL,
            len: 0,
            origin: now,
            tick_us,
            current: 0,
            overflow_min: u64::MAX,
        }
    }

    /// Pre-allocates room for `additional` more pending timers beyond those already in the slab.
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
    }

    /// The wheel's resolution in microseconds.
    pub fn tick_micros(&self) -> u64 {
        self.tick_us
    }

    /// Deadline tick: rounded up, so a timer never fires before `at`.
    fn tick_ceil(&self, at: Instant) -> u64 {
        let us = at.as_micros().saturating_sub(self.origin.as_micros());
        us.div_ceil(self.tick_us)
    }

    /// The last tick that has fully started by `now`.
    fn tick_floor(&self, now: Instant) -> u64 {
        let us = now.as_micros().saturating_sub(self.origin.as_micros());
        us / self.tick_us
    }

    fn tick_instant(&self, tick: u64) -> Instant {
        Instant::from_micros(
            self.origin
                .as_micros()
                .saturating_add(tick.saturating_mul(self.tick_us)),
        )
    }

    /// Bucket for a deadline relative to the current tick (see the module invariant).
    #[inline]
    fn bucket_for(&self, deadline: u64) -> u32 {
        let c = self.current;
        if deadline <= c {
            return group(c, 0) as u32;
        }
        let diff = deadline ^ c;
        if diff >> WHEEL_BITS != 0 {
            return OVERFLOW;
        }
        let level = ((63 - diff.leading_zeros()) / SLOT_BITS) as usize;
        (level * SLOTS + group(deadline, level)) as u32
    }

    #[inline]
    fn link(&mut self, idx: u32, bucket: u32) {
        let head = self.heads[bucket as usize];
        {
            let e = &mut self.entries[idx as usize];
            e.bucket = bucket;
            e.prev = NIL;
            e.next = head;
        }
        if head != NIL {
            self.entries[head as usize].prev = idx;
        } else if bucket != OVERFLOW {
            let b = bucket as usize;
            self.occupied[b / SLOTS][(b % SLOTS) / 64] |= 1 << (b % 64);
        }
        self.heads[bucket as usize] = idx;
        if bucket == OVERFLOW {
            let d = self.entries[idx as usize].deadline;
            self.overflow_min = self.overflow_min.min(d);
        }
    }

    #[inline]
    fn unlink(&mut self, idx: u32) {
        let (prev, next, bucket) = {
            let e = &self.entries[idx as usize];
            (e.prev, e.next, e.bucket)
        };
        if prev != NIL {
            self.entries[prev as usize].next = next;
        } else {
            self.heads[bucket as usize] = next;
            if next == NIL && bucket != OVERFLOW {
                let b = bucket as usize;
                self.occupied[b / SLOTS][(b % SLOTS) / 64] &= !(1 << (b % 64));
            }
        }
        if next != NIL {
            self.entries[next as usize].prev = prev;
        }
    }

    /// Unlinks (the caller has already) and returns the entry to the free list.
    #[inline]
    fn release(&mut self, idx: u32) -> T {
        let free_head = self.free_head;
        let e = &mut self.entries[idx as usize];
        e.generation = e.generation.wrapping_add(1);
        e.bucket = FREE;
        e.next = free_head;
        self.free_head = idx;
        self.len -= 1;
        e.payload
    }

    /// Schedules `payload` to fire at `at` (or at the next tick if `at` is in the past).
    ///
    /// Returns [`TimerId::NONE`] (dropping the payload) only if 2^32 - 1 timers are already
    /// pending, which the engine's connection limit rules out.
    pub fn schedule(&mut self, at: Instant, payload: T) -> TimerId {
        let deadline = self.tick_ceil(at);
        let idx = if self.free_head != NIL {
            let idx = self.free_head;
            let e = &mut self.entries[idx as usize];
            self.free_head = e.next;
            e.deadline = deadline;
            e.payload = payload;
            idx
        } else {
            let idx = match u32::try_from(self.entries.len()) {
                Ok(i) if i != NIL => i,
                _ => return TimerId::NONE,
            };
            self.entries.push(Entry {
                deadline,
                next: NIL,
                prev: NIL,
                generation: 0,
                bucket: FREE,
                payload,
            });
            idx
        };
        let bucket = self.bucket_for(deadline);
        self.link(idx, bucket);
        self.len += 1;
        TimerId {
            index: idx,
            generation: self.entries[idx as usize].generation,
        }
    }

    #[inline]
    fn live(&self, id: TimerId) -> bool {
        match self.entries.get(id.index as usize) {
            Some(e) => e.generation == id.generation && e.bucket != FREE,
            None => false,
        }
    }

    /// Cancels; returns the payload if the timer was still pending.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        if !self.live(id) {
            return None;
        }
        self.unlink(id.index);
        Some(self.release(id.index))
    }

    /// Whether `id` is still pending.
    pub fn is_pending(&self, id: TimerId) -> bool {
        self.live(id)
    }

    /// Lowest set slot strictly after `after` at `level`.
    fn next_occupied(&self, level: usize, after: usize) -> Option<usize> {
        let start = after + 1;
        if start >= SLOTS {
            return None;
        }
        let map = &self.occupied[level];
        let mut w = start / 64;
        let mut bits = map[w] & (u64::MAX << (start % 64));
        loop {
            if bits != 0 {
                return Some(w * 64 + bits.trailing_zeros() as usize);
            }
            w += 1;
            if w == BITMAP_WORDS {
                return None;
            }
            bits = map[w];
        }
    }

    /// The next tick at which a bucket must be processed, and which bucket. Not counting the
    /// due list. A lower level's event always precedes a higher level's (it shares the higher
    /// group with `c`, which the higher event exceeds), so the first level with one wins.
    fn next_event(&self) -> Option<(u64, u32)> {
        let c = self.current;
        for level in 0..LEVELS {
            if let Some(slot) = self.next_occupied(level, group(c, level)) {
                let shift = SLOT_BITS * level as u32;
                let above = shift + SLOT_BITS;
                let high = if above >= 64 {
                    0
                } else {
                    (c >> above) << above
                };
                let tick = high | ((slot as u64) << shift);
                return Some((tick, (level * SLOTS + slot) as u32));
            }
        }
        if self.heads[OVERFLOW as usize] != NIL {
            // No next wrap only at the very end of u64 time, where nothing can be in overflow.
            let next_wrap = (c >> WHEEL_BITS)
                .checked_add(1)?
                .checked_mul(1 << WHEEL_BITS)?;
            let min_wrap = (self.overflow_min >> WHEEL_BITS) << WHEEL_BITS;
            return Some((next_wrap.max(min_wrap), OVERFLOW));
        }
        None
    }

    /// Moves `current` to `tick` (an event tick) and redistributes that event's bucket.
    fn advance_to(&mut self, tick: u64, bucket: u32) {
        self.current = tick;
        // Level 0's slot becomes the due list as it is; nothing moves.
        if (bucket as usize) < SLOTS {
            return;
        }
        let mut idx = self.heads[bucket as usize];
        self.heads[bucket as usize] = NIL;
        if bucket == OVERFLOW {
            self.overflow_min = u64::MAX;
        } else {
            let b = bucket as usize;
            self.occupied[b / SLOTS][(b % SLOTS) / 64] &= !(1 << (b % 64));
        }
        while idx != NIL {
            let (next, deadline) = {
                let e = &self.entries[idx as usize];
                (e.next, e.deadline)
            };
            let to = self.bucket_for(deadline);
            self.link(idx, to);
            idx = next;
        }
    }

    /// Returns one expired timer's payload (deadline <= now), advancing the wheel as needed.
    /// Bounded work per call; call until `None`.
    pub fn poll_expired(&mut self, now: Instant) -> Option<T> {
        let now_tick = self.tick_floor(now);
        loop {
            let due = self.heads[group(self.current, 0)];
            if due != NIL {
                self.unlink(due);
                return Some(self.release(due));
            }
            match self.next_event() {
                Some((tick, bucket)) if tick <= now_tick => self.advance_to(tick, bucket),
                _ => {
                    // Nothing happens before `now_tick`, so jumping there keeps the invariant
                    // and lets later `schedule` calls place timers relative to the present.
                    self.current = self.current.max(now_tick);
                    return None;
                }
            }
        }
    }

    /// Earliest time at which `poll_expired` might return something (may be early, never late).
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.heads[group(self.current, 0)] != NIL {
            return Some(self.tick_instant(self.current));
        }
        self.next_event().map(|(tick, _)| self.tick_instant(tick))
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    const MS: Duration = Duration::from_millis(1);

    fn ms(n: u64) -> Instant {
        Instant::from_millis(n)
    }

    fn drain(w: &mut TimerWheel<u32>, now: Instant) -> Vec<u32> {
        let mut v = Vec::new();
        while let Some(p) = w.poll_expired(now) {
            v.push(p);
        }
        v.sort_unstable();
        v
    }

    #[test]
    fn entry_overhead_is_24_bytes_plus_payload() {
        assert_eq!(core::mem::size_of::<Entry<()>>(), 24);
        assert_eq!(core::mem::size_of::<Entry<u64>>(), 32);
    }

    #[test]
    fn fires_exactly_at_tick_boundary_not_before() {
        let mut w = TimerWheel::new(ms(0), MS);
        w.schedule(ms(5), 1);
        assert_eq!(
            drain(&mut w, Instant::from_micros(4_999)),
            Vec::<u32>::new()
        );
        assert_eq!(drain(&mut w, ms(5)), vec![1]);
        assert!(w.is_empty());
    }

    #[test]
    fn deadline_between_ticks_rounds_up() {
        let mut w = TimerWheel::new(ms(0), MS);
        w.schedule(Instant::from_micros(5_001), 7);
        assert_eq!(
            drain(&mut w, Instant::from_micros(5_001)),
            Vec::<u32>::new()
        );
        assert_eq!(
            drain(&mut w, Instant::from_micros(5_999)),
            Vec::<u32>::new()
        );
        assert_eq!(drain(&mut w, ms(6)), vec![7]);
    }

    #[test]
    fn origin_offset_is_respected() {
        let mut w = TimerWheel::new(Instant::from_micros(300), MS);
        w.schedule(Instant::from_micros(1_300), 1);
        assert_eq!(
            drain(&mut w, Instant::from_micros(1_299)),
            Vec::<u32>::new()
        );
        assert_eq!(drain(&mut w, Instant::from_micros(1_300)), vec![1]);
    }

    #[test]
    fn past_deadline_fires_on_next_poll() {
        let mut w = TimerWheel::new(ms(100), MS);
        assert_eq!(drain(&mut w, ms(200)), Vec::<u32>::new());
        w.schedule(ms(50), 1); // before the origin
        w.schedule(ms(150), 2); // before the wheel's present
        w.schedule(ms(200), 3); // exactly now
        assert_eq!(w.next_deadline(), Some(ms(200)));
        assert_eq!(drain(&mut w, ms(200)), vec![1, 2, 3]);
    }

    #[test]
    fn cancel_returns_payload_only_while_pending() {
        let mut w = TimerWheel::new(ms(0), MS);
        let a = w.schedule(ms(10), 1);
        let b = w.schedule(ms(10), 2);
        assert!(w.is_pending(a));
        assert_eq!(w.cancel(a), Some(1));
        assert!(!w.is_pending(a));
        assert_eq!(w.cancel(a), None);
        assert_eq!(w.len(), 1);
        assert_eq!(drain(&mut w, ms(10)), vec![2]);
        assert_eq!(w.cancel(b), None, "fired timer is no longer pending");
        assert_eq!(w.cancel(TimerId::NONE), None);
        assert!(TimerId::NONE.is_none());
    }

    #[test]
    fn stale_id_does_not_touch_a_reused_slot() {
        let mut w = TimerWheel::new(ms(0), MS);
        let a = w.schedule(ms(10), 1);
        assert_eq!(w.cancel(a), Some(1));
        let b = w.schedule(ms(20), 2);
        assert_eq!(a.index, b.index, "free list reuses the slot");
        assert_eq!(w.cancel(a), None);
        assert!(!w.is_pending(a));
        assert!(w.is_pending(b));
        assert_eq!(drain(&mut w, ms(20)), vec![2]);
    }

    #[test]
    fn cascade_from_every_level_fires_on_time() {
        // Deadlines that sit at levels 1, 2 and 3 and straddle slot boundaries.
        let deadlines = [
            255u64,
            256,
            257,
            300,
            65_535,
            65_536,
            65_537,
            70_000,
            (1 << 24) - 1,
            1 << 24,
            (1 << 24) + 1,
            20_000_000,
        ];
        let mut w = TimerWheel::new(ms(0), MS);
        for (i, d) in deadlines.iter().enumerate() {
            w.schedule(ms(*d), i as u32);
        }
        for (i, d) in deadlines.iter().enumerate() {
            assert_eq!(drain(&mut w, ms(*d - 1)), Vec::<u32>::new(), "early at {d}");
            assert_eq!(drain(&mut w, ms(*d)), vec![i as u32], "due at {d}");
        }
        assert!(w.is_empty());
    }

    #[test]
    fn cascade_when_polled_tick_by_tick() {
        let mut w = TimerWheel::new(ms(0), MS);
        for d in [1u64, 255, 256, 511, 512, 65_536, 65_537] {
            w.schedule(ms(d), d as u32);
        }
        let mut fired = Vec::new();
        for t in 0..=70_000u64 {
            for p in drain(&mut w, ms(t)) {
                assert_eq!(p as u64, t);
                fired.push(p);
            }
        }
        assert_eq!(fired, vec![1, 255, 256, 511, 512, 65_536, 65_537]);
    }

    #[test]
    fn far_future_timer_beyond_wheel_goes_through_overflow() {
        let mut w = TimerWheel::new(ms(0), MS);
        let far = (1u64 << 32) * 3 + 12_345; // ~149 days at 1 ms
        w.schedule(ms(far), 1);
        w.schedule(ms(1 << 32), 2); // exactly the first wrap
        w.schedule(ms(10), 3);
        assert_eq!(drain(&mut w, ms(10)), vec![3]);
        assert_eq!(drain(&mut w, ms((1 << 32) - 1)), Vec::<u32>::new());
        assert_eq!(drain(&mut w, ms(1 << 32)), vec![2]);
        assert_eq!(drain(&mut w, ms(far - 1)), Vec::<u32>::new());
        let nd = w.next_deadline().unwrap();
        assert!(nd <= ms(far), "next_deadline late: {nd:?}");
        assert_eq!(drain(&mut w, ms(far)), vec![1]);
        assert_eq!(w.next_deadline(), None);
    }

    #[test]
    fn maximal_deadline_does_not_panic() {
        let mut w = TimerWheel::new(ms(0), Duration::from_micros(1));
        let id = w.schedule(Instant::from_micros(u64::MAX), 9);
        assert_eq!(
            drain(&mut w, Instant::from_micros(u64::MAX - 1)),
            Vec::<u32>::new()
        );
        assert!(w.is_pending(id));
        assert_eq!(drain(&mut w, Instant::from_micros(u64::MAX)), vec![9]);
    }

    #[test]
    fn next_deadline_is_never_late() {
        let mut w = TimerWheel::new(ms(0), MS);
        assert_eq!(w.next_deadline(), None);
        w.schedule(ms(70_000), 1);
        let nd = w.next_deadline().unwrap();
        assert!(nd <= ms(70_000));
        // Polling at each reported deadline eventually reaches the timer without skipping it.
        let mut now = ms(0);
        let mut got = Vec::new();
        while got.is_empty() {
            now = w.next_deadline().unwrap();
            got = drain(&mut w, now);
        }
        assert_eq!((now, got), (ms(70_000), vec![1]));
    }

    #[test]
    fn coarse_tick_rounds_up() {
        let mut w = TimerWheel::new(ms(0), Duration::from_millis(10));
        w.schedule(ms(11), 1);
        assert_eq!(drain(&mut w, ms(19)), Vec::<u32>::new());
        assert_eq!(drain(&mut w, ms(20)), vec![1]);
    }

    #[test]
    fn million_timers_all_fire_once_never_early() {
        const N: u32 = 1_000_000;
        let mut w = TimerWheel::new(ms(0), MS);
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut deadline = Vec::with_capacity(N as usize);
        for i in 0..N {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = x % 8_000_000; // up to ~2.2 h
            deadline.push(d);
            w.schedule(ms(d), i);
        }
        assert_eq!(w.len(), N as usize);
        let mut seen = vec![false; N as usize];
        let mut now = 0u64;
        let mut count = 0u32;
        while let Some(next) = w.next_deadline() {
            let prev = now;
            now = now.max(next.as_millis()) + 997; // polls at irregular gaps
            while let Some(p) = w.poll_expired(ms(now)) {
                let d = deadline[p as usize];
                assert!(!seen[p as usize], "fired twice");
                seen[p as usize] = true;
                assert!(d <= now, "fired early");
                assert!(
                    d > prev || (prev == 0 && d == 0),
                    "missed at an earlier poll"
                );
                count += 1;
            }
        }
        assert_eq!(count, N);
        assert!(w.is_empty());
    }

    #[derive(Debug, Clone)]
    enum Op {
        Schedule(u64),
        SchedulePast(u64),
        Cancel(usize),
        Advance(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => prop_oneof![
                0u64..3_000,
                0u64..300_000,
                0u64..70_000_000,
                0u64..20_000_000_000,
            ]
            .prop_map(Op::Schedule),
            1 => (0u64..5_000).prop_map(Op::SchedulePast),
            2 => any::<usize>().prop_map(Op::Cancel),
            3 => prop_oneof![
                0u64..3_000,
                0u64..400_000,
                0u64..80_000_000,
                0u64..30_000_000_000,
            ]
            .prop_map(Op::Advance),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn matches_reference_model(
            tick_us in prop_oneof![Just(1_000u64), Just(1u64), 1u64..5_000],
            start in 0u64..10_000_000,
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let origin = Instant::from_micros(start);
            let mut w = TimerWheel::new(origin, Duration::from_micros(tick_us));
            let mut now = start;
            // payload -> (deadline in µs, id)
            let mut model: BTreeMap<u32, (u64, TimerId)> = BTreeMap::new();
            let mut ids: Vec<(u32, TimerId)> = Vec::new();
            let mut next_payload = 0u32;
            let due_tick_time = |at: u64| {
                let rel = at.saturating_sub(start);
                start + rel.div_ceil(tick_us) * tick_us
            };
            for op in ops {
                match op {
                    Op::Schedule(d) | Op::SchedulePast(d) => {
                        let at = if matches!(op, Op::Schedule(_)) { now + d } else { now.saturating_sub(d) };
                        let p = next_payload;
                        next_payload += 1;
                        let id = w.schedule(Instant::from_micros(at), p);
                        prop_assert!(w.is_pending(id));
                        model.insert(p, (at, id));
                        ids.push((p, id));
                    }
                    Op::Cancel(k) => {
                        if ids.is_empty() { continue; }
                        let (p, id) = ids[k % ids.len()];
                        let expect = model.remove(&p).map(|_| p);
                        prop_assert_eq!(w.cancel(id), expect);
                        prop_assert!(!w.is_pending(id));
                    }
                    Op::Advance(d) => {
                        // Never late: nothing pending is due before next_deadline (timers
                        // already overdue count as due at the last poll).
                        match w.next_deadline() {
                            Some(nd) => {
                                let earliest = model.values().map(|(at, _)| due_tick_time(*at)).min();
                                prop_assert!(earliest.is_some());
                                prop_assert!(nd.as_micros() <= earliest.unwrap().max(now));
                            }
                            None => prop_assert!(model.is_empty()),
                        }
                        now += d;
                        while let Some(p) = w.poll_expired(Instant::from_micros(now)) {
                            let entry = model.remove(&p);
                            prop_assert!(entry.is_some(), "fired twice or after cancel");
                            prop_assert!(entry.unwrap().0 <= now, "fired early");
                        }
                        for (at, _) in model.values() {
                            prop_assert!(due_tick_time(*at) > now, "due timer not fired");
                        }
                    }
                }
                prop_assert_eq!(w.len(), model.len());
            }
        }
    }
}
