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
        builder.append(
            2,
            0,
            Compression::None,
            None,
            &[record(1, b"a"), record(2, b"b")]
        ),
        0
    );
    assert_eq!(
        builder.append(1, 5, Compression::Zstd, None, &[record(3, b"c")]),
        0
    );
    assert_eq!(
        builder.append(2, 0, Compression::None, None, &[record(0, b"d")]),
        2
    );
    assert_eq!(builder.append(1, 5, Compression::Zstd, None, &[]), 1);
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
    builder.append(1, 0, Compression::None, None, &[record(1, b"x")]);
    builder.append(1, 1, Compression::None, None, &[record(1, b"y")]);
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
    small.append(3, 0, Compression::Zstd, None, &[record(1, b"x")]);
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
        huge.append(1, partition, Compression::None, None, &[record(1, b"")]);
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
        builder.append(topic, partition, compression, None, &records);
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

/// A producer tag, for brevity.
fn tag(producer_id: u64, epoch: u32, sequence: u64) -> Option<ProducerTag> {
    Some(ProducerTag {
        producer_id,
        epoch,
        sequence,
    })
}

/// The FORMAT.md v2 test vector inputs, appended in this order:
/// (topic, partition, producer, records). All uncompressed, so the bytes do not depend on
/// the zstd library (the v1 vector covers zstd).
fn vector_v2_inputs() -> Vec<(u64, u32, Option<ProducerTag>, Vec<Record>)> {
    vec![
        (
            7,
            0,
            tag(42, 1, 5),
            vec![
                Record {
                    timestamp_ms: 1_700_000_000_010,
                    key: Some(Payload::bytes(&b"k"[..])),
                    value: Payload::bytes(&b"seq5"[..]),
                    headers: vec![],
                },
                Record {
                    timestamp_ms: 1_700_000_000_012,
                    key: None,
                    value: Payload::json(r#"{"n":6}"#),
                    headers: vec![("h".into(), "✓".into())],
                },
            ],
        ),
        (
            7,
            0,
            None,
            vec![Record {
                timestamp_ms: 1_700_000_000_000,
                key: None,
                value: Payload::bytes(&b"plain"[..]),
                headers: vec![],
            }],
        ),
        (
            7,
            0,
            tag(42, 1, 3),
            vec![
                Record {
                    timestamp_ms: 1_700_000_000_003,
                    key: None,
                    value: Payload::bytes(&b"seq3"[..]),
                    headers: vec![],
                },
                Record {
                    timestamp_ms: 1_700_000_000_001,
                    key: None,
                    value: Payload::bytes(&b"seq4"[..]),
                    headers: vec![],
                },
            ],
        ),
        (
            7,
            1,
            tag(0x0102_0304_0506_0708, 0x090a_0b0c, 0x1112_1314_1516_1718),
            vec![Record {
                timestamp_ms: 1_700_000_000_020,
                key: None,
                value: Payload::bytes(&b"big"[..]),
                headers: vec![],
            }],
        ),
        (
            7,
            0,
            None,
            vec![Record {
                timestamp_ms: 1_700_000_000_030,
                key: None,
                value: Payload::bytes(Bytes::new()),
                headers: vec![],
            }],
        ),
    ]
}

/// Builds the v2 vector; also returns the offset delta of every append.
fn build_vector_v2() -> (SealedSegment, Vec<u32>) {
    let mut builder = SegmentBuilder::new();
    let deltas = vector_v2_inputs()
        .into_iter()
        .map(|(topic, partition, producer, records)| {
            builder.append(topic, partition, Compression::None, producer, &records)
        })
        .collect();
    (builder.finish().unwrap(), deltas)
}

fn vector_v2_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/segment-v2.seg")
}

/// The footer version byte of a whole segment.
fn footer_version_of(segment: &[u8]) -> u8 {
    let trailer = &segment[segment.len() - TRAILER_LEN..];
    let footer_len = u32::from_le_bytes(trailer[0..4].try_into().unwrap()) as usize;
    segment[segment.len() - TRAILER_LEN - footer_len]
}

