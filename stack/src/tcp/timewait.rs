//! The TIME_WAIT table: compact entries for connections that reached TIME_WAIT, kept 2×MSL.
//!
//! Every entry lives the same 2×MSL from its (re)start, so expiry order is insertion order and
//! no timer per entry is needed. Layout:
//! - Ring: the 32-byte entries themselves, in insertion order, in a ring buffer. Each entry has
//!   a serial number (a wrapping `u32` counting appends); a serial stays valid while the ring
//!   grows, so growing never touches the index. Expiry pops the head while it is due. An entry
//!   removed early (recycled by a new SYN) or restarted (a retransmitted FIN restarts 2×MSL:
//!   the entry moves to the tail) leaves a dead copy behind, skipped when it reaches the head;
//!   when dead copies outnumber live entries the ring is compacted.
//! - Index: open addressing with linear probing and Robin Hood displacement over a table of any
//!   size (home bucket by multiply-shift, not a mask, so it can grow by 1.25× instead of 2×),
//!   one `u64` per bucket: the tuple's 31-bit hash with the top bit set (so 0 means empty) and
//!   the entry's serial. Backward-shift deletion, no tombstones. Load at most 4/5 (linear-probing inserts get long past that).
//! - Shrinking: when live entries fall to a quarter of the ring's capacity, ring and index are
//!   rebuilt for twice the live count (an empty table frees both), so a TIME_WAIT storm's heap
//!   is returned once it expires.
//!
//! Per entry this costs 32 B in the ring and 8/load B in the index: about 42–53 B, against
//! ~95–100 B for a slab table plus a timer-wheel entry each.
//!
//! Expiry times are milliseconds as a wrapping `u32` (compared within ±24 days); 2×MSL is
//! capped at 2^30 ms (12.4 days) so comparisons stay exact.

use crate::flow::FourTuple;
use crate::seq::SeqNum;
use crate::table::{tuple_hash, tuple_hash_keys};
use crate::time::Instant;
use core::time::Duration;

/// A TIME_WAIT connection: only what re-ACKing a FIN and judging a new SYN need. It only ever
/// answers a received frame, so the next hop is that frame's source; the timestamp offset is
/// recomputed from the tuple on the (rare) reply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TwEntry {
    pub tuple: FourTuple,
    pub snd_nxt: SeqNum,
    pub rcv_nxt: SeqNum,
    pub ts_recent: u32,
    /// Milliseconds (wrapping) at which the entry expires.
    expiry: u32,
    /// The window we advertise, already scaled down.
    pub window: u16,
    flags: u8,
}

const F_TS: u8 = 1;
const F_DEAD: u8 = 2;

impl TwEntry {
    pub fn new(
        tuple: FourTuple,
        snd_nxt: SeqNum,
        rcv_nxt: SeqNum,
        ts_recent: u32,
        window: u16,
        ts_ok: bool,
    ) -> Self {
        TwEntry {
            tuple,
            snd_nxt,
            rcv_nxt,
            ts_recent,
            expiry: 0,
            window,
            flags: if ts_ok { F_TS } else { 0 },
        }
    }
    /// Timestamps were negotiated on the connection.
    pub fn ts_ok(&self) -> bool {
        self.flags & F_TS != 0
    }
    fn dead(&self) -> bool {
        self.flags & F_DEAD != 0
    }
}

/// An entry found by [`TimeWaitTable::lookup`]: valid until the table is next changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TwId {
    bucket: u32,
    serial: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TwInsertError {
    Full,
    Duplicate,
}

const EMPTY: u64 = 0;
const TAG_BIT: u32 = 1 << 31;
const MIN_CAP: usize = 16;
/// Below this ring capacity the table is not shrunk (a few KiB).
const SHRINK_FLOOR: usize = 64;
const MAX_TWO_MSL_MS: u64 = 1 << 30;

#[inline]
fn bucket_tag(b: u64) -> u32 {
    (b >> 32) as u32
}

#[inline]
fn bucket_serial(b: u64) -> u32 {
    b as u32
}

/// `expiry` is at or before `now_ms` on the wrapping millisecond clock.
#[inline]
fn due(expiry: u32, now_ms: u32) -> bool {
    (now_ms.wrapping_sub(expiry) as i32) >= 0
}

