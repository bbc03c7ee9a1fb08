//! Connection table: a slab of slots indexed by a keyed hash of the 4-tuple. O(1) lookup,
//! insert and remove regardless of size; the hash key is secret so a peer cannot flood one bucket.
//!
//! Structure:
//! - Slab: `Vec<Slot<V>>` with a free list threaded through the free slots, so ids stay stable
//!   and removal never moves other entries. Each slot carries a generation; a [`SlotId`] whose
//!   generation no longer matches refers to a removed entry and fails every accessor.
//! - Index: open addressing with linear probing and Robin Hood displacement, one `u64` per bucket
//!   packing the slot's 32-bit hash (high half) with its slab index + 1 (low half; 0 = empty).
//!   The stored hash filters almost every non-matching probe without touching the slab, lets
//!   Robin Hood compute probe distances and lets a resize rehash without reading keys. Removal
//!   uses backward-shift deletion, so there are no tombstones and probe lengths never degrade.
//!   Load stays at or below 7/8; Robin Hood keeps both hits and misses to a few probes there.
//! - Hash: a keyed folded multiply (wyhash/foldhash style) of the 12 tuple bytes, with four
//!   64-bit keys expanded from `seed` by SipHash-1-3. Two 64x64->128 multiplies, a few ns, versus
//!   ~15 ns for SipHash on every packet; without the keys a peer cannot aim tuples at one chain.
//!
//! Growth: both the slab and the index grow by doubling (amortised O(1)), never beyond what the
//! hard capacity needs, so a table with the default capacity of 2^20 costs little until used.

use crate::flow::FourTuple;
use core::hash::Hasher;
use siphasher::sip::SipHasher13;

/// Stable handle to a slot. The generation makes handles to removed entries fail lookups.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SlotId {
    pub index: u32,
    pub generation: u32,
}

enum State<V> {
    Live(V),
    /// Next free slot, or `NIL`.
    Free(u32),
}

struct Slot<V> {
    generation: u32,
    key: FourTuple,
    state: State<V>,
}

const NIL: u32 = u32::MAX;
const EMPTY: u64 = 0;
const INITIAL_BUCKETS: usize = 16;
/// Keeps slab indices + 1 inside a `u32` and the bucket count at or below 2^32, the reach of the
/// stored hash.
const MAX_CAPACITY: usize = 1 << 31;

