//! An in-memory wire joining two engines, with seeded loss, reordering, duplication, delay and
//! corruption. A discrete-event simulation: time only moves when nothing is due, jumping to the
//! next frame delivery or engine timer, so a run is exact and replayable from its seed.
//!
//! Used by the tests (large transfers that must arrive byte-exact through a hostile wire) and by
//! the benchmarks (a perfect wire, where the engines' own cost is all that is measured).

use crate::app::App;
use crate::engine::{Engine, Transmit, TxMeta};
use crate::time::Instant;
use crate::wire::RxMeta;
use core::time::Duration;
use std::collections::{BinaryHeap, VecDeque};

/// SplitMix64: tiny, fast, and stable across versions, which keeps seeded runs replayable
/// (a general-purpose RNG crate makes no such promise for its small generators).
#[derive(Clone, Debug)]
pub struct SimRng(u64);

impl SimRng {
    pub fn new(seed: u64) -> Self {
        SimRng(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform in [0, n); n must be > 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && self.next_f64() < p
    }
}

/// What the wire does to frames in one direction. Probabilities are per frame.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Impairments {
    pub loss: f64,
    /// Chance a frame is held back by up to `reorder_window` extra, letting later ones overtake.
    pub reorder: f64,
    pub duplicate: f64,
    /// Chance one random bit of the frame is flipped (checksums must catch it).
    pub corrupt: f64,
    /// One-way propagation delay for every frame.
    pub delay: Duration,
    /// Extra delay range for reordered frames.
    pub reorder_window: Duration,
}

impl Impairments {
    pub fn perfect() -> Self {
        Impairments::default()
    }
    fn is_perfect(&self) -> bool {
        self.loss == 0.0
            && self.reorder == 0.0
            && self.duplicate == 0.0
            && self.corrupt == 0.0
            && self.delay.is_zero()
    }
}

/// What happened on one direction of the wire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub sent: u64,
    pub delivered: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub corrupted: u64,
    pub reordered: u64,
}

struct InFlight {
    due: Instant,
    order: u64,
    frame: Vec<u8>,
}

impl PartialEq for InFlight {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for InFlight {}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for InFlight {
    // Reversed: BinaryHeap is a max-heap and the earliest frame must come out first.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.due, other.order).cmp(&(self.due, self.order))
    }
}

/// One direction of the wire.
pub struct Link {
    imp: Impairments,
    rng: SimRng,
    /// A perfect link keeps frames in FIFO order with no heap, so benchmarks measure the engines.
    fifo: VecDeque<Vec<u8>>,
    heap: BinaryHeap<InFlight>,
    order: u64,
    pool: Vec<Vec<u8>>,
    pub stats: LinkStats,
}

impl Link {
    pub fn new(imp: Impairments, seed: u64) -> Self {
        Link {
            imp,
            rng: SimRng::new(seed),
            fifo: VecDeque::new(),
            heap: BinaryHeap::new(),
            order: 0,
            pool: Vec::new(),
            stats: LinkStats::default(),
        }
    }

    /// A cleared buffer to build a frame in, reusing delivered ones.
    fn buffer(&mut self) -> Vec<u8> {
        let mut b = self.pool.pop().unwrap_or_default();
        b.clear();
        b
    }

    /// Returns a delivered frame's buffer for reuse.
    pub fn recycle(&mut self, frame: Vec<u8>) {
        if self.pool.len() < 4096 {
            self.pool.push(frame);
        }
    }

    /// Puts a frame on the wire at `now`, applying the impairments.
    pub fn send(&mut self, now: Instant, mut frame: Vec<u8>) {
        self.stats.sent += 1;
        if self.imp.is_perfect() {
            self.fifo.push_back(frame);
            return;
        }
        if self.rng.chance(self.imp.loss) {
            self.stats.lost += 1;
            self.recycle(frame);
            return;
        }
        if self.rng.chance(self.imp.duplicate) {
            self.stats.duplicated += 1;
            let mut copy = self.buffer();
            copy.extend_from_slice(&frame);
            self.schedule(now, copy);
        }
        if !frame.is_empty() && self.rng.chance(self.imp.corrupt) {
            self.stats.corrupted += 1;
            let bit = self.rng.below(frame.len() as u64 * 8);
            frame[(bit / 8) as usize] ^= 1 << (bit % 8);
        }
        self.schedule(now, frame);
    }

    fn schedule(&mut self, now: Instant, frame: Vec<u8>) {
        let mut due = now + self.imp.delay;
        if self.rng.chance(self.imp.reorder) {
            self.stats.reordered += 1;
            let window = self.imp.reorder_window.as_micros().max(1) as u64;
            due += Duration::from_micros(1 + self.rng.below(window));
        }
        self.order += 1;
        self.heap.push(InFlight {
            due,
            order: self.order,
            frame,
        });
    }