pub struct TimeWaitTable {
    ring: Vec<TwEntry>,
    /// Ring position of the head (the oldest entry, live or dead).
    head: usize,
    /// Entries in the ring, live and dead.
    ring_len: usize,
    head_serial: u32,
    live: usize,
    dead: usize,
    index: Vec<u64>,
    keys: [u64; 4],
    max_entries: usize,
    two_msl_us: u64,
    /// The last time the table was told (for `next_expiry`).
    now_ms: u64,
}

impl TimeWaitTable {
    /// At most `max_entries` live entries, each kept `two_msl`; `seed` keys the hash.
    pub fn new(max_entries: usize, two_msl: Duration, seed: u64) -> Self {
        let two_msl_us = u64::try_from(two_msl.as_micros())
            .map_or(MAX_TWO_MSL_MS * 1000, |us| us.min(MAX_TWO_MSL_MS * 1000));
        TimeWaitTable {
            ring: Vec::new(),
            head: 0,
            ring_len: 0,
            head_serial: 0,
            live: 0,
            dead: 0,
            index: Vec::new(),
            keys: tuple_hash_keys(seed),
            // Serials are u32 and the ring holds live + dead (at most 2× live) entries.
            max_entries: max_entries.min(1 << 30),
            two_msl_us,
            now_ms: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Heap bytes held (ring and index capacity).
    pub fn memory_bytes(&self) -> usize {
        self.ring.capacity() * core::mem::size_of::<TwEntry>()
            + self.index.capacity() * core::mem::size_of::<u64>()
    }

    #[inline]
    fn tag(&self, key: &FourTuple) -> u32 {
        tuple_hash(&self.keys, key) | TAG_BIT
    }

    #[inline]
    fn home(tag: u32, n: usize) -> usize {
        (((tag & !TAG_BIT) as u64 * n as u64) >> 31) as usize
    }

    #[inline]
    fn distance(pos: usize, home: usize, n: usize) -> usize {
        if pos >= home {
            pos - home
        } else {
            pos + n - home
        }
    }

    /// Ring position of a serial, if it is in the ring.
    #[inline]
    fn pos_of(&self, serial: u32) -> Option<usize> {
        let off = serial.wrapping_sub(self.head_serial) as usize;
        if off >= self.ring_len {
            return None;
        }
        let p = self.head + off;
        Some(if p >= self.ring.len() {
            p - self.ring.len()
        } else {
            p
        })
    }

    pub fn lookup(&self, key: &FourTuple) -> Option<TwId> {
        let n = self.index.len();
        if n == 0 || self.live == 0 {
            return None;
        }
        let tag = self.tag(key);
        let mut pos = Self::home(tag, n);
        let mut dist = 0;
        loop {
            let b = self.index[pos];
            if b == EMPTY {
                return None;
            }
            let bt = bucket_tag(b);
            // Robin Hood: the key would have displaced any resident nearer to its home.
            if Self::distance(pos, Self::home(bt, n), n) < dist {
                return None;
            }
            if bt == tag {
                let serial = bucket_serial(b);
                if let Some(p) = self.pos_of(serial) {
                    if self.ring[p].tuple == *key {
                        return Some(TwId {
                            bucket: pos as u32,
                            serial,
                        });
                    }
                }
            }
            pos += 1;
            if pos == n {
                pos = 0;
            }
            dist += 1;
        }
    }

    /// The bucket still holds the entry the id was taken for.
    fn valid(&self, id: TwId) -> Option<usize> {
        let b = *self.index.get(id.bucket as usize)?;
        if b == EMPTY || bucket_serial(b) != id.serial {
            return None;
        }
        self.pos_of(id.serial)
    }

    pub fn get(&self, id: TwId) -> Option<&TwEntry> {
        self.valid(id).map(|p| &self.ring[p])
    }

    pub fn get_mut(&mut self, id: TwId) -> Option<&mut TwEntry> {
        self.valid(id).map(|p| &mut self.ring[p])
    }

    fn expiry_at(&self, now: Instant) -> u32 {
        (now.as_micros().saturating_add(self.two_msl_us)).div_ceil(1000) as u32
    }

    /// Adds an entry expiring 2×MSL after `now`.
    pub fn insert(&mut self, now: Instant, mut e: TwEntry) -> Result<(), TwInsertError> {
        self.now_ms = now.as_millis();
        if self.live >= self.max_entries {
            return Err(TwInsertError::Full);
        }
        if self.lookup(&e.tuple).is_some() {
            return Err(TwInsertError::Duplicate);
        }
        e.expiry = self.expiry_at(now);
        e.flags &= !F_DEAD;
        self.link(e);
        Ok(())
    }

    /// Removes an entry early (its tuple is reused).
    pub fn remove(&mut self, id: TwId) -> Option<TwEntry> {
        let e = self.unlink(id)?;
        self.drop_dead_head();
        self.maybe_shrink();
        Some(e)
    }

    /// Restarts the entry's 2×MSL from `now` (RFC 9293 §3.10.7.4: a retransmitted FIN).
    pub fn restart(&mut self, now: Instant, id: TwId) {
        self.now_ms = now.as_millis();
        if let Some(mut e) = self.unlink(id) {
            e.expiry = self.expiry_at(now);
            self.link(e);
            self.drop_dead_head();
        }
    }

    /// Dead copies at the head go at once, so the head is live and `next_expiry` exact.
    fn drop_dead_head(&mut self) {
        while self.ring_len > 0 && self.ring[self.head].dead() {
            self.dead -= 1;
            self.pop_head();
        }
    }

    /// Expires due entries, at most `budget` ring entries (live or dead) per call so one poll
    /// stays short after a storm; returns how many live entries expired.
    pub fn expire(&mut self, now: Instant, budget: usize) -> usize {
        self.now_ms = now.as_millis();
        let now_ms = self.now_ms as u32;
        let mut expired = 0;
        let mut work = 0;
        while self.ring_len > 0 && work < budget {
            let e = self.ring[self.head];
            if e.dead() {
                self.dead -= 1;
            } else if due(e.expiry, now_ms) {
                self.index_remove_serial(&e.tuple, self.head_serial);
                self.live -= 1;
                expired += 1;
            } else {
                break;
            }
            self.pop_head();
            work += 1;
        }
        if work > 0 {
            self.maybe_shrink();
        }
        expired
    }

    /// When the head entry expires (or now, if some are due and left for the next call).
    pub fn next_expiry(&self) -> Option<Instant> {
        if self.ring_len == 0 {
            return None;
        }
        let e = &self.ring[self.head];
        if e.dead() {
            return Some(Instant::from_millis(self.now_ms));
        }
        let ahead = e.expiry.wrapping_sub(self.now_ms as u32) as i32;
        Some(Instant::from_millis(
            self.now_ms.saturating_add_signed(ahead as i64),
        ))
    }

    fn pop_head(&mut self) {
        self.head += 1;
        if self.head == self.ring.len() {
            self.head = 0;
        }
        self.ring_len -= 1;
        self.head_serial = self.head_serial.wrapping_add(1);
        if self.ring_len == 0 {
            self.head = 0;
        }
    }

    /// Takes a live entry out: its ring copy is marked dead, its bucket freed.
    fn unlink(&mut self, id: TwId) -> Option<TwEntry> {
        let p = self.valid(id)?;
        let e = self.ring[p];
        self.ring[p].flags |= F_DEAD;
        self.index_delete_at(id.bucket as usize);
        self.live -= 1;
        self.dead += 1;
        Some(e)
    }

    /// Appends a live entry at the ring's tail and indexes it.
    fn link(&mut self, e: TwEntry) {
        if self.ring_len == self.ring.len() {
            if self.dead > 0 && self.dead * 2 >= self.ring_len {
                // Mostly dead copies: compact rather than grow.
                self.rebuild(self.live + 1 + (self.live + 1) / 4);
            } else {
                self.grow_ring();
            }
        }
        let serial = self.head_serial.wrapping_add(self.ring_len as u32);
        let mut p = self.head + self.ring_len;
        if p >= self.ring.len() {
            p -= self.ring.len();
        }
        self.ring[p] = e;
        self.ring_len += 1;
        self.live += 1;
        if self.live * 5 > self.index.len() * 4 {
            self.grow_index(self.live);
        }
        let tag = self.tag(&e.tuple);
        Self::index_insert(&mut self.index, ((tag as u64) << 32) | serial as u64);
    }

    fn grow_ring(&mut self) {
        let cap = (self.ring.len() + self.ring.len() / 4).max(MIN_CAP);
        let mut ring = Vec::with_capacity(cap);
        for i in 0..self.ring_len {
            let mut p = self.head + i;
            if p >= self.ring.len() {
                p -= self.ring.len();
            }
            ring.push(self.ring[p]);
        }
        ring.resize(cap, self.ring.first().copied().unwrap_or(PLACEHOLDER));
        self.ring = ring;
        self.head = 0;
    }

    /// An index sized for `live` entries at load 5/8 (and at least 1.25× its current size).
    fn grow_index(&mut self, live: usize) {
        let want = (live * 8 / 5 + 1).max(self.index.len() + self.index.len() / 4);
        self.reindex(want.max(MIN_CAP));
    }

    fn reindex(&mut self, n: usize) {
        let old = core::mem::take(&mut self.index);
        let mut index = Vec::with_capacity(n);
        index.resize(n, EMPTY);
        for b in old {
            if b != EMPTY {
                Self::index_insert(&mut index, b);
            }
        }
        self.index = index;
    }

    /// Robin Hood insertion of a bucket value known to be absent; the caller ensures room.
    fn index_insert(index: &mut [u64], mut cur: u64) {
        let n = index.len();
        let mut pos = Self::home(bucket_tag(cur), n);
        let mut dist = 0;
        loop {
            let b = index[pos];
            if b == EMPTY {
                index[pos] = cur;
                return;
            }
            let bd = Self::distance(pos, Self::home(bucket_tag(b), n), n);
            if bd < dist {
                index[pos] = cur;
                cur = b;
                dist = bd;
            }
            pos += 1;
            if pos == n {
                pos = 0;
            }
            dist += 1;
        }
    }

    /// Backward-shift deletion: later entries of the run move one bucket nearer their home.
    fn index_delete_at(&mut self, mut pos: usize) {
        let n = self.index.len();
        loop {
            let next = if pos + 1 == n { 0 } else { pos + 1 };
            let b = self.index[next];
            if b == EMPTY || Self::distance(next, Self::home(bucket_tag(b), n), n) == 0 {
                self.index[pos] = EMPTY;
                return;
            }
            self.index[pos] = b;
            pos = next;
        }
    }

    fn index_remove_serial(&mut self, key: &FourTuple, serial: u32) {
        let n = self.index.len();
        let tag = self.tag(key);
        let mut pos = Self::home(tag, n);
        for _ in 0..n {
            let b = self.index[pos];
            if b == EMPTY {
                return;
            }
            if bucket_serial(b) == serial && bucket_tag(b) == tag {
                self.index_delete_at(pos);
                return;
            }
            pos += 1;
            if pos == n {
                pos = 0;
            }
        }
    }

    /// Returns memory once most of it is unused (hysteresis: shrink at 1/4, to 1/2).
    fn maybe_shrink(&mut self) {
        if self.ring.len() >= SHRINK_FLOOR && self.live * 4 <= self.ring.len() {
            self.rebuild(self.live * 2);
        }
    }

    /// Compacts the ring to the live entries (capacity `cap`, 0 when empty) and re-indexes.
    fn rebuild(&mut self, cap: usize) {
        let cap = if self.live == 0 {
            cap
        } else {
            cap.max(self.live).max(MIN_CAP)
        };
        let mut ring = Vec::with_capacity(cap);
        for i in 0..self.ring_len {
            let mut p = self.head + i;
            if p >= self.ring.len() {
                p -= self.ring.len();
            }
            if !self.ring[p].dead() {
                ring.push(self.ring[p]);
            }
        }
        debug_assert_eq!(ring.len(), self.live);
        let fill = ring.first().copied().unwrap_or(PLACEHOLDER);
        ring.resize(cap, fill);
        self.ring = ring;
        self.head = 0;
        self.ring_len = self.live;
        self.dead = 0;
        let n = if self.live == 0 {
            0
        } else {
            (self.live * 8 / 5 + 1).max(MIN_CAP)
        };
        let mut index = Vec::with_capacity(n);
        index.resize(n, EMPTY);
        for i in 0..self.live {
            let tag = self.tag(&self.ring[i].tuple);
            let serial = self.head_serial.wrapping_add(i as u32);
            Self::index_insert(&mut index, ((tag as u64) << 32) | serial as u64);
        }
        self.index = index;
    }
}

const PLACEHOLDER: TwEntry = TwEntry {
    tuple: FourTuple {
        local_ip: core::net::Ipv4Addr::UNSPECIFIED,
        local_port: 0,
        remote_ip: core::net::Ipv4Addr::UNSPECIFIED,
        remote_port: 0,
    },
    snd_nxt: SeqNum(0),
    rcv_nxt: SeqNum(0),
    ts_recent: 0,
    expiry: 0,
    window: 0,
    flags: F_DEAD,
};

#[cfg(test)]
mod tests {
    use super::*;
    use core::net::Ipv4Addr;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn tuple(i: u32) -> FourTuple {
        FourTuple {
            local_ip: Ipv4Addr::new(10, 0, 0, 1),
            local_port: 80,
            remote_ip: Ipv4Addr::from(0x0a00_0000 | (i >> 16)),
            remote_port: i as u16,
        }
    }

    fn entry(i: u32) -> TwEntry {
        TwEntry::new(
            tuple(i),
            SeqNum(i),
            SeqNum(!i),
            i ^ 0x55,
            7,
            i.is_multiple_of(2),
        )
    }

    const TWO_MSL: Duration = Duration::from_secs(2);

    #[test]
    fn entry_is_32_bytes() {
        assert_eq!(core::mem::size_of::<TwEntry>(), 32);
    }

    #[test]
    fn entries_expire_exactly_2msl_after_insert_in_insertion_order() {
        let mut t = TimeWaitTable::new(100, TWO_MSL, 1);
        let t0 = Instant::from_millis(10_000);
        for i in 0..10u32 {
            t.insert(t0 + Duration::from_millis(i as u64 * 10), entry(i))
                .unwrap();
        }
        assert_eq!(t.len(), 10);
        assert_eq!(t.next_expiry(), Some(t0 + TWO_MSL));
        // One microsecond early: nothing expires.
        assert_eq!(t.expire(t0 + (TWO_MSL - Duration::from_micros(1)), 1024), 0);
        assert_eq!(t.expire(t0 + TWO_MSL, 1024), 1);
        assert!(t.lookup(&tuple(0)).is_none());
        assert!(t.lookup(&tuple(1)).is_some());
        assert_eq!(
            t.next_expiry(),
            Some(t0 + TWO_MSL + Duration::from_millis(10))
        );
        assert_eq!(t.expire(t0 + TWO_MSL + Duration::from_millis(45), 1024), 4);
        assert_eq!(t.len(), 5);
        for i in 5..10 {
            let id = t.lookup(&tuple(i)).unwrap();
            assert_eq!(
                t.get(id),
                Some(&{
                    let mut e = entry(i);
                    e.expiry = t.get(id).unwrap().expiry;
                    e
                })
            );
        }
    }

    #[test]
    fn restart_moves_expiry_2msl_past_the_restart() {
        let mut t = TimeWaitTable::new(100, TWO_MSL, 1);
        let t0 = Instant::from_secs(5);
        t.insert(t0, entry(1)).unwrap();
        t.insert(t0 + Duration::from_millis(100), entry(2)).unwrap();
        let later = t0 + Duration::from_millis(1500);
        let id = t.lookup(&tuple(1)).unwrap();
        t.restart(later, id);
        // Entry 2 is now the oldest.
        assert_eq!(t.next_expiry(), Some(t0 + Duration::from_millis(2100)));
        assert_eq!(t.expire(t0 + Duration::from_millis(2100), 1024), 1);
        assert!(t.lookup(&tuple(2)).is_none());
        assert_eq!(
            t.expire(later + (TWO_MSL - Duration::from_millis(1)), 1024),
            0
        );
        assert!(t.lookup(&tuple(1)).is_some());
        assert_eq!(t.expire(later + TWO_MSL, 1024), 1);
        assert!(t.is_empty());
        assert_eq!(t.next_expiry(), None);
    }

    #[test]
    fn full_and_duplicate_inserts_fail() {
        let mut t = TimeWaitTable::new(2, TWO_MSL, 1);
        let now = Instant::from_secs(1);
        t.insert(now, entry(1)).unwrap();
        assert_eq!(t.insert(now, entry(1)), Err(TwInsertError::Duplicate));
        t.insert(now, entry(2)).unwrap();
        assert_eq!(t.insert(now, entry(3)), Err(TwInsertError::Full));
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn expiry_work_per_call_is_bounded() {
        let mut t = TimeWaitTable::new(10_000, TWO_MSL, 1);
        let now = Instant::from_secs(1);
        for i in 0..3000 {
            t.insert(now, entry(i)).unwrap();
        }
        let end = now + TWO_MSL;
        assert_eq!(t.expire(end, 1024), 1024);
        // The rest is due now.
        assert_eq!(t.next_expiry(), Some(end));
        assert_eq!(t.expire(end, 1024), 1024);
        assert_eq!(t.expire(end, 1024), 952);
        assert!(t.is_empty());
    }

    #[test]
    fn storm_heap_is_returned_after_expiry_and_bounded_per_entry() {
        let mut t = TimeWaitTable::new(1 << 20, TWO_MSL, 3);
        let now = Instant::from_secs(1);
        for n in [1000u32, 65_536, 100_000] {
            for i in 0..n {
                t.insert(now, entry(i)).unwrap();
            }
            let per = t.memory_bytes() as f64 / n as f64;
            assert!(per <= 56.0, "{n} entries: {per} B each");
            while t.expire(now + TWO_MSL, 1024) > 0 {}
            assert_eq!(t.len(), 0);
            assert_eq!(t.memory_bytes(), 0);
        }
    }

    #[test]
    fn dead_copies_are_compacted_under_restart_flood() {
        let mut t = TimeWaitTable::new(100, TWO_MSL, 1);
        let mut now = Instant::from_secs(1);
        for i in 0..50 {
            t.insert(now, entry(i)).unwrap();
        }
        for k in 0..100_000u32 {
            now += Duration::from_micros(10);
            let id = t.lookup(&tuple(k % 50)).unwrap();
            t.restart(now, id);
        }
        assert_eq!(t.len(), 50);
        assert!(t.memory_bytes() < 200 * 40, "{}", t.memory_bytes());
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8),
        Remove(u8),
        Restart(u8),
        Advance(u16),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => any::<u8>().prop_map(Op::Insert),
            1 => any::<u8>().prop_map(Op::Remove),
            1 => any::<u8>().prop_map(Op::Restart),
            2 => (0u16..600).prop_map(Op::Advance),
        ]
    }

    proptest! {
        /// The table agrees with a map of tuple -> expiry (in µs, exact ms semantics).
        #[test]
        fn matches_a_model(ops in proptest::collection::vec(op(), 1..400), budget in 1usize..8) {
            let two_msl = Duration::from_millis(1000);
            let mut t = TimeWaitTable::new(200, two_msl, 9);
            let mut model: HashMap<u32, u64> = HashMap::new();
            let mut now = Instant::from_millis(1 << 33);
            let exp = |now: Instant| (now.as_micros() + 1_000_000).div_ceil(1000);
            for o in ops {
                match o {
                    Op::Insert(k) => {
                        let k = k as u32;
                        let r = t.insert(now, entry(k));
                        match model.entry(k) {
                            std::collections::hash_map::Entry::Occupied(_) => {
                                prop_assert_eq!(r, Err(TwInsertError::Duplicate));
                            }
                            std::collections::hash_map::Entry::Vacant(v) => {
                                prop_assert_eq!(r, Ok(()));
                                v.insert(exp(now));
                            }
                        }
                    }
                    Op::Remove(k) => {
                        let k = k as u32;
                        match t.lookup(&tuple(k)) {
                            Some(id) => {
                                prop_assert!(model.remove(&k).is_some());
                                prop_assert_eq!(t.remove(id).map(|e| e.tuple), Some(tuple(k)));
                            }
                            None => prop_assert!(!model.contains_key(&k)),
                        }
                    }
                    Op::Restart(k) => {
                        let k = k as u32;
                        if let Some(id) = t.lookup(&tuple(k)) {
                            t.restart(now, id);
                            model.insert(k, exp(now));
                        }
                    }
                    Op::Advance(ms) => {
                        now += Duration::from_micros(ms as u64 * 1000 + 1);
                        // Drain with the small budget, as repeated polls would.
                        loop {
                            let before = t.len();
                            t.expire(now, budget);
                            if t.next_expiry().is_none_or(|at| at > now) {
                                break;
                            }
                            prop_assert!(t.len() <= before);
                        }
                        let now_ms = now.as_millis();
                        model.retain(|_, e| *e > now_ms);
                    }
                }
                prop_assert_eq!(t.len(), model.len());
                for k in 0..256u32 {
                    let found = t.lookup(&tuple(k));
                    prop_assert_eq!(found.is_some(), model.contains_key(&k), "key {}", k);
                    if let Some(id) = found {
                        let e = t.get(id).unwrap();
                        prop_assert_eq!(e.expiry as u64, model[&k] & 0xffff_ffff);
                        prop_assert_eq!(e.snd_nxt, SeqNum(k));
                    }
                }
                if let Some(min) = model.values().min() {
                    prop_assert_eq!(t.next_expiry(), Some(Instant::from_millis(*min)));
                } else {
                    prop_assert_eq!(t.next_expiry(), None);
                }
            }
        }
    }
}
