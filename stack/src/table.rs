//! Connection table: a slab of slots indexed by a keyed hash of the 4-tuple. O(1) lookup,
//! insert and remove regardless of size; the hash key is secret so a peer cannot flood one bucket.

use crate::flow::FourTuple;

/// Stable handle to a slot. The generation makes handles to removed entries fail lookups.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SlotId {
    pub index: u32,
    pub generation: u32,
}

pub struct ConnTable<V> {
    _slots: Vec<V>,
}

impl<V> ConnTable<V> {
    /// `capacity` is a hard limit on entries; `seed` keys the hash.
    pub fn new(capacity: usize, seed: u64) -> Self {
        let _ = (capacity, seed);
        todo!("table helper")
    }
    /// Fails (giving the value back) when full or when `key` is already present.
    pub fn insert(&mut self, key: FourTuple, value: V) -> Result<SlotId, V> {
        let _ = (key, value);
        todo!("table helper")
    }
    pub fn lookup(&self, key: &FourTuple) -> Option<SlotId> {
        let _ = key;
        todo!("table helper")
    }
    pub fn get(&self, id: SlotId) -> Option<&V> {
        let _ = id;
        todo!("table helper")
    }
    pub fn get_mut(&mut self, id: SlotId) -> Option<&mut V> {
        let _ = id;
        todo!("table helper")
    }
    /// The key stored with `id`.
    pub fn key(&self, id: SlotId) -> Option<&FourTuple> {
        let _ = id;
        todo!("table helper")
    }
    pub fn remove(&mut self, id: SlotId) -> Option<(FourTuple, V)> {
        let _ = id;
        todo!("table helper")
    }
    pub fn len(&self) -> usize {
        todo!("table helper")
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn capacity(&self) -> usize {
        todo!("table helper")
    }
    /// All live entries (order unspecified).
    pub fn iter(&self) -> impl Iterator<Item = (SlotId, &FourTuple, &V)> + '_ {
        todo!("table helper");
        #[allow(unreachable_code)]
        core::iter::empty()
    }
    /// Ids of all live entries, for callers that must mutate while walking.
    pub fn ids(&self) -> Vec<SlotId> {
        todo!("table helper")
    }
}