    /// The next frame due at or before `now`.
    pub fn receive(&mut self, now: Instant) -> Option<Vec<u8>> {
        if let Some(f) = self.fifo.pop_front() {
            self.stats.delivered += 1;
            return Some(f);
        }
        if self.heap.peek().is_some_and(|f| f.due <= now) {
            self.stats.delivered += 1;
            return self.heap.pop().map(|f| f.frame);
        }
        None
    }

    /// When the next frame arrives (now, for anything in the FIFO).
    pub fn next_due(&self, now: Instant) -> Option<Instant> {
        if !self.fifo.is_empty() {
            return Some(now);
        }
        self.heap.peek().map(|f| f.due)
    }

    pub fn in_flight(&self) -> usize {
        self.fifo.len() + self.heap.len()
    }
}

/// The longest Ethernet frame at the engines' usual 1500 B MTU.
pub const MAX_FRAME_1500: usize = 1514;

/// Collects the frames an engine emits during one call.
pub struct Outbox {
    pub frames: Vec<Vec<u8>>,
    pool: Vec<Vec<u8>>,
    /// Frames refused because `capacity` was reached (to exercise the engine's tx-full path).
    pub refused: u64,
    /// Most frames held at once; `usize::MAX` by default.
    pub capacity: Option<usize>,
    /// Longest frame the wire carries (MTU + 14). A longer one is an engine bug that a real
    /// NIC or kernel would drop, so the simulated wire refuses it loudly: every test that
    /// moves frames through an `Outbox` checks the MTU.
    pub max_frame: usize,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            frames: Vec::new(),
            pool: Vec::new(),
            refused: 0,
            capacity: None,
            max_frame: MAX_FRAME_1500,
        }
    }
}

impl Transmit for Outbox {
    fn frame<F: FnOnce(&mut [u8])>(&mut self, len: usize, _meta: TxMeta, fill: F) -> bool {
        assert!(
            len <= self.max_frame,
            "the engine emitted a {len} B frame, over the wire's {} B limit",
            self.max_frame
        );
        if self.capacity.is_some_and(|c| self.frames.len() >= c) {
            self.refused += 1;
            return false;
        }
        let mut buf = self.pool.pop().unwrap_or_default();
        buf.clear();
        buf.resize(len, 0);
        fill(&mut buf);
        self.frames.push(buf);
        true
    }
}

impl Outbox {
    pub fn recycle(&mut self, frame: Vec<u8>) {
        if self.pool.len() < 4096 {
            self.pool.push(frame);
        }
    }
}

/// Two engines joined by a wire: `a` sends on `ab`, `b` on `ba`.
pub struct Pair<A: App, B: App> {
    pub a: Engine<A>,
    pub b: Engine<B>,
    pub ab: Link,
    pub ba: Link,
    pub now: Instant,
    out: Outbox,
}

impl<A: App, B: App> Pair<A, B> {
    pub fn new(
        a: Engine<A>,
        b: Engine<B>,
        ab: Impairments,
        ba: Impairments,
        seed: u64,
        now: Instant,
    ) -> Self {
        Pair {
            a,
            b,
            ab: Link::new(ab, seed),
            ba: Link::new(ba, seed ^ 0x5555_5555_5555_5555),
            now,
            out: Outbox::default(),
        }
    }

    /// Moves the frames engine `a` (if `from_a`) or `b` just emitted onto the wire.
    fn drain_out(&mut self, from_a: bool) {
        let now = self.now;
        let link = if from_a { &mut self.ab } else { &mut self.ba };
        for f in self.out.frames.drain(..) {
            link.send(now, f);
        }
    }

    /// Runs `f` with engine `a` and an outbox, then puts what it sent on the wire.
    pub fn with_a<R>(&mut self, f: impl FnOnce(&mut Engine<A>, Instant, &mut Outbox) -> R) -> R {
        let r = f(&mut self.a, self.now, &mut self.out);
        self.drain_out(true);
        r
    }

    /// Runs `f` with engine `b` and an outbox, then puts what it sent on the wire.
    pub fn with_b<R>(&mut self, f: impl FnOnce(&mut Engine<B>, Instant, &mut Outbox) -> R) -> R {
        let r = f(&mut self.b, self.now, &mut self.out);
        self.drain_out(false);
        r
    }

