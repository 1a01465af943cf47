//! proptest generators shared by the crate's tests.

use bytes::Bytes;
use proptest::prelude::*;

use crate::record::{Payload, PayloadKind, Record};

/// Any payload (JSON payloads are arbitrary text: the format does not validate JSON).
pub(crate) fn arb_payload() -> impl Strategy<Value = Payload> {
    (any::<bool>(), prop::collection::vec(any::<u8>(), 0..64)).prop_map(|(json, data)| Payload {
        kind: if json {
            PayloadKind::Json
        } else {
            PayloadKind::Bytes
        },
        data: Bytes::from(data),
    })
}

/// Any record.
pub(crate) fn arb_record() -> impl Strategy<Value = Record> {
    (
        any::<i64>(),
        prop::option::of(arb_payload()),
        arb_payload(),
        prop::collection::vec((".{0,8}", ".{0,8}"), 0..3),
    )
        .prop_map(|(timestamp_ms, key, value, headers)| Record {
            timestamp_ms,
            key,
            value,
            headers,
        })
}

/// Up to `max` records (at least one).
pub(crate) fn arb_records(max: usize) -> impl Strategy<Value = Vec<Record>> {
    prop::collection::vec(arb_record(), 1..=max)
}
