//! Produce-request parsing: the broker's borrowed parse (`ProduceBody` through its
//! record-limited `BodySeed`, raw JSON values
//! sliced from the body) against a full `serde_json::Value` parse of the same body (the
//! SDK's wire type), for 500 records of 1 KiB JSON strings and of 1 KiB base64 bytes; and
//! the strict JSON check (`silt_sdk::wire::json_check`) the broker runs on every JSON key
//! and value, alone over the whole body and after the borrowed parse as produce runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::de::DeserializeSeed;
use serde_json::json;
use silt_broker::{BodySeed, ProduceBody};
use silt_sdk::wire::ProduceRequest;
use silt_sdk::wire::json_check;

fn body(records: usize, base64: bool) -> Vec<u8> {
    let value = "v".repeat(1024);
    let records: Vec<_> = (0..records)
        .map(|i| {
            if base64 {
                json!({"key": format!("user-{i}"), "value_b64": value.clone()})
            } else {
                json!({"key": format!("user-{i}"), "value": value.clone(), "headers": {"source": "bench"}})
            }
        })
        .collect();
    serde_json::to_vec(&json!({ "records": records })).unwrap_or_default()
}

/// Runs the strict check on every JSON key and value, as produce does; how many passed.
fn checked(body: &ProduceBody<'_>) -> usize {
    let raw = body
        .records
        .iter()
        .flat_map(|r| r.key.into_iter().chain(r.value));
    raw.filter(|v| json_check::check(v.get().as_bytes()).is_ok())
        .count()
}

/// The broker's bounded, borrowed parse of a produce body (as the handler runs it).
fn borrowed<'a>(bytes: &'a [u8], over_limit: &Cell<bool>) -> ProduceBody<'a> {
    let seed = BodySeed {
        max_records: 10_000,
        over_limit,
    };
    let mut input = serde_json::Deserializer::from_slice(bytes);
    seed.deserialize(&mut input)
        .unwrap_or_else(|_| unreachable!())
}

fn parse(c: &mut Criterion) {
    for (name, base64) in [("json_1KiB_x500", false), ("b64_1KiB_x500", true)] {
        let bytes = body(500, base64);
        let mut group = c.benchmark_group(format!("produce_parse/{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("broker_borrowed", |b| {
            b.iter(|| {
                let over_limit = Cell::new(false);
                let parsed = borrowed(std::hint::black_box(&bytes), &over_limit);
                std::hint::black_box(parsed.records.len())
            })
        });
        group.bench_function("broker_borrowed_strict", |b| {
            b.iter(|| {
                let over_limit = Cell::new(false);
                let parsed = borrowed(std::hint::black_box(&bytes), &over_limit);
                std::hint::black_box(checked(&parsed))
            })
        });
        group.bench_function("json_check_whole_body", |b| {
            b.iter(|| json_check::check(std::hint::black_box(&bytes)).is_ok())
        });
        group.bench_function("wire_value_tree", |b| {
            b.iter(|| {
                let parsed: ProduceRequest =
                    serde_json::from_slice(std::hint::black_box(&bytes)).unwrap_or_default();
                std::hint::black_box(parsed.records.len())
            })
        });
        group.finish();
    }
}

criterion_group!(benches, parse);
criterion_main!(benches);