/// Rebuilding gives the checked-in v2 bytes, and they decode to the inputs grouped by
/// `(topic, partition, producer)`.
/// `SILT_REGENERATE_TESTDATA=1 cargo test -p silt-bookie test_vector_v2` rewrites the file.
#[test]
fn test_vector_v2_is_stable() {
    let (sealed, deltas) = build_vector_v2();
    if std::env::var("SILT_REGENERATE_TESTDATA").as_deref() == Ok("1") {
        std::fs::write(vector_v2_path(), &sealed.bytes).unwrap();
        let hex: Vec<String> = sealed.bytes.iter().map(|b| format!("{b:02x}")).collect();
        for line in hex.chunks(16) {
            println!("{}", line.join(" "));
        }
        println!("{:#?}", sealed.chunks);
    }
    let checked_in = std::fs::read(vector_v2_path()).unwrap();
    assert_eq!(
        sealed.bytes.as_ref(),
        checked_in.as_slice(),
        "rebuild differs from testdata/segment-v2.seg"
    );
    // The second producer-less append extends the first producer-less chunk of 7/0.
    assert_eq!(deltas, vec![0, 0, 0, 0, 1]);
    assert_eq!(footer_version_of(&checked_in), FOOTER_VERSION_V2);

    let decoded = read_segment(&checked_in).unwrap();
    let mut expected: std::collections::BTreeMap<_, Vec<Record>> = Default::default();
    for (topic, partition, producer, records) in vector_v2_inputs() {
        expected
            .entry((topic, partition, producer))
            .or_default()
            .extend(records);
    }
    let keys: Vec<_> = decoded
        .iter()
        .map(|(c, _)| (c.topic_id, c.partition, c.producer))
        .collect();
    assert_eq!(
        keys,
        vec![
            (7, 0, None),
            (7, 0, tag(42, 1, 3)),
            (7, 0, tag(42, 1, 5)),
            (
                7,
                1,
                tag(0x0102_0304_0506_0708, 0x090a_0b0c, 0x1112_1314_1516_1718)
            ),
        ]
    );
    assert_eq!(decoded.len(), expected.len());
    for ((chunk, records), (key, expected_records)) in decoded.iter().zip(&expected) {
        assert_eq!((chunk.topic_id, chunk.partition, chunk.producer), *key);
        assert_eq!(records, expected_records);
    }
    let chunks: Vec<ChunkInfo> = decoded.iter().map(|(chunk, _)| *chunk).collect();
    assert_eq!(chunks, sealed.chunks);
    assert_eq!(
        checked_in.len(),
        chunks.iter().map(|c| c.length as usize).sum::<usize>()
            + 5
            + 4 * CHUNK_ENTRY_LEN_V2
            + TRAILER_LEN
    );
}

/// One raw footer entry: the 44 v1 bytes of `chunk`, then (for a v2 entry) the given
/// producer fields, taken verbatim.
fn raw_entry(chunk: &ChunkInfo, producer: Option<(u64, u32, u64)>) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&chunk.topic_id.to_le_bytes());
    out.extend_from_slice(&chunk.partition.to_le_bytes());
    out.extend_from_slice(&chunk.position.to_le_bytes());
    out.extend_from_slice(&chunk.length.to_le_bytes());
    out.extend_from_slice(&chunk.record_count.to_le_bytes());
    out.extend_from_slice(&chunk.first_timestamp_ms.to_le_bytes());
    out.extend_from_slice(&chunk.max_timestamp_ms.to_le_bytes());
    if let Some((producer_id, epoch, sequence)) = producer {
        out.extend_from_slice(&producer_id.to_le_bytes());
        out.extend_from_slice(&epoch.to_le_bytes());
        out.extend_from_slice(&sequence.to_le_bytes());
    }
    out
}

/// `body` (the chunk bytes) followed by a footer of `version`, `count` and the raw
/// `entries`, and a valid trailer (correct length and CRC), so only the footer's content
/// is under test.
fn with_raw_footer(body: &[u8], version: u8, count: u32, entries: &[u8]) -> Vec<u8> {
    let mut footer = vec![version];
    footer.extend_from_slice(&count.to_le_bytes());
    footer.extend_from_slice(entries);
    let mut out = body.to_vec();
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&footer).to_le_bytes());
    out.extend_from_slice(&SEGMENT_FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&SEGMENT_MAGIC);
    out
}

/// The chunk bytes of a sealed segment (everything before the footer).
fn chunk_region(sealed: &SealedSegment) -> &[u8] {
    let end = sealed
        .chunks
        .last()
        .map_or(0, |c| (c.position + u64::from(c.length)) as usize);
    &sealed.bytes[..end]
}

/// Re-encodes `chunks` as a footer after `body` with the writer's encoder.
fn with_footer(body: &[u8], chunks: &[ChunkInfo]) -> Vec<u8> {
    let mut out = body.to_vec();
    footer::encode_footer(chunks, &mut out).unwrap();
    out
}

