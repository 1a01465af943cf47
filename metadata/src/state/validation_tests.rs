//! Unit tests of the input rules ([`super::validate`]) through [`MetadataState::apply`] and
//! the reads: every refused command gets its [`CommandError`] and leaves the encoded state
//! byte for byte as it was.

use super::*;
use crate::limits::{
    MAX_CHUNKS_PER_COMMAND, MAX_LEASE_MS, MAX_OBJECT_NAME_BYTES, MAX_ORPHAN_LIST,
    MAX_ORPHANS_PER_COMMAND, MAX_PARTITIONS_PER_TOPIC, MAX_SEGMENT_BYTES, MAX_SEGMENTS_PER_COMMAND,
    MAX_SLICE_ENTRIES, MIN_LEASE_MS,
};
use crate::types::{ChunkCommit, SegmentCommit};

/// A state with a topic `a` (2 partitions), one committed segment, a broker and an orphan.
fn populated() -> (MetadataState, u64) {
    let mut state = MetadataState::default();
    let CommandResult::Topic(topic) = state.apply(&create_topic("a", 2, None)) else {
        panic!("topic a not created");
    };
    let committed = state.apply(&Command::CommitSegments {
        segments: vec![segment("s0", vec![chunk(topic.id, 0)])],
        at_ms: None,
    });
    assert!(matches!(committed, CommandResult::Committed(_)));
    state.apply(&heartbeat("b1", "http://127.0.0.1:1", 3_000));
    state.apply(&Command::RecordOrphans {
        objects: vec!["lost".to_owned()],
        at_ms: 1,
    });
    (state, topic.id)
}

fn create_topic(name: &str, partitions: u32, compression: Option<&str>) -> Command {
    Command::CreateTopic {
        name: name.to_owned(),
        partitions,
        settings: TopicSettings {
            compression: compression.map(str::to_owned),
            ..TopicSettings::default()
        },
        created_at_ms: 1_000,
        request_id: None,
        owner: None,
    }
}

fn chunk(topic_id: u64, partition: u32) -> ChunkCommit {
    ChunkCommit {
        topic_id,
        partition,
        position: 0,
        length: 10,
        record_count: 1,
        first_timestamp_ms: 5,
        max_timestamp_ms: 6,
        producer: None,
    }
}

fn segment(object: &str, chunks: Vec<ChunkCommit>) -> SegmentCommit {
    SegmentCommit {
        object: object.to_owned(),
        size: 100,
        sealed_at_ms: None,
        offset_commits: Vec::new(),
        chunks,
    }
}

fn heartbeat(broker_id: &str, address: &str, lease_ms: u64) -> Command {
    Command::BrokerHeartbeat {
        broker_id: broker_id.to_owned(),
        address: address.to_owned(),
        lease_ms,
        at_ms: 10,
    }
}

/// Applies `command` to `state`, expects the refusal `expected` and an unchanged state.
fn assert_refused(state: &mut MetadataState, command: &Command, expected: &CommandError) {
    let before = state.encode().unwrap();
    let result = state.apply(command);
    assert_eq!(
        result,
        CommandResult::Rejected(expected.clone()),
        "{}",
        format!("{command:?}").chars().take(300).collect::<String>()
    );
    assert_eq!(
        state.encode().unwrap(),
        before,
        "a refused command changed the state"
    );
}

