//! [`ChunkCache`]: a byte-bounded LRU of chunk bytes keyed by `(object path, position)`.
//!
//! Invariants: the sum of cached chunk lengths never exceeds the capacity (a chunk larger
//! than the capacity is not cached); `get` refreshes recency; eviction drops the least
//! recently used entries first. Chunks are immutable once committed, so entries never go
//! stale. One mutex guards the map; critical sections are O(log n).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use bytes::Bytes;

type Key = (String, u64);

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, (Bytes, u64)>,
    /// Recency tick → key; the smallest tick is the least recently used.
    order: BTreeMap<u64, Key>,
    next_tick: u64,
    used_bytes: usize,
}

/// Byte-bounded LRU cache of chunk bytes.
#[derive(Debug)]
pub struct ChunkCache {
    capacity_bytes: usize,
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
}

/// Counters of a [`ChunkCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkCacheStats {
    /// Lookups that found the chunk.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Entries evicted to make room.
    pub evictions: u64,
    /// Entries currently cached.
    pub entries: usize,
    /// Bytes currently cached.
    pub used_bytes: usize,
}

impl ChunkCache {
    /// A cache holding at most `capacity_bytes` of chunk bytes.
    pub fn new(capacity_bytes: usize) -> Self {
        Self {
            capacity_bytes,
            inner: Mutex::new(Inner::default()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
        }
    }

    /// The capacity in bytes.
    pub fn capacity_bytes(&self) -> usize {
        self.capacity_bytes
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The map stays consistent between statements, so a poisoned lock is still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The chunk at `position` of `object`, refreshing its recency.
    pub fn get(&self, object: &str, position: u64) -> Option<Bytes> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let key = (object.to_owned(), position);
        let found = match inner.entries.get_mut(&key) {
            Some((bytes, tick)) => {
                inner.order.remove(tick);
                *tick = inner.next_tick;
                inner.order.insert(inner.next_tick, key);
                inner.next_tick += 1;
                Some(bytes.clone())
            }
            None => None,
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// The chunk at `position` of `object`, without refreshing its recency or counting a
    /// hit or miss (for the reader's own bookkeeping: prefetch checks, coalescing).
    pub fn peek(&self, object: &str, position: u64) -> Option<Bytes> {
        let inner = self.lock();
        inner
            .entries
            .get(&(object.to_owned(), position))
            .map(|(bytes, _)| bytes.clone())
    }

    /// Caches a chunk, evicting least recently used entries to stay within capacity.
    pub fn insert(&self, object: &str, position: u64, bytes: Bytes) {
        if bytes.len() > self.capacity_bytes {
            return;
        }
        let mut inner = self.lock();
        let inner = &mut *inner;
        let key = (object.to_owned(), position);
        if let Some((old, tick)) = inner.entries.remove(&key) {
            inner.order.remove(&tick);
            inner.used_bytes -= old.len();
        }
        while inner.used_bytes + bytes.len() > self.capacity_bytes {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            if let Some((evicted, _)) = inner.entries.remove(&oldest) {
                inner.used_bytes -= evicted.len();
                self.evictions.fetch_add(1, Ordering::Relaxed);
            }
        }
        inner.used_bytes += bytes.len();
        let tick = inner.next_tick;
        inner.next_tick += 1;
        inner.order.insert(tick, key.clone());
        inner.entries.insert(key, (bytes, tick));
    }

    /// Counters and occupancy.
    pub fn stats(&self) -> ChunkCacheStats {
        let inner = self.lock();
        ChunkCacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            entries: inner.entries.len(),
            used_bytes: inner.used_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(len: usize) -> Bytes {
        Bytes::from(vec![7u8; len])
    }

    #[test]
    fn evicts_least_recently_used_by_bytes() {
        let cache = ChunkCache::new(100);
        cache.insert("a", 0, chunk(40));
        cache.insert("a", 40, chunk(40));
        assert!(cache.get("a", 0).is_some()); // "a"@0 is now the most recent
        cache.insert("b", 0, chunk(40)); // evicts "a"@40
        assert!(cache.get("a", 40).is_none());
        assert!(cache.get("a", 0).is_some());
        assert!(cache.get("b", 0).is_some());
        let stats = cache.stats();
        assert_eq!(stats.used_bytes, 80);
        assert_eq!(stats.entries, 2);
        assert_eq!(stats.evictions, 1);
        assert_eq!((stats.hits, stats.misses), (3, 1));
        // `peek` neither counts nor refreshes.
        assert!(cache.peek("a", 0).is_some());
        assert!(cache.peek("a", 40).is_none());
        assert_eq!((cache.stats().hits, cache.stats().misses), (3, 1));
    }

    #[test]
    fn oversized_chunks_are_not_cached_and_replacing_keeps_accounting() {
        let cache = ChunkCache::new(100);
        cache.insert("big", 0, chunk(101));
        assert!(cache.get("big", 0).is_none());
        cache.insert("x", 0, chunk(60));
        cache.insert("x", 0, chunk(30));
        assert_eq!(cache.stats().used_bytes, 30);
        cache.insert("y", 0, chunk(70));
        assert_eq!(cache.stats().used_bytes, 100);
        assert_eq!(cache.stats().evictions, 0);
    }
}