#[test]
fn segments_without_producers_keep_the_v1_footer() {
    // The checked-in v1 vector is a v1 footer and decodes with no producers.
    let v1 = std::fs::read(vector_path()).unwrap();
    assert_eq!(footer_version_of(&v1), FOOTER_VERSION);
    let chunks = read_footer(&v1).unwrap();
    assert_eq!(chunks.len(), 2);
    assert!(chunks.iter().all(|c| c.producer.is_none()));

    // The builder writes v1 when no chunk has a producer, byte for byte a hand-made v1
    // footer, which decodes.
    let mut builder = SegmentBuilder::new();
    builder.append(1, 0, Compression::None, None, &[record(1, b"x")]);
    builder.append(1, 1, Compression::Zstd, None, &[record(2, b"y")]);
    let sealed = builder.finish().unwrap();
    assert_eq!(footer_version_of(&sealed.bytes), FOOTER_VERSION);
    let entries: Vec<u8> = sealed
        .chunks
        .iter()
        .flat_map(|c| raw_entry(c, None))
        .collect();
    assert_eq!(entries.len(), 2 * CHUNK_ENTRY_LEN);
    let hand_made = with_raw_footer(chunk_region(&sealed), FOOTER_VERSION, 2, &entries);
    assert_eq!(hand_made, sealed.bytes.as_ref());
    assert_eq!(read_footer(&hand_made).unwrap(), sealed.chunks);
    assert_eq!(read_segment(&hand_made).unwrap().len(), 2);

    // One producer anywhere switches the whole footer to v2.
    let mut builder = SegmentBuilder::new();
    builder.append(1, 0, Compression::None, None, &[record(1, b"x")]);
    builder.append(1, 1, Compression::Zstd, tag(3, 0, 0), &[record(2, b"y")]);
    let sealed = builder.finish().unwrap();
    assert_eq!(footer_version_of(&sealed.bytes), FOOTER_VERSION_V2);
    assert_eq!(
        sealed.bytes.len(),
        chunk_region(&sealed).len() + 5 + 2 * CHUNK_ENTRY_LEN_V2 + TRAILER_LEN
    );
    assert_eq!(read_footer(&sealed.bytes).unwrap(), sealed.chunks);
    assert_eq!(sealed.chunks[0].producer, None);
    assert_eq!(sealed.chunks[1].producer, tag(3, 0, 0));
}

#[test]
fn builder_keys_chunks_by_producer() {
    let mut builder = SegmentBuilder::new();
    assert_eq!(
        builder.append(1, 0, Compression::None, tag(5, 0, 10), &[record(1, b"a")]),
        0
    );
    assert_eq!(
        builder.append(1, 0, Compression::None, None, &[record(2, b"b")]),
        0
    );
    assert_eq!(
        builder.append(1, 0, Compression::None, tag(5, 0, 9), &[record(3, b"c")]),
        0
    );
    assert_eq!(
        builder.append(1, 0, Compression::None, None, &[record(4, b"d")]),
        1
    );
    // The same tag again (a retry staged in the same segment) extends its chunk.
    assert_eq!(
        builder.append(1, 0, Compression::None, tag(5, 0, 10), &[record(5, b"e")]),
        1
    );
    assert_eq!(
        builder.append(0, 9, Compression::None, tag(1, 0, 0), &[record(6, b"f")]),
        0
    );
    let sealed = builder.finish().unwrap();
    let keys: Vec<_> = sealed
        .chunks
        .iter()
        .map(|c| (c.topic_id, c.partition, c.producer, c.record_count))
        .collect();
    assert_eq!(
        keys,
        vec![
            (0, 9, tag(1, 0, 0), 1),
            (1, 0, None, 2),
            (1, 0, tag(5, 0, 9), 1),
            (1, 0, tag(5, 0, 10), 2),
        ]
    );
    let decoded = read_segment(&sealed.bytes).unwrap();
    let values: Vec<Vec<_>> = decoded
        .iter()
        .map(|(_, records)| records.iter().map(|r| r.value.data.clone()).collect())
        .collect();
    assert_eq!(
        values,
        vec![
            vec![&b"f"[..]],
            vec![&b"b"[..], &b"d"[..]],
            vec![&b"c"[..]],
            vec![&b"a"[..], &b"e"[..]],
        ]
    );
}

#[test]
fn producer_id_zero_is_rejected_by_the_writer() {
    let mut builder = SegmentBuilder::new();
    builder.append(1, 0, Compression::None, tag(0, 0, 0), &[record(1, b"x")]);
    assert!(builder.finish().unwrap_err().is_corrupt());
}

