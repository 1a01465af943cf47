//! The content digest of an idempotent produce request: what makes a retry a retry. Two
//! requests under one producer tag are the same request only if they write the same topic
//! and the same records in the same order, each with the same partition choice, key, value,
//! headers and client-given timestamp. A timestamp the broker stamped (the client sent
//! none) is left out: a retry is stamped again, later.
//!
//! 64-bit FNV-1a over a length-prefixed encoding of those fields: cheap, dependency-free
//! and stable across brokers and versions (the metadata state stores it), so it must never
//! change. It guards against a client's mistake, not an adversary.

use silt_bookie::record::{Payload, PayloadKind};

use crate::write::request::InputRecord;

/// FNV-1a's 64-bit offset basis.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a's 64-bit prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// The digest of a request of `records` to the topic with id `topic_id`.
pub(crate) fn request_digest(topic_id: u64, records: &[InputRecord]) -> u64 {
    let mut digest = Fnv(OFFSET_BASIS);
    digest.number(topic_id);
    digest.number(records.len() as u64);
    records.iter().for_each(|record| digest.record(record));
    digest.0
}

/// A running FNV-1a hash.
struct Fnv(u64);

impl Fnv {
    /// Mixes in raw bytes.
    fn bytes(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(PRIME);
        }
    }

    /// Mixes in a number (little-endian, fixed width).
    fn number(&mut self, value: u64) {
        self.bytes(&value.to_le_bytes());
    }

    /// Mixes in an optional number: a presence mark, then the number if present.
    fn optional(&mut self, value: Option<u64>) {
        self.number(u64::from(value.is_some()));
        value.into_iter().for_each(|value| self.number(value));
    }

    /// Mixes in a length-prefixed byte string, so field boundaries cannot shift.
    fn field(&mut self, bytes: &[u8]) {
        self.number(bytes.len() as u64);
        self.bytes(bytes);
    }

    /// Mixes in one record: named partition, client timestamp, key, value, headers.
    fn record(&mut self, input: &InputRecord) {
        let record = &input.record;
        self.optional(input.partition.map(u64::from));
        let given = input.timestamp_given.then_some(record.timestamp_ms as u64);
        self.optional(given);
        self.number(u64::from(record.key.is_some()));
        record.key.iter().for_each(|key| self.payload(key));
        self.payload(&record.value);
        self.number(record.headers.len() as u64);
        for (name, value) in &record.headers {
            self.field(name.as_bytes());
            self.field(value.as_bytes());
        }
    }

    /// Mixes in a payload: its kind and its bytes.
    fn payload(&mut self, payload: &Payload) {
        self.number(u64::from(payload.kind == PayloadKind::Json));
        self.field(&payload.data);
    }
}

#[cfg(test)]
mod tests {
    use silt_bookie::record::Record;

    use super::*;

    fn input(value: &[u8], partition: Option<u32>) -> InputRecord {
        InputRecord {
            record: Record {
                timestamp_ms: 1,
                key: Some(Payload::bytes(b"k".to_vec())),
                value: Payload::bytes(value.to_vec()),
                headers: vec![],
            },
            hash_key: Some(b"k".to_vec()),
            partition,
            timestamp_given: true,
        }
    }

    #[test]
    fn equal_requests_agree_and_any_difference_shows() {
        let base = || vec![input(b"a", Some(0)), input(b"b", None)];
        let digest = |records: &[InputRecord]| request_digest(1, records);
        assert_eq!(digest(&base()), digest(&base()));
        assert_ne!(request_digest(2, &base()), digest(&base()));
        let mut partition = base();
        partition[0].partition = Some(1);
        let mut value = base();
        value[1].record.value = Payload::bytes(b"c".to_vec());
        let mut json = base();
        json[1].record.value = Payload::json(b"b".to_vec());
        let mut key = base();
        key[0].record.key = None;
        let mut timestamp = base();
        timestamp[1].record.timestamp_ms = 2;
        let mut header = base();
        header[0].record.headers.push(("h".into(), "v".into()));
        let fewer = vec![input(b"a", Some(0))];
        for other in [partition, value, json, key, timestamp, header, fewer] {
            assert_ne!(digest(&other), digest(&base()));
        }
    }

    #[test]
    fn a_timestamp_the_broker_stamped_is_left_out() {
        let stamped = |at| InputRecord {
            timestamp_given: false,
            record: Record {
                timestamp_ms: at,
                ..input(b"a", None).record
            },
            ..input(b"a", None)
        };
        assert_eq!(
            request_digest(1, &[stamped(5)]),
            request_digest(1, &[stamped(9)])
        );
    }
}
