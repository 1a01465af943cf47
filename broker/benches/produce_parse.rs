//! Produce-request parsing: the broker's borrowed parse (`ProduceBody` through its
//! record-limited `BodySeed`, raw JSON values
//! sliced from the body) against a full `serde_json::Value` parse of the same body (the
//! SDK's wire type), for 500 records of 1 KiB JSON strings and of 1 KiB base64 bytes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::de::DeserializeSeed;
use serde_json::json;
use silt_broker::{BodySeed, ProduceBody};
use silt_sdk::wire::ProduceRequest;

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

fn parse(c: &mut Criterion) {
    for (name, base64) in [("json_1KiB_x500", false), ("b64_1KiB_x500", true)] {
        let bytes = body(500, base64);
        let mut group = c.benchmark_group(format!("produce_parse/{name}"));
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function("broker_borrowed", |b| {
            b.iter(|| {
                let over_limit = Cell::new(false);
                let seed = BodySeed {
                    max_records: 10_000,
                    over_limit: &over_limit,
                };
                let mut input = serde_json::Deserializer::from_slice(std::hint::black_box(&bytes));
                let parsed: ProduceBody<'_> = seed
                    .deserialize(&mut input)
                    .unwrap_or_else(|_| unreachable!());
                std::hint::black_box(parsed.records.len())
            })
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