#[test]
fn out_of_order_producer_keys_are_corrupt() {
    let mut builder = SegmentBuilder::new();
    builder.append(1, 0, Compression::None, None, &[record(1, b"x")]);
    builder.append(1, 0, Compression::None, tag(2, 1, 0), &[record(1, b"y")]);
    builder.append(1, 0, Compression::None, tag(2, 1, 7), &[record(1, b"z")]);
    let sealed = builder.finish().unwrap();
    let body = chunk_region(&sealed);
    // Re-encoding the writer's own chunks is valid.
    assert_eq!(
        read_footer(&with_footer(body, &sealed.chunks)).unwrap(),
        sealed.chunks
    );

    let reorder = |producers: [Option<ProducerTag>; 3]| {
        let mut chunks = sealed.chunks.clone();
        for (chunk, producer) in chunks.iter_mut().zip(producers) {
            chunk.producer = producer;
        }
        read_footer(&with_footer(body, &chunks))
    };
    let cases = [
        // Sequence going backwards within one (producer, epoch).
        [None, tag(2, 1, 7), tag(2, 1, 0)],
        // A duplicate key.
        [None, tag(2, 1, 7), tag(2, 1, 7)],
        // Epoch going backwards.
        [None, tag(2, 2, 0), tag(2, 1, 9)],
        // Producer id going backwards.
        [None, tag(3, 0, 0), tag(2, 9, 9)],
        // No-producer chunk after a producer chunk.
        [tag(2, 1, 0), None, tag(2, 1, 7)],
        // Two no-producer chunks for one partition.
        [None, None, tag(2, 1, 7)],
    ];
    for producers in cases {
        let error = reorder(producers).unwrap_err();
        assert_eq!(error.code(), "corrupt_data", "{producers:?} accepted");
    }
    // Still strictly increasing with different values: accepted.
    assert!(reorder([None, tag(1, 9, 9), tag(2, 0, 0)]).is_ok());
    assert!(reorder([tag(1, 0, 0), tag(1, 0, 1), tag(1, 1, 0)]).is_ok());

    // A smaller producer key is fine once the partition increases.
    let mut builder = SegmentBuilder::new();
    builder.append(1, 0, Compression::None, tag(9, 9, 9), &[record(1, b"x")]);
    builder.append(1, 1, Compression::None, None, &[record(1, b"y")]);
    let sealed = builder.finish().unwrap();
    assert_eq!(read_footer(&sealed.bytes).unwrap(), sealed.chunks);
}

#[test]
fn v2_entry_without_producer_needs_zero_epoch_and_sequence() {
    let mut builder = SegmentBuilder::new();
    builder.append(4, 2, Compression::None, None, &[record(1, b"x")]);
    let sealed = builder.finish().unwrap();
    let body = chunk_region(&sealed);
    let chunk = sealed.chunks[0];

    // A v2 footer whose only entry has no producer is valid and decodes to None.
    let valid = with_raw_footer(
        body,
        FOOTER_VERSION_V2,
        1,
        &raw_entry(&chunk, Some((0, 0, 0))),
    );
    assert_eq!(read_footer(&valid).unwrap(), sealed.chunks);
    let tagged = with_raw_footer(
        body,
        FOOTER_VERSION_V2,
        1,
        &raw_entry(&chunk, Some((8, 0, 0))),
    );
    assert_eq!(read_footer(&tagged).unwrap()[0].producer, tag(8, 0, 0));

    for (epoch, sequence) in [(1, 0), (0, 1), (u32::MAX, u64::MAX)] {
        let bytes = with_raw_footer(
            body,
            FOOTER_VERSION_V2,
            1,
            &raw_entry(&chunk, Some((0, epoch, sequence))),
        );
        assert_eq!(read_footer(&bytes).unwrap_err().code(), "corrupt_data");
    }
    // v1-sized entries under a v2 version byte (and the reverse) do not fit the length.
    let short = with_raw_footer(body, FOOTER_VERSION_V2, 1, &raw_entry(&chunk, None));
    assert_eq!(read_footer(&short).unwrap_err().code(), "corrupt_data");
    let long = with_raw_footer(body, FOOTER_VERSION, 1, &raw_entry(&chunk, Some((8, 0, 0))));
    assert_eq!(read_footer(&long).unwrap_err().code(), "corrupt_data");
    // An unknown footer version is unsupported, never guessed.
    let v3 = with_raw_footer(body, 3, 1, &raw_entry(&chunk, Some((8, 0, 0))));
    assert_eq!(read_footer(&v3).unwrap_err().code(), "unsupported_version");
}

