//! The memory tier's hot paths: `ChunkCache` get (hit) and insert (with eviction), and a
//! `ChunkReader::read_chunk` answered from memory (driven by a current-thread tokio
//! runtime's `block_on`, whose small cost is included).
//!
//! Run: `cargo bench -p silt-bookie --bench cache`. Record results in `bench/RESULTS.md`
//! with command, commit and machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use silt_bookie::cache::{ChunkCache, ChunkReader};
use silt_bookie::store::ObjectStoreHandle;

const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks cached: 64 MiB.
const CHUNKS: u64 = 1024;
const OBJECT: &str = "segments/0a/01HZZZZZZZZZZZZZZZZZZZZZZZ.seg";

fn filled_cache() -> Arc<ChunkCache> {
    let cache = Arc::new(ChunkCache::new(CHUNK_BYTES * CHUNKS as usize));
    let chunk = Bytes::from(vec![7u8; CHUNK_BYTES]);
    for index in 0..CHUNKS {
        cache.insert(OBJECT, index * CHUNK_BYTES as u64, chunk.clone());
    }
    cache
}

fn bench_cache(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache");

    let cache = filled_cache();
    let mut index = 0u64;
    group.bench_function("chunk_cache/get_hit", |b| {
        b.iter(|| {
            index = (index + 1) % CHUNKS;
            cache
                .get(OBJECT, black_box(index * CHUNK_BYTES as u64))
                .unwrap()
        });
    });

    // Every insert is a new key into a full cache: one eviction each.
    let cache = filled_cache();
    let chunk = Bytes::from(vec![8u8; CHUNK_BYTES]);
    let mut next = CHUNKS;
    group.bench_function("chunk_cache/insert_evicting", |b| {
        b.iter(|| {
            next += 1;
            cache.insert(OBJECT, black_box(next * CHUNK_BYTES as u64), chunk.clone());
        });
    });

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let reader = ChunkReader::new(ObjectStoreHandle::in_memory(), filled_cache(), None);
    let length = CHUNK_BYTES as u32;
    let mut index = 0u64;
    group.bench_function("chunk_reader/memory_hit", |b| {
        b.iter(|| {
            index = (index + 1) % CHUNKS;
            runtime
                .block_on(reader.read_chunk(OBJECT, black_box(index * CHUNK_BYTES as u64), length))
                .unwrap()
        });
    });
    group.finish();
}

criterion_group!(benches, bench_cache);
criterion_main!(benches);