#[inline]
fn folded_mul(x: u64, y: u64) -> u64 {
    let p = (x as u128) * (y as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline]
fn pack(hash: u32, index: u32) -> u64 {
    ((hash as u64) << 32) | (index as u64 + 1)
}

#[inline]
fn bucket_hash(b: u64) -> u32 {
    (b >> 32) as u32
}

#[inline]
fn bucket_index(b: u64) -> u32 {
    (b as u32).wrapping_sub(1)
}

/// The four 64-bit keys of [`tuple_hash`], expanded from `seed` by SipHash-1-3.
pub(crate) fn tuple_hash_keys(seed: u64) -> [u64; 4] {
    let mut keys = [0u64; 4];
    for (i, k) in keys.iter_mut().enumerate() {
        let mut h = SipHasher13::new_with_keys(seed, 0x7463_7074_6572_6d00);
        h.write_u64(i as u64);
        *k = h.finish();
    }
    // An even final multiplier would discard entropy from the low bits, zero would map
    // every tuple to one bucket.
    keys[3] |= 1;
    keys
}

/// Keyed folded-multiply hash of a 4-tuple (shared by the connection and TIME_WAIT tables).
#[inline]
pub(crate) fn tuple_hash(keys: &[u64; 4], key: &FourTuple) -> u32 {
    // The words `to_bytes` would give read little-endian, built from the fields directly.
    let lip = key.local_ip.to_bits().swap_bytes() as u64;
    let rip = key.remote_ip.to_bits().swap_bytes() as u64;
    let ips = lip | (rip << 32);
    let ports =
        (key.local_port.swap_bytes() as u64) | ((key.remote_port.swap_bytes() as u64) << 16);
    let h = folded_mul(ips ^ keys[0], ports ^ keys[1]);
    let h = folded_mul(h ^ keys[2], keys[3]);
    (h ^ (h >> 32)) as u32
}

pub struct ConnTable<V> {
    slots: Vec<Slot<V>>,
    free_head: u32,
    len: usize,
    capacity: usize,
    index: Vec<u64>,
    mask: usize,
    max_buckets: usize,
    keys: [u64; 4],
}

impl<V> ConnTable<V> {
    /// `capacity` is a hard limit on entries; `seed` keys the hash.
    /// Capacities above 2^31 are clamped to 2^31.
    pub fn new(capacity: usize, seed: u64) -> Self {
        let capacity = capacity.min(MAX_CAPACITY);
        // Smallest power of two that holds `capacity` at load <= 7/8.
        let max_buckets = (capacity + capacity / 7 + 1)
            .next_power_of_two()
            .max(INITIAL_BUCKETS);
        let buckets = INITIAL_BUCKETS;
        let keys = tuple_hash_keys(seed);
        ConnTable {
            slots: Vec::new(),
            free_head: NIL,
            len: 0,
            capacity,
            index: vec![EMPTY; buckets],
            mask: buckets - 1,
            max_buckets,
            keys,
        }
    }

    #[inline]
    fn hash(&self, key: &FourTuple) -> u32 {
        tuple_hash(&self.keys, key)
    }

    /// How far bucket `pos` is from the home bucket of `hash`.
    #[inline]
    fn distance(&self, pos: usize, hash: u32) -> usize {
        pos.wrapping_sub(hash as usize) & self.mask
    }

    #[inline]
    fn find(&self, key: &FourTuple, hash: u32) -> Option<u32> {
        let mut pos = hash as usize & self.mask;
        let mut dist = 0;
        loop {
            let b = self.index[pos];
            if b == EMPTY {
                return None;
            }
            let bh = bucket_hash(b);
            // Robin Hood: the key would have displaced any resident nearer to its home.
            if self.distance(pos, bh) < dist {
                return None;
            }
            if bh == hash {
                let i = bucket_index(b);
                if let Some(slot) = self.slots.get(i as usize) {
                    if slot.key == *key {
                        return Some(i);
                    }
                }
            }
            pos = (pos + 1) & self.mask;
            dist += 1;
        }
    }

    /// Robin Hood insertion of a bucket value known to be absent; the caller ensures room.
    fn index_insert(index: &mut [u64], mask: usize, mut cur: u64) {
        let mut pos = bucket_hash(cur) as usize & mask;
        let mut dist = 0;
        loop {
            let b = index[pos];
            if b == EMPTY {
                index[pos] = cur;
                return;
            }
            let bd = pos.wrapping_sub(bucket_hash(b) as usize) & mask;
            if bd < dist {
                index[pos] = cur;
                cur = b;
                dist = bd;
            }
            pos = (pos + 1) & mask;
            dist += 1;
        }
    }

    fn grow_index(&mut self) {
        let buckets = self.index.len() * 2;
        let mask = buckets - 1;
        let mut index = vec![EMPTY; buckets];
        for &b in &self.index {
            if b != EMPTY {
                Self::index_insert(&mut index, mask, b);
            }
        }
        self.index = index;
        self.mask = mask;
    }

    /// Fails (giving the value back) when full or when `key` is already present.
    pub fn insert(&mut self, key: FourTuple, value: V) -> Result<SlotId, V> {
        if self.len >= self.capacity {
            return Err(value);
        }
        let hash = self.hash(&key);
        if self.find(&key, hash).is_some() {
            return Err(value);
        }
        if (self.len + 1) * 8 > self.index.len() * 7 && self.index.len() < self.max_buckets {
            self.grow_index();
        }
        let index = if self.free_head != NIL {
            let i = self.free_head;
            let slot = &mut self.slots[i as usize];
            self.free_head = match slot.state {
                State::Free(next) => next,
                State::Live(_) => NIL, // unreachable: only free slots are on the list
            };
            slot.key = key;
            slot.state = State::Live(value);
            i
        } else {
            if self.slots.len() == self.slots.capacity() {
                // Double, but never past the hard capacity.
                let extra = self
                    .slots
                    .len()
                    .max(4)
                    .min(self.capacity - self.slots.len());
                self.slots.reserve_exact(extra);
            }
            let i = self.slots.len() as u32;
            self.slots.push(Slot {
                generation: 0,
                key,
                state: State::Live(value),
            });
            i
        };
        Self::index_insert(&mut self.index, self.mask, pack(hash, index));
        self.len += 1;
        Ok(SlotId {
            index,
            generation: self.slots[index as usize].generation,
        })
    }

    pub fn lookup(&self, key: &FourTuple) -> Option<SlotId> {
        let i = self.find(key, self.hash(key))?;
        Some(SlotId {
            index: i,
            generation: self.slots[i as usize].generation,
        })
    }

    #[inline]
    fn live(&self, id: SlotId) -> Option<&Slot<V>> {
        let slot = self.slots.get(id.index as usize)?;
        match slot.state {
            State::Live(_) if slot.generation == id.generation => Some(slot),
            _ => None,
        }
    }

    pub fn get(&self, id: SlotId) -> Option<&V> {
        match &self.live(id)?.state {
            State::Live(v) => Some(v),
            State::Free(_) => None,
        }
    }

    pub fn get_mut(&mut self, id: SlotId) -> Option<&mut V> {
        let slot = self.slots.get_mut(id.index as usize)?;
        match &mut slot.state {
            State::Live(v) if slot.generation == id.generation => Some(v),
            _ => None,
        }
    }

    /// The key stored with `id`.
    pub fn key(&self, id: SlotId) -> Option<&FourTuple> {
        Some(&self.live(id)?.key)
    }

    pub fn remove(&mut self, id: SlotId) -> Option<(FourTuple, V)> {
        let key = self.unindex(id)?;
        let slot = &mut self.slots[id.index as usize];
        let state = core::mem::replace(&mut slot.state, State::Free(self.free_head));
        self.free_head = id.index;
        match state {
            State::Live(v) => Some((key, v)),
            State::Free(_) => None, // unreachable: checked live by unindex
        }
    }

    /// Removes the entry like `remove`, but lets `f` use the value where it lies and drops it
    /// there: a large value (a connection slot) is never copied out.
    #[inline]
    pub fn remove_with<R>(
        &mut self,
        id: SlotId,
        f: impl FnOnce(&FourTuple, &mut V) -> R,
    ) -> Option<R> {
        let key = self.unindex(id)?;
        let slot = &mut self.slots[id.index as usize];
        let r = match &mut slot.state {
            State::Live(v) => f(&key, v),
            State::Free(_) => return None, // unreachable: checked live by unindex
        };
        slot.state = State::Free(self.free_head);
        self.free_head = id.index;
        Some(r)
    }

    /// Takes a live entry out of the index and bumps its generation; returns its key. The slot
    /// itself is left for the caller to free.
    fn unindex(&mut self, id: SlotId) -> Option<FourTuple> {
        let key = self.live(id)?.key;
        let hash = self.hash(&key);
        let target = pack(hash, id.index);
        let mut pos = hash as usize & self.mask;
        // A live slot is always indexed, so this stops; the length bound is belt and braces.
        let mut probes = 0;
        while self.index[pos] != target {
            pos = (pos + 1) & self.mask;
            probes += 1;
            if probes > self.mask {
                return None;
            }
        }
        // Backward-shift deletion: pull each displaced follower one step nearer its home.
        loop {
            let next = (pos + 1) & self.mask;
            let b = self.index[next];
            if b == EMPTY || self.distance(next, bucket_hash(b)) == 0 {
                self.index[pos] = EMPTY;
                break;
            }
            self.index[pos] = b;
            pos = next;
        }
        let slot = &mut self.slots[id.index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        self.len -= 1;
        Some(key)
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes currently held by the slab and the index (allocated, not just used).
    pub fn memory_bytes(&self) -> usize {
        self.slots.capacity() * core::mem::size_of::<Slot<V>>()
            + self.index.capacity() * core::mem::size_of::<u64>()
    }

    /// All live entries (order unspecified).
    pub fn iter(&self) -> impl Iterator<Item = (SlotId, &FourTuple, &V)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| match &slot.state {
                State::Live(v) => Some((
                    SlotId {
                        index: i as u32,
                        generation: slot.generation,
                    },
                    &slot.key,
                    v,
                )),
                State::Free(_) => None,
            })
    }

    /// Ids of all live entries, for callers that must mutate while walking.
    pub fn ids(&self) -> Vec<SlotId> {
        self.iter().map(|(id, _, _)| id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The field-wise hash input equals the documented one: the tuple's 12 bytes read as
    /// little-endian words.
    #[test]
    fn hash_input_is_the_tuple_bytes() {
        let t: ConnTable<()> = ConnTable::new(16, 7);
        let k = FourTuple {
            local_ip: core::net::Ipv4Addr::new(198, 18, 0, 1),
            local_port: 0x1234,
            remote_ip: core::net::Ipv4Addr::new(10, 9, 8, 7),
            remote_port: 0xabcd,
        };
        let b = k.to_bytes();
        let ips = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
        let ports = u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as u64;
        let h = folded_mul(ips ^ t.keys[0], ports ^ t.keys[1]);
        let h = folded_mul(h ^ t.keys[2], t.keys[3]);
        assert_eq!(t.hash(&k), (h ^ (h >> 32)) as u32);
    }
    use core::net::Ipv4Addr;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn tuple(n: u32) -> FourTuple {
        FourTuple {
            local_ip: Ipv4Addr::new(10, 0, 0, 1),
            local_port: 80,
            remote_ip: Ipv4Addr::from(0x0a00_0000 | (n >> 16)),
            remote_port: n as u16,
        }
    }

    #[test]
    fn insert_lookup_get_remove() {
        let mut t = ConnTable::new(100, 1);
        assert!(t.is_empty());
        let a = t.insert(tuple(1), "a").unwrap();
        let b = t.insert(tuple(2), "b").unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.lookup(&tuple(1)), Some(a));
        assert_eq!(t.lookup(&tuple(2)), Some(b));
        assert_eq!(t.lookup(&tuple(3)), None);
        assert_eq!(t.get(a), Some(&"a"));
        *t.get_mut(b).unwrap() = "B";
        assert_eq!(t.get(b), Some(&"B"));
        assert_eq!(t.key(a), Some(&tuple(1)));
        assert_eq!(t.remove(a), Some((tuple(1), "a")));
        assert_eq!(t.lookup(&tuple(1)), None);
        assert_eq!(t.lookup(&tuple(2)), Some(b));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn duplicate_key_is_rejected_with_value_returned() {
        let mut t = ConnTable::new(100, 1);
        let a = t.insert(tuple(7), 1u32).unwrap();
        assert_eq!(t.insert(tuple(7), 2), Err(2));
        assert_eq!(t.get(a), Some(&1));
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn capacity_is_a_hard_limit() {
        let mut t = ConnTable::new(3, 9);
        assert_eq!(t.capacity(), 3);
        let ids: Vec<_> = (0..3).map(|i| t.insert(tuple(i), i).unwrap()).collect();
        assert_eq!(t.insert(tuple(3), 3), Err(3));
        assert_eq!(t.lookup(&tuple(3)), None);
        t.remove(ids[1]).unwrap();
        assert!(t.insert(tuple(3), 3).is_ok());
        assert_eq!(t.len(), 3);
        assert!(t.slots.len() <= 3, "slab never exceeds the hard capacity");
        let mut z = ConnTable::new(0, 9);
        assert_eq!(z.insert(tuple(0), 0), Err(0));
    }

    #[test]
    fn stale_ids_fail_after_remove_and_reuse() {
        let mut t = ConnTable::new(10, 5);
        let a = t.insert(tuple(1), 1u32).unwrap();
        t.remove(a).unwrap();
        assert_eq!(t.get(a), None);
        assert_eq!(t.get_mut(a), None);
        assert_eq!(t.key(a), None);
        assert_eq!(t.remove(a), None);
        let b = t.insert(tuple(2), 2).unwrap();
        assert_eq!(b.index, a.index, "free list reuses the slot");
        assert_ne!(b.generation, a.generation);
        assert_eq!(t.get(a), None);
        assert_eq!(t.remove(a), None);
        assert_eq!(t.get(b), Some(&2));
        let bogus = SlotId {
            index: 999,
            generation: 0,
        };
        assert_eq!(t.get(bogus), None);
        assert_eq!(t.remove(bogus), None);
    }

    #[test]
    fn hash_depends_on_seed() {
        let a = ConnTable::<()>::new(16, 1);
        let b = ConnTable::<()>::new(16, 2);
        let differ = (0..64)
            .filter(|&i| a.hash(&tuple(i)) != b.hash(&tuple(i)))
            .count();
        assert!(
            differ >= 60,
            "only {differ} of 64 hashes changed with the seed"
        );
    }

    #[test]
    fn hash_spreads_sequential_ports() {
        // Low bits pick the home bucket: sequential ports must not cluster in 1024 buckets.
        let t = ConnTable::<()>::new(16, 3);
        let mut seen = vec![0u32; 1024];
        for i in 0..4096 {
            seen[(t.hash(&tuple(i)) & 1023) as usize] += 1;
        }
        let max = *seen.iter().max().unwrap();
        assert!(max <= 16, "a bucket got {max} of 4096 (mean 4)");
    }

    #[test]
    fn iter_and_ids_list_live_entries() {
        let mut t = ConnTable::new(10, 5);
        let ids: Vec<_> = (0..5).map(|i| t.insert(tuple(i), i).unwrap()).collect();
        t.remove(ids[2]).unwrap();
        let mut got: Vec<_> = t.iter().map(|(id, k, v)| (id, *k, *v)).collect();
        got.sort_by_key(|e| e.2);
        let want: Vec<_> = [0, 1, 3, 4]
            .iter()
            .map(|&i| (ids[i as usize], tuple(i), i))
            .collect();
        assert_eq!(got, want);
        let mut all = t.ids();
        all.sort_by_key(|id| id.index);
        assert_eq!(all, vec![ids[0], ids[1], ids[3], ids[4]]);
    }

    #[test]
    fn slot_overhead_is_small() {
        // generation 4 + key 12 + enum tag padded to V's alignment.
        assert_eq!(core::mem::size_of::<Slot<u64>>(), 32);
        assert_eq!(core::mem::size_of::<Slot<[u64; 8]>>(), 88);
    }

    #[test]
    fn does_not_preallocate_huge_capacity() {
        let t = ConnTable::<[u8; 256]>::new(1 << 20, 0);
        assert!(
            t.memory_bytes() <= 1024,
            "{} bytes up front",
            t.memory_bytes()
        );
    }

    #[test]
    fn million_entries() {
        const N: u32 = 1_000_000;
        let mut t = ConnTable::new(1 << 20, 0xdead_beef);
        let ids: Vec<_> = (0..N).map(|i| t.insert(tuple(i), i).unwrap()).collect();
        assert_eq!(t.len(), N as usize);
        for i in 0..N {
            assert_eq!(t.lookup(&tuple(i)), Some(ids[i as usize]));
            assert_eq!(t.get(ids[i as usize]), Some(&i));
        }
        let index_bytes = t.index.len() * 8;
        assert!(index_bytes <= 16 * (1 << 20), "index {index_bytes} B");
        for i in (0..N).step_by(2) {
            assert_eq!(t.remove(ids[i as usize]), Some((tuple(i), i)));
        }
        for i in 0..N {
            let hit = t.lookup(&tuple(i));
            assert_eq!(hit.is_some(), i % 2 == 1, "tuple {i}");
        }
        for i in (0..N).step_by(2) {
            t.insert(tuple(i), i + 1).unwrap();
        }
        assert_eq!(t.len(), N as usize);
        for i in 0..N {
            let id = t.lookup(&tuple(i)).unwrap();
            assert_eq!(*t.get(id).unwrap(), if i % 2 == 0 { i + 1 } else { i });
        }
        assert_eq!(t.slots.len(), N as usize, "removed slots were reused");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u32, u32),
        Lookup(u32),
        RemoveKey(u32),
        RemoveStale(usize),
        GetMut(u32, u32),
    }

    fn op(keys: u32) -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::Insert(k, v)),
            2 => (0..keys).prop_map(Op::Lookup),
            3 => (0..keys).prop_map(Op::RemoveKey),
            1 => any::<usize>().prop_map(Op::RemoveStale),
            1 => (0..keys, any::<u32>()).prop_map(|(k, v)| Op::GetMut(k, v)),
        ]
    }

    proptest! {
        #[test]
        fn matches_hashmap_model(
            seed in any::<u64>(),
            capacity in prop_oneof![1usize..40, Just(1usize << 20)],
            ops in (1u32..200).prop_flat_map(|keys| proptest::collection::vec(op(keys), 1..400)),
        ) {
            let mut t = ConnTable::new(capacity, seed);
            let mut model: HashMap<FourTuple, (SlotId, u32)> = HashMap::new();
            let mut dead: Vec<SlotId> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        let key = tuple(k.wrapping_mul(2_654_435_761));
                        let r = t.insert(key, v);
                        if model.contains_key(&key) || model.len() >= capacity {
                            prop_assert_eq!(r, Err(v));
                        } else {
                            let id = r.unwrap();
                            model.insert(key, (id, v));
                        }
                    }
                    Op::Lookup(k) => {
                        let key = tuple(k.wrapping_mul(2_654_435_761));
                        let want = model.get(&key).map(|e| e.0);
                        prop_assert_eq!(t.lookup(&key), want);
                        if let Some((id, v)) = model.get(&key) {
                            prop_assert_eq!(t.get(*id), Some(v));
                            prop_assert_eq!(t.key(*id), Some(&key));
                        }
                    }
                    Op::RemoveKey(k) => {
                        let key = tuple(k.wrapping_mul(2_654_435_761));
                        match model.remove(&key) {
                            Some((id, v)) => {
                                prop_assert_eq!(t.remove(id), Some((key, v)));
                                dead.push(id);
                            }
                            None => prop_assert_eq!(t.lookup(&key), None),
                        }
                    }
                    Op::RemoveStale(i) => {
                        if !dead.is_empty() {
                            let id = dead[i % dead.len()];
                            prop_assert_eq!(t.get(id), None);
                            prop_assert!(t.remove(id).is_none());
                        }
                    }
                    Op::GetMut(k, v) => {
                        let key = tuple(k.wrapping_mul(2_654_435_761));
                        if let Some(e) = model.get_mut(&key) {
                            *t.get_mut(e.0).unwrap() = v;
                            e.1 = v;
                        }
                    }
                }
                prop_assert_eq!(t.len(), model.len());
            }
            let mut live: Vec<_> = t.iter().map(|(id, k, v)| (id, *k, *v)).collect();
            let mut want: Vec<_> = model.iter().map(|(k, (id, v))| (*id, *k, *v)).collect();
            live.sort_by_key(|e| e.0.index);
            want.sort_by_key(|e| e.0.index);
            prop_assert_eq!(live, want);
        }
    }
}