/// A segment of 1..4 appends; with `force_producer`, the first append has a producer so
/// the footer is v2. Small key ranges make shared chunks and collisions likely.
fn arb_segment_with(force_producer: bool) -> impl Strategy<Value = SealedSegment> {
    let producer = || {
        prop::option::of((1u64..3, 0u32..2, 0u64..3)).prop_map(|tag| {
            tag.map(|(producer_id, epoch, sequence)| ProducerTag {
                producer_id,
                epoch,
                sequence,
            })
        })
    };
    let forced = (1u64..3, 0u32..2, 0u64..3).prop_map(|(producer_id, epoch, sequence)| {
        Some(ProducerTag {
            producer_id,
            epoch,
            sequence,
        })
    });
    (
        forced,
        prop::collection::vec(
            (0u64..3, 0u32..3, any::<bool>(), producer(), arb_records(3)),
            1..4,
        ),
    )
        .prop_map(move |(forced, mut appends)| {
            if force_producer {
                appends[0].3 = forced;
            }
            let mut builder = SegmentBuilder::new();
            for (topic, partition, zstd, producer, records) in appends {
                let compression = if zstd {
                    Compression::Zstd
                } else {
                    Compression::None
                };
                builder.append(topic, partition, compression, producer, &records);
            }
            builder.finish().unwrap()
        })
}

fn arb_segment() -> impl Strategy<Value = SealedSegment> {
    arb_segment_with(false)
}

fn arb_v2_segment() -> impl Strategy<Value = SealedSegment> {
    arb_segment_with(true)
}

/// One arbitrary footer entry with the layout right (positions are filled in by the
/// test): `(topic, partition, length, producer fields)`.
fn arb_raw_entry() -> impl Strategy<Value = (u64, u32, u32, (u64, u32, u64))> {
    (0u64..2, 0u32..2, 34u32..40, (0u64..3, 0u32..2, 0u64..2))
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
    fn any_v2_segment_round_trips(sealed in arb_v2_segment()) {
        prop_assert_eq!(footer_version_of(&sealed.bytes), FOOTER_VERSION_V2);
        let decoded = read_segment(&sealed.bytes).unwrap();
        let chunks: Vec<ChunkInfo> = decoded.iter().map(|(chunk, _)| *chunk).collect();
        prop_assert!(chunks.iter().any(|chunk| chunk.producer.is_some()));
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
    fn any_flipped_v2_segment_byte_is_detected(
        sealed in arb_v2_segment(),
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

    /// Footers that pass the CRC and tile the object, with arbitrary keys and producer
    /// fields: parsing never panics and accepts exactly the valid ones.
    #[test]
    fn arbitrary_footer_entries_are_validated(
        version in 1u8..=3,
        raw in prop::collection::vec(arb_raw_entry(), 0..5),
    ) {
        let mut entries = Vec::new();
        let mut position = 0u64;
        let mut keys = Vec::new();
        let mut valid = version <= 2;
        for &(topic_id, partition, length, (producer_id, epoch, sequence)) in &raw {
            let chunk = ChunkInfo {
                topic_id,
                partition,
                position,
                length,
                record_count: 1,
                first_timestamp_ms: 0,
                max_timestamp_ms: 0,
                producer: None,
            };
            let producer = (version != 1).then_some((producer_id, epoch, sequence));
            entries.extend_from_slice(&raw_entry(&chunk, producer));
            let tag = match producer {
                Some((0, 0, 0)) | None => None,
                Some((0, _, _)) => {
                    valid = false;
                    None
                }
                Some((producer_id, epoch, sequence)) => tag(producer_id, epoch, sequence),
            };
            keys.push((topic_id, partition, tag));
            position += u64::from(length);
        }
        valid &= keys.windows(2).all(|pair| pair[0] < pair[1]);
        let body = vec![0u8; position as usize];
        let bytes = with_raw_footer(&body, version, raw.len() as u32, &entries);
        match read_footer(&bytes) {
            Ok(chunks) => {
                prop_assert!(valid, "accepted an invalid footer: {:?}", raw);
                let decoded: Vec<_> = chunks
                    .iter()
                    .map(|c| (c.topic_id, c.partition, c.producer))
                    .collect();
                prop_assert_eq!(decoded, keys);
            }
            Err(error) => {
                prop_assert!(!valid, "rejected a valid footer {:?}: {}", raw, error);
                prop_assert!(error.is_corrupt());
            }
        }
        // Truncated tails of it never panic either.
        for cut in 0..bytes.len() {
            let _ = parse_footer(&bytes[cut..], bytes.len() as u64);
        }
    }
}
