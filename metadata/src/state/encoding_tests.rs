//! Tests of the snapshot data's encoding ([`super::encoding`]): binary with a versioned
//! header, equal after a round trip, and snapshots written as JSON by older versions still
//! load.

use super::*;
use crate::types::{ChunkCommit, ProducerBatch, SegmentCommit};

/// A state with a topic, a producer and `segments` committed segments of four chunks.
fn busy_state(segments: u64) -> MetadataState {
    let mut state = MetadataState::default();
    let topic = state.apply(&Command::CreateTopic {
        name: "events".to_owned(),
        partitions: 4,
        settings: TopicSettings::default(),
        created_at_ms: 1,
        request_id: Some("01JCREATE".to_owned()),
        owner: Some("alice".to_owned()),
    });
    let CommandResult::Topic(topic) = topic else {
        panic!("unexpected {topic:?}");
    };
    let producer = state.apply(&Command::InitProducer {
        producer_id: None,
        new_id: Some(77),
        owner: None,
        request_id: None,
    });
    assert!(matches!(producer, CommandResult::Producer(_)));
    for n in 0..segments {
        let at = 1_000_000 + i64::try_from(n).unwrap_or(0);
        let chunks = (0..4u32).map(|p| chunk(topic.id, p, (n, p))).collect();
        state.apply(&Command::CommitSegments {
            segments: vec![SegmentCommit {
                object: format!("segments/00/01JSEGMENT{n:016}.seg"),
                size: 4096,
                sealed_at_ms: Some(at),
                offset_commits: Vec::new(),
                chunks,
            }],
            at_ms: Some(at),
        });
    }
    state
}

/// One chunk of segment `n`; partition 0's chunks come from the idempotent producer.
fn chunk(topic_id: u64, partition: u32, (n, p): (u64, u32)) -> ChunkCommit {
    ChunkCommit {
        topic_id,
        partition,
        position: u64::from(p) * 1024,
        length: 1024,
        record_count: 3,
        first_timestamp_ms: 1_700_000_000_000,
        max_timestamp_ms: 1_700_000_000_010,
        producer: (p == 0).then_some(ProducerBatch {
            producer_id: 77,
            epoch: 0,
            sequence: n,
            digest: Some(n),
        }),
    }
}

#[test]
fn snapshot_data_is_binary_with_a_versioned_header_and_round_trips() {
    let state = busy_state(300);
    let data = state.encode().unwrap();
    assert!(
        data.starts_with(b"SILTSNAP\x01"),
        "header: {:?}",
        String::from_utf8_lossy(&data[..16.min(data.len())])
    );
    let json = serde_json::to_vec(&state).unwrap();
    assert!(
        data.len() * 4 < json.len(),
        "binary {} bytes, JSON {} bytes",
        data.len(),
        json.len()
    );
    assert_eq!(MetadataState::decode(&data).unwrap(), state);
}

#[test]
fn a_json_snapshot_of_an_older_version_still_loads() {
    let state = busy_state(20);
    let json = serde_json::to_vec(&state).unwrap();
    assert_eq!(MetadataState::decode(&json).unwrap(), state);
}

#[test]
fn snapshot_data_of_an_unknown_version_is_refused_naming_it() {
    let mut data = busy_state(1).encode().unwrap();
    data[8] = 9;
    let error = MetadataState::decode(&data).unwrap_err().to_string();
    assert!(error.contains("version 9"), "{error}");
}

#[test]
fn a_clone_of_the_state_shares_its_partition_indexes() {
    let state = busy_state(50);
    let copy = state.clone();
    assert!(state.shares_structure_with(&copy));
}

/// Not a test: prints how long encoding and decoding a state of 200,000 segments takes
/// (`cargo test --release -p silt-metadata --lib encoding_speed -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement, run by hand in release mode"]
fn encoding_speed() {
    let state = busy_state(200_000);
    let started = std::time::Instant::now();
    let data = state.encode().unwrap();
    let encoded = started.elapsed();
    let started = std::time::Instant::now();
    let decoded = MetadataState::decode(&data).unwrap();
    let took = started.elapsed();
    let json_started = std::time::Instant::now();
    let json = serde_json::to_vec(&state).unwrap();
    let json_took = json_started.elapsed();
    eprintln!(
        "binary {} bytes, encode {encoded:?}, decode {took:?}; JSON {} bytes, encode {json_took:?}",
        data.len(),
        json.len()
    );
    assert_eq!(decoded, state);
}