/// Like [`assert_refused`], for an `InvalidCommand` whose message contains `needle`.
fn assert_invalid(state: &mut MetadataState, command: &Command, needle: &str) {
    let before = state.encode().unwrap();
    match state.apply(command) {
        CommandResult::Rejected(CommandError::InvalidCommand(message)) => {
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => panic!("expected an InvalidCommand containing {needle:?}, got {other:?}"),
    }
    assert_eq!(
        state.encode().unwrap(),
        before,
        "a refused command changed the state"
    );
}

#[test]
fn topic_names_outside_the_rule_are_refused() {
    let (mut state, _) = populated();
    let long = "x".repeat(250);
    for name in [
        "",
        ".",
        "..",
        "../../x",
        "a/b",
        "a b",
        "ü",
        "a\0",
        long.as_str(),
    ] {
        let shown: String = name.chars().take(60).collect();
        assert_refused(
            &mut state,
            &create_topic(name, 1, None),
            &CommandError::InvalidTopicName(shown),
        );
    }
    let longest = "x".repeat(249);
    for name in [longest.as_str(), "a.b_c-D9", "..."] {
        assert!(matches!(
            state.apply(&create_topic(name, 1, None)),
            CommandResult::Topic(_)
        ));
    }
}

#[test]
fn partition_counts_outside_the_limit_are_refused_without_allocating() {
    let (mut state, _) = populated();
    // u32::MAX used to allocate ~170 GB at apply on every replica.
    for partitions in [0, MAX_PARTITIONS_PER_TOPIC + 1, 5_000, u32::MAX] {
        assert_refused(
            &mut state,
            &create_topic("t", partitions, None),
            &CommandError::InvalidPartitionCount(partitions),
        );
    }
    let CommandResult::Topic(topic) =
        state.apply(&create_topic("t", MAX_PARTITIONS_PER_TOPIC, None))
    else {
        panic!("the largest partition count is allowed");
    };
    assert_eq!(topic.partitions.len(), MAX_PARTITIONS_PER_TOPIC as usize);
}

#[test]
fn unknown_compressions_are_refused() {
    let (mut state, _) = populated();
    for compression in ["lz5", "", "ZSTD", "gzip"] {
        assert_invalid(
            &mut state,
            &create_topic("t", 1, Some(compression)),
            "compression",
        );
    }
    for (name, compression) in [("n", Some("none")), ("z", Some("zstd")), ("d", None)] {
        assert!(matches!(
            state.apply(&create_topic(name, 1, compression)),
            CommandResult::Topic(_)
        ));
    }
}

#[test]
fn malformed_segment_commits_are_refused_whole() {
    let (mut state, a) = populated();
    let good = segment("good", vec![chunk(a, 0)]);
    let with = |bad: SegmentCommit| Command::CommitSegments {
        segments: vec![good.clone(), bad],
        at_ms: None,
    };
    let cases: Vec<(SegmentCommit, &str)> = vec![
        (
            segment(
                "s",
                vec![ChunkCommit {
                    record_count: 0,
                    ..chunk(a, 0)
                }],
            ),
            "record_count is 0",
        ),
        (
            segment(
                "s",
                vec![ChunkCommit {
                    length: 0,
                    ..chunk(a, 0)
                }],
            ),
            "length is 0",
        ),
        (
            segment(
                "s",
                vec![ChunkCommit {
                    position: 95,
                    ..chunk(a, 0)
                }],
            ),
            "outside the 100-byte segment",
        ),
        (
            segment(
                "s",
                vec![ChunkCommit {
                    position: u64::MAX,
                    ..chunk(a, 0)
                }],
            ),
            "outside",
        ),
        (
            SegmentCommit {
                size: 0,
                sealed_at_ms: None,
                offset_commits: Vec::new(),
                ..segment("s", vec![])
            },
            "size 0",
        ),
        (
            SegmentCommit {
                size: MAX_SEGMENT_BYTES + 1,
                sealed_at_ms: None,
                offset_commits: Vec::new(),
                ..segment("s", vec![chunk(a, 0)])
            },
            "size",
        ),
        (segment("", vec![chunk(a, 0)]), "object name"),
        (
            segment(&"o".repeat(MAX_OBJECT_NAME_BYTES + 1), vec![chunk(a, 0)]),
            "object name",
        ),
    ];
    for (bad, needle) in cases {
        assert_invalid(&mut state, &with(bad), needle);
    }
    // The good segment alone was never committed by the refused commands.
    let CommandResult::Committed(results) = state.apply(&Command::CommitSegments {
        segments: vec![good],
        at_ms: None,
    }) else {
        panic!("the good segment commits");
    };
    assert_eq!(
        results[0].chunks,
        [crate::types::ChunkOutcome::Committed { base_offset: 1 }]
    );
}

#[test]
fn oversized_commits_are_refused() {
    let (mut state, a) = populated();
    let too_many_segments: Vec<SegmentCommit> = (0..=MAX_SEGMENTS_PER_COMMAND)
        .map(|i| segment(&format!("s{i}"), vec![chunk(a, 0)]))
        .collect();
    assert_invalid(
        &mut state,
        &Command::CommitSegments {
            segments: too_many_segments,
            at_ms: None,
        },
        "segments in one commit",
    );
    let too_many_chunks = SegmentCommit {
        size: MAX_SEGMENT_BYTES,
        ..segment("big", vec![chunk(a, 0); MAX_CHUNKS_PER_COMMAND + 1])
    };
    assert_invalid(
        &mut state,
        &Command::CommitSegments {
            segments: vec![too_many_chunks],
            at_ms: None,
        },
        "chunks in one commit",
    );
}

#[test]
fn heartbeats_with_unbounded_fields_are_refused() {
    let (mut state, _) = populated();
    let long_id = "b".repeat(257);
    let long_address = "h".repeat(1025);
    let cases = [
        (heartbeat("", "http://x", 3_000), "broker id"),
        (heartbeat(&long_id, "http://x", 3_000), "broker id"),
        (heartbeat("b2", "", 3_000), "broker address"),
        (heartbeat("b2", &long_address, 3_000), "broker address"),
        (heartbeat("b2", "http://x", 0), "lease_ms"),
        (heartbeat("b2", "http://x", MIN_LEASE_MS - 1), "lease_ms"),
        (heartbeat("b2", "http://x", MAX_LEASE_MS + 1), "lease_ms"),
        (heartbeat("b2", "http://x", u64::MAX), "lease_ms"),
    ];
    for (command, needle) in cases {
        assert_invalid(&mut state, &command, needle);
    }
    assert!(matches!(
        state.apply(&heartbeat("b2", "http://x", MAX_LEASE_MS)),
        CommandResult::Broker(_)
    ));
}

#[test]
fn orphan_lists_are_bounded() {
    let (mut state, _) = populated();
    let too_many = vec!["o".to_owned(); MAX_ORPHANS_PER_COMMAND + 1];
    let cases = [
        (too_many, "orphans in one command"),
        (vec![String::new()], "object name"),
        (vec!["o".repeat(MAX_OBJECT_NAME_BYTES + 1)], "object name"),
    ];
    for (objects, needle) in cases {
        assert_invalid(
            &mut state,
            &Command::RecordOrphans { objects, at_ms: 2 },
            needle,
        );
    }
}

#[test]
fn invalid_names_are_refused_on_delete_and_read_unless_a_topic_has_them() {
    let (mut state, _) = populated();
    let invalid = CommandError::InvalidTopicName("../../x".to_owned());
    assert_refused(
        &mut state,
        &Command::DeleteTopic {
            name: "../../x".to_owned(),
            topic_id: None,
            request_id: None,
            at_ms: None,
        },
        &invalid,
    );
    assert_refused(
        &mut state,
        &Command::DeleteTopic {
            name: "nope".to_owned(),
            topic_id: None,
            request_id: None,
            at_ms: None,
        },
        &CommandError::TopicNotFound("nope".to_owned()),
    );
    assert!(matches!(
        state.describe_topic("../../x"),
        Err(Error::Rejected(refusal)) if refusal == invalid
    ));
    // A topic created before the rules (here: bypassing them) stays readable and deletable.
    state
        .topics
        .create("legacy topic", 1, &TopicSettings::default(), 1, None);
    assert!(state.describe_topic("legacy topic").is_ok());
    assert!(state.partition_slice("legacy topic", 0, 0, 1).is_ok());
    assert_eq!(
        state.apply(&Command::DeleteTopic {
            name: "legacy topic".to_owned(),
            topic_id: None,
            request_id: None,
            at_ms: None,
        }),
        CommandResult::Deleted
    );
}

#[test]
fn reads_are_bounded() {
    let (state, _) = populated();
    for max_entries in [MAX_SLICE_ENTRIES + 1, usize::MAX] {
        assert!(matches!(
            state.partition_slice("a", 0, 0, max_entries),
            Err(Error::Rejected(CommandError::InvalidCommand(message))) if message.contains("max_entries")
        ));
    }
    assert_eq!(
        state
            .partition_slice("a", 0, 0, MAX_SLICE_ENTRIES)
            .unwrap()
            .entries
            .len(),
        1
    );
    assert!(matches!(
        state.query(&ReadQuery::Orphans {
            limit: MAX_ORPHAN_LIST + 1
        }),
        Err(Error::Rejected(CommandError::InvalidCommand(_)))
    ));
    let Ok(ReadReply::Orphans(orphans)) = state.query(&ReadQuery::Orphans { limit: 10 }) else {
        panic!("orphans are listed");
    };
    assert_eq!(orphans.count, 1);
    assert!(matches!(
        state.query(&ReadQuery::PartitionSlice {
            topic: "../../x".to_owned(),
            partition: 0,
            offset: 0,
            max_entries: 1,
        }),
        Err(Error::Rejected(CommandError::InvalidTopicName(_)))
    ));
}

#[test]
fn refusals_have_clear_messages() {
    let (mut state, _) = populated();
    let mut message = |command: &Command| match state.apply(command) {
        CommandResult::Rejected(refusal) => refusal.to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(
        message(&create_topic("../../x", 1, None)),
        r#"invalid topic name "../../x": use 1-249 characters of [A-Za-z0-9._-], not "." or "..""#
    );
    assert_eq!(
        message(&create_topic("t", 0, None)),
        "invalid partition count 0: a topic has 1 to 4096 partitions"
    );
    assert_eq!(
        message(&create_topic("t", 1, Some("lz5"))),
        r#"invalid metadata request: compression "lz5" is not one of ["none", "zstd"]"#
    );
}

#[test]
fn request_ids_are_bounded_and_old_entries_without_one_still_decode() {
    let mut state = MetadataState::default();
    let long = "r".repeat(crate::limits::MAX_REQUEST_ID_BYTES + 1);
    let command = Command::InitProducer {
        producer_id: None,
        new_id: None,
        owner: None,
        request_id: Some(long),
    };
    let expected = CommandError::InvalidCommand(format!(
        "request id {:?} (65 bytes) must be 1 to 64 bytes",
        "r".repeat(60)
    ));
    assert_refused(&mut state, &command, &expected);
    let old: Command = serde_json::from_str(
        r#"{"CreateTopic":{"name":"a","partitions":1,"settings":{"compression":null},"created_at_ms":1}}"#,
    )
    .unwrap();
    assert_eq!(old.request_id(), None);
    let old_delete: Command = serde_json::from_str(r#"{"DeleteTopic":{"name":"a"}}"#).unwrap();
    assert!(matches!(
        old_delete,
        Command::DeleteTopic {
            topic_id: None,
            request_id: None,
            at_ms: None,
            ..
        }
    ));
}

#[test]
fn an_empty_cluster_id_is_refused() {
    let mut state = MetadataState::default();
    let command = Command::InitCluster {
        cluster_id: String::new(),
    };
    let expected =
        CommandError::InvalidCommand("cluster id \"\" (0 bytes) must be 1 to 64 bytes".to_owned());
    assert_refused(&mut state, &command, &expected);
}

#[test]
fn a_new_producer_id_is_1_to_i64_max_and_old_entries_issue_sequentially() {
    let mut state = MetadataState::default();
    for bad in [0, 1 << 63] {
        let command = Command::InitProducer {
            producer_id: None,
            new_id: Some(bad),
            owner: Some("alice".to_owned()),
            request_id: None,
        };
        let expected =
            CommandError::InvalidCommand(format!("producer id {bad} must be 1 to {}", i64::MAX));
        assert_refused(&mut state, &command, &expected);
    }
    let old: Command = serde_json::from_str(r#"{"InitProducer":{"producer_id":null}}"#).unwrap();
    assert_eq!(
        state.apply(&old),
        CommandResult::Producer(ProducerView {
            producer_id: 1,
            epoch: 0
        })
    );
}
