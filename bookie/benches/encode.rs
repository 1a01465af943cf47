//! Record encoding and batch framing: `encode_records`, `frame_batch` and `decode_batch`
//! (which verifies the CRC32C) for a batch of 100 records of 1 KiB, with and without zstd.
//!
//! Run: `cargo bench -p silt-bookie --bench encode`. Throughput is in uncompressed record
//! bytes. Record results in `bench/RESULTS.md` with command, commit and machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use silt_bookie::batch::{BatchInfo, Compression, decode_batch, encode_records, frame_batch};
use silt_bookie::record::{Payload, Record};

const RECORDS: usize = 100;
const VALUE_BYTES: usize = 1024;

/// `count` records of `VALUE_BYTES` of JSON-like text: compressible, but not trivially.
fn records(count: usize) -> Vec<Record> {
    (0..count)
        .map(|index| {
            let mut value = Vec::with_capacity(VALUE_BYTES);
            let mut state = index as u64 * 0x9E37_79B9_7F4A_7C15 + 1;
            while value.len() < VALUE_BYTES {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                value.extend_from_slice(
                    format!("{{\"user\":{},\"event\":\"click\"}}", state % 100_000).as_bytes(),
                );
            }
            value.truncate(VALUE_BYTES);
            Record {
                timestamp_ms: 1_700_000_000_000 + index as i64,
                key: Some(Payload::bytes(format!("key-{}", index % 64).into_bytes())),
                value: Payload::bytes(value),
                headers: vec![("source".to_owned(), "bench".to_owned())],
            }
        })
        .collect()
}

fn bench_encode(c: &mut Criterion) {
    let records = records(RECORDS);
    let mut payload = Vec::new();
    encode_records(&records, &mut payload);
    let info = BatchInfo::of(&records);

    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Bytes(payload.len() as u64));
    group.bench_function("encode_records/100x1KiB", |b| {
        let mut out = Vec::with_capacity(payload.len());
        b.iter(|| {
            out.clear();
            encode_records(black_box(&records), &mut out);
            black_box(out.len())
        });
    });
    for compression in [Compression::None, Compression::Zstd] {
        group.bench_function(format!("frame_batch/{compression}"), |b| {
            let mut out = Vec::with_capacity(payload.len() + 64);
            b.iter(|| {
                out.clear();
                frame_batch(black_box(&payload), &info, compression, &mut out).unwrap();
                black_box(out.len())
            });
        });
        let mut framed = Vec::new();
        frame_batch(&payload, &info, compression, &mut framed).unwrap();
        group.bench_function(format!("decode_batch/{compression}"), |b| {
            b.iter(|| decode_batch(black_box(&framed)).unwrap().len());
        });
    }
    group.finish();
}

criterion_group!(benches, bench_encode);
criterion_main!(benches);