    /// Delivers every frame due now, in both directions, and polls both engines.
    /// Returns the number of frames delivered.
    pub fn deliver_due(&mut self) -> usize {
        let mut delivered = 0;
        loop {
            let mut progressed = false;
            while let Some(frame) = self.ab.receive(self.now) {
                self.b
                    .receive(self.now, &frame, RxMeta::default(), &mut self.out);
                // Back to the outbox, which builds every frame: no allocation once warm.
                self.out.recycle(frame);
                self.drain_out(false);
                delivered += 1;
                progressed = true;
            }
            while let Some(frame) = self.ba.receive(self.now) {
                self.a
                    .receive(self.now, &frame, RxMeta::default(), &mut self.out);
                self.out.recycle(frame);
                self.drain_out(true);
                delivered += 1;
                progressed = true;
            }
            self.a.poll(self.now, &mut self.out);
            self.drain_out(true);
            self.b.poll(self.now, &mut self.out);
            self.drain_out(false);
            // The engines refuse an oversized frame themselves (so the Outbox never sees it):
            // that refusal is as much a failure here.
            assert_eq!(
                (
                    self.a.counters().drops.tx_oversize,
                    self.b.counters().drops.tx_oversize
                ),
                (0, 0),
                "an engine tried to send a frame over the MTU"
            );
            if !progressed
                && self.ab.next_due(self.now) != Some(self.now)
                && self.ba.next_due(self.now) != Some(self.now)
            {
                return delivered;
            }
        }
    }

    /// The next instant at which anything happens: a frame arrives or an engine timer is due.
    pub fn next_event(&self) -> Option<Instant> {
        [
            self.ab.next_due(self.now),
            self.ba.next_due(self.now),
            self.a.poll_at(),
            self.b.poll_at(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Delivers what is due, then jumps time to the next event. Returns false when nothing at
    /// all is pending (both engines idle and the wire empty).
    pub fn step(&mut self) -> bool {
        self.deliver_due();
        self.jump_to_next_event()
    }

    /// Moves time to the next event; false when none is pending.
    fn jump_to_next_event(&mut self) -> bool {
        match self.next_event() {
            Some(t) => {
                // Never move backwards, and always move forward at least 1 µs once nothing is due
                // now, so an engine reporting a deadline in the past cannot stall the loop.
                self.now = if t > self.now {
                    t
                } else {
                    self.now + Duration::from_micros(1)
                };
                true
            }
            None => false,
        }
    }

    /// Steps until `done` holds (true) or time passes `deadline` / nothing is pending (false).
    pub fn run_until(&mut self, deadline: Instant, mut done: impl FnMut(&Self) -> bool) -> bool {
        // `done` is checked between delivering and jumping ahead, so that `now` is when the
        // condition came true, not the time of whatever timer is due next.
        loop {
            if done(self) {
                return true;
            }
            self.deliver_due();
            if done(self) {
                return true;
            }
            if self.now > deadline || !self.jump_to_next_event() {
                return done(self);
            }
        }
    }

    /// Advances time by `d`, processing everything that happens on the way.
    pub fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.deliver_due();
            match self.next_event() {
                Some(t) if t <= end => {
                    self.now = if t > self.now {
                        t
                    } else {
                        self.now + Duration::from_micros(1)
                    };
                }
                _ => break,
            }
        }
        self.now = end;
        self.deliver_due();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_link_is_fifo_and_counts() {
        let mut l = Link::new(Impairments::perfect(), 1);
        for i in 0..10u8 {
            l.send(Instant::ZERO, vec![i]);
        }
        let got: Vec<u8> = std::iter::from_fn(|| l.receive(Instant::ZERO))
            .map(|f| f[0])
            .collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert_eq!(l.stats.sent, 10);
        assert_eq!(l.stats.delivered, 10);
    }

    #[test]
    fn impaired_link_rates_match_the_seeded_probabilities() {
        let imp = Impairments {
            loss: 0.05,
            reorder: 0.02,
            duplicate: 0.01,
            corrupt: 0.01,
            delay: Duration::from_micros(100),
            reorder_window: Duration::from_micros(300),
        };
        let mut l = Link::new(imp, 42);
        let n = 200_000u64;
        for i in 0..n {
            l.send(Instant::from_micros(i), (i as u32).to_be_bytes().to_vec());
        }
        let s = l.stats;
        let near = |x: u64, p: f64| (x as f64 - p * n as f64).abs() < 0.15 * p * n as f64;
        assert!(near(s.lost, 0.05), "{s:?}");
        assert!(near(s.duplicated, 0.01 * 0.95), "{s:?}");
        // Nothing is delivered before its delay.
        assert!(l.receive(Instant::from_micros(99)).is_none());
        let mut delivered = 0;
        while l.receive(Instant::from_secs(10)).is_some() {
            delivered += 1;
        }
        assert_eq!(delivered, n - s.lost + s.duplicated);
        assert!(s.reordered > 0 && s.corrupted > 0);
    }

    #[test]
    fn same_seed_same_run() {
        let imp = Impairments {
            loss: 0.3,
            corrupt: 0.3,
            ..Impairments::default()
        };
        let run = |seed| {
            let mut l = Link::new(imp, seed);
            for i in 0..1000u32 {
                l.send(Instant::ZERO, i.to_be_bytes().to_vec());
            }
            std::iter::from_fn(|| l.receive(Instant::ZERO)).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
