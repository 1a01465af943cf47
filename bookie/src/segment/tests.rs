//! Segment tests: builder, footer, fetch, flipped bytes, and the FORMAT.md test vector.

use std::path::PathBuf;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use proptest::prelude::*;

use super::*;
use crate::batch::Compression;
use crate::record::{Payload, Record};
use crate::store::ObjectStoreHandle;
use crate::testing::arb_records;

fn record(timestamp_ms: i64, value: &'static [u8]) -> Record {
    Record {
        timestamp_ms,
        key: None,
        value: Payload::bytes(value),
        headers: vec![],
    }
}

#[test]
fn builder_returns_offset_deltas_and_orders_chunks() {
    let mut builder = SegmentBuilder::new();
    assert!(builder.is_empty());
    assert_eq!(
        builder.append(2, 0, Compression::None, &[record(1, b"a"), record(2, b"b")]),
        0
    );
    assert_eq!(
        builder.append(1, 5, Compression::Zstd, &[record(3, b"c")]),
        0
    );
    assert_eq!(
        builder.append(2, 0, Compression::None, &[record(0, b"d")]),
        2
    );
    assert_eq!(builder.append(1, 5, Compression::Zstd, &[]), 1);
    assert_eq!(builder.record_count(), 4);
    assert!(builder.staged_bytes() >= 4 * 4);
    let sealed = builder.finish().unwrap();
    let keys: Vec<_> = sealed
        .chunks
        .iter()
        .map(|c| (c.topic_id, c.partition))
        .collect();
    assert_eq!(keys, vec![(1, 5), (2, 0)]);
    assert_eq!(read_footer(&sealed.bytes).unwrap(), sealed.chunks);
    let decoded = read_segment(&sealed.bytes).unwrap();
    let values: Vec<_> = decoded[1].1.iter().map(|r| r.value.data.clone()).collect();
    assert_eq!(values, vec![&b"a"[..], &b"b"[..], &b"d"[..]]);
    assert_eq!(decoded[1].0.first_timestamp_ms, 1);
    assert_eq!(decoded[1].0.max_timestamp_ms, 2);
    assert_eq!(decoded[1].1[2].timestamp_ms, 0);
}

#[test]
fn empty_segment_has_only_footer_and_trailer() {
    let sealed = SegmentBuilder::new().finish().unwrap();
    assert_eq!(sealed.bytes.len(), 5 + TRAILER_LEN);
    assert_eq!(read_footer(&sealed.bytes).unwrap(), vec![]);
}

#[test]
fn parse_footer_asks_for_more_bytes_when_the_tail_is_short() {
    let mut builder = SegmentBuilder::new();
    builder.append(1, 0, Compression::None, &[record(1, b"x")]);
    builder.append(1, 1, Compression::None, &[record(1, b"y")]);
    let sealed = builder.finish().unwrap();
    let len = sealed.bytes.len() as u64;
    let needed = (5 + 2 * CHUNK_ENTRY_LEN + TRAILER_LEN) as u64;
    assert_eq!(
        parse_footer(&sealed.bytes[sealed.bytes.len() - 3..], len).unwrap(),
        FooterRead::NeedBytes(TRAILER_LEN as u64)
    );
    let tail = &sealed.bytes[sealed.bytes.len() - TRAILER_LEN..];
    assert_eq!(
        parse_footer(tail, len).unwrap(),
        FooterRead::NeedBytes(needed)
    );
    let tail = &sealed.bytes[sealed.bytes.len() - needed as usize..];
    assert_eq!(
        parse_footer(tail, len).unwrap(),
        FooterRead::Complete(sealed.chunks.clone())
    );
    assert!(parse_footer(b"short", 5).unwrap_err().is_corrupt());
    let mut wrong_version = sealed.bytes.to_vec();
    let at = wrong_version.len() - 12;
    wrong_version[at] = 9;
    assert_eq!(
        read_footer(&wrong_version).unwrap_err().code(),
        "unsupported_version"
    );
}

#[tokio::test]
async fn fetch_footer_uses_one_get_and_two_for_a_huge_footer() {
    let store = ObjectStoreHandle::in_memory();
    let mut small = SegmentBuilder::new();
    small.append(3, 0, Compression::Zstd, &[record(1, b"x")]);
    let small = small.finish().unwrap();
    let path = Path::from("segments/small.seg");
    store
        .store
        .put(&path, PutPayload::from(small.bytes.clone()))
        .await
        .unwrap();
    let before = store.stats.snapshot().gets;
    assert_eq!(fetch_footer(&store, &path).await.unwrap(), small.chunks);
    assert_eq!(store.stats.snapshot().gets, before + 1);

    let mut huge = SegmentBuilder::new();
    let partitions = (SUFFIX_READ_LEN / CHUNK_ENTRY_LEN) as u32 + 10;
    for partition in 0..partitions {
        huge.append(1, partition, Compression::None, &[record(1, b"")]);
    }
    let huge = huge.finish().unwrap();
    assert!(huge.chunks.len() * CHUNK_ENTRY_LEN > SUFFIX_READ_LEN);
    let path = Path::from("segments/huge.seg");
    store
        .store
        .put(&path, PutPayload::from(huge.bytes.clone()))
        .await
        .unwrap();
    let before = store.stats.snapshot().gets;
    assert_eq!(fetch_footer(&store, &path).await.unwrap(), huge.chunks);
    assert_eq!(store.stats.snapshot().gets, before + 2);

    let missing = fetch_footer(&store, &Path::from("segments/none.seg"))
        .await
        .unwrap_err();
    assert!(missing.is_not_found());
}

