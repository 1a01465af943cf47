//! Segment building and parsing: `SegmentBuilder` append + finish of ~8 MiB of 1 KiB
//! records across 16 partitions (zstd off, so the cost is encoding, framing and CRC), then
//! `read_footer` and `read_segment` (every chunk verified and decoded) of that segment.
//!
//! Run: `cargo bench -p silt-bookie --bench segment`. Record results in
//! `bench/RESULTS.md` with command, commit and machine.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use silt_bookie::batch::Compression;
use silt_bookie::record::{Payload, Record};
use silt_bookie::segment::{SealedSegment, SegmentBuilder, read_footer, read_segment};

const PARTITIONS: u32 = 16;
const VALUE_BYTES: usize = 1024;
/// 8 MiB of values.
const RECORDS: usize = 8 * 1024;
/// Records per `append` (one produce request's worth).
const APPEND_RECORDS: usize = 32;

fn records() -> Vec<Record> {
    (0..RECORDS)
        .map(|index| Record {
            timestamp_ms: 1_700_000_000_000 + index as i64,
            key: None,
            value: Payload::bytes(vec![(index % 251) as u8; VALUE_BYTES]),
            headers: vec![],
        })
        .collect()
}

fn build(records: &[Record]) -> SealedSegment {
    let mut builder = SegmentBuilder::new();
    for (batch, appended) in records.chunks(APPEND_RECORDS).enumerate() {
        let partition = batch as u32 % PARTITIONS;
        builder.append(1, partition, Compression::None, None, appended);
    }
    builder.finish().unwrap()
}

fn bench_segment(c: &mut Criterion) {
    let records = records();
    let sealed = build(&records);
    assert_eq!(sealed.chunks.len(), PARTITIONS as usize);

    let mut group = c.benchmark_group("segment");
    group.sample_size(20);
    group.throughput(Throughput::Bytes(sealed.bytes.len() as u64));
    group.bench_function("build/8MiB/16_partitions", |b| {
        b.iter(|| build(black_box(&records)).bytes.len());
    });
    group.bench_function("read_footer/8MiB", |b| {
        b.iter(|| read_footer(black_box(&sealed.bytes)).unwrap().len());
    });
    group.bench_function("read_segment/8MiB", |b| {
        b.iter(|| read_segment(black_box(&sealed.bytes)).unwrap().len());
    });
    group.finish();
}

criterion_group!(benches, bench_segment);
criterion_main!(benches);