/// The FORMAT.md test vector inputs: (topic, partition, compression, records).
fn vector_inputs() -> Vec<(u64, u32, Compression, Vec<Record>)> {
    vec![
        (
            7,
            1,
            Compression::Zstd,
            vec![
                Record {
                    timestamp_ms: 1_699_999_999_990,
                    key: None,
                    value: Payload::bytes(&b"plain"[..]),
                    headers: vec![("emoji".into(), "🦀".into())],
                },
                Record {
                    timestamp_ms: 1_700_000_000_010,
                    key: None,
                    value: Payload::json(&b"[1,2,3]"[..]),
                    headers: vec![],
                },
            ],
        ),
        (
            7,
            0,
            Compression::None,
            vec![
                Record {
                    timestamp_ms: 1_700_000_000_000,
                    key: Some(Payload::json(r#"{"user":"ada"}"#)),
                    value: Payload::json(r#"{"msg":"héllo ✓"}"#),
                    headers: vec![
                        ("trace-id".into(), "abc123".into()),
                        ("lang".into(), "日本語".into()),
                    ],
                },
                Record {
                    timestamp_ms: 1_700_000_000_005,
                    key: Some(Payload::bytes(vec![0xde, 0xad])),
                    value: Payload::bytes(Bytes::new()),
                    headers: vec![],
                },
            ],
        ),
    ]
}

fn build_vector() -> SealedSegment {
    let mut builder = SegmentBuilder::new();
    for (topic, partition, compression, records) in vector_inputs() {
        builder.append(topic, partition, compression, &records);
    }
    builder.finish().unwrap()
}

fn vector_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/segment-v1.seg")
}

/// Rebuilding gives the checked-in bytes, and the checked-in bytes decode to the inputs.
/// `SILT_REGENERATE_TESTDATA=1 cargo test -p silt-bookie test_vector` rewrites the file.
#[test]
fn test_vector_is_stable() {
    let sealed = build_vector();
    if std::env::var("SILT_REGENERATE_TESTDATA").as_deref() == Ok("1") {
        std::fs::write(vector_path(), &sealed.bytes).unwrap();
        let hex: Vec<String> = sealed.bytes.iter().map(|b| format!("{b:02x}")).collect();
        for line in hex.chunks(16) {
            println!("{}", line.join(" "));
        }
        println!("{:#?}", sealed.chunks);
    }
    let checked_in = std::fs::read(vector_path()).unwrap();
    assert_eq!(
        sealed.bytes.as_ref(),
        checked_in.as_slice(),
        "rebuild differs from testdata/segment-v1.seg"
    );

    let decoded = read_segment(&checked_in).unwrap();
    let mut expected = vector_inputs();
    expected.sort_by_key(|(topic, partition, _, _)| (*topic, *partition));
    assert_eq!(decoded.len(), expected.len());
    for ((chunk, records), (topic, partition, _, expected_records)) in decoded.iter().zip(&expected)
    {
        assert_eq!((chunk.topic_id, chunk.partition), (*topic, *partition));
        assert_eq!(records, expected_records);
    }
    // The first chunk (7/0) is uncompressed, the second (7/1) zstd.
    assert_eq!(checked_in[decoded[0].0.position as usize + 9], 0);
    assert_eq!(checked_in[decoded[1].0.position as usize + 9], 1);
}

fn arb_segment() -> impl Strategy<Value = SealedSegment> {
    prop::collection::vec((0u64..3, 0u32..3, any::<bool>(), arb_records(3)), 1..4).prop_map(
        |appends| {
            let mut builder = SegmentBuilder::new();
            for (topic, partition, zstd, records) in appends {
                let compression = if zstd {
                    Compression::Zstd
                } else {
                    Compression::None
                };
                builder.append(topic, partition, compression, &records);
            }
            builder.finish().unwrap()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_segment_round_trips(sealed in arb_segment()) {
        let decoded = read_segment(&sealed.bytes).unwrap();
        let chunks: Vec<ChunkInfo> = decoded.iter().map(|(chunk, _)| *chunk).collect();
        prop_assert_eq!(chunks, sealed.chunks);
    }

    #[test]
    fn any_flipped_segment_byte_is_detected(
        sealed in arb_segment(),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = sealed.bytes.to_vec();
        let at = position.index(bytes.len());
        bytes[at] ^= flip;
        prop_assert!(read_segment(&bytes).is_err(), "flip at {} of {} undetected", at, bytes.len());
    }

    #[test]
    fn arbitrary_tails_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..128), extra in 0u64..1000) {
        let _ = parse_footer(&bytes, bytes.len() as u64 + extra);
        let _ = read_segment(&bytes);
    }
}
