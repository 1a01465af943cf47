//! Unit tests of [`MetadataState`]: commands applied in order, the queries after them.

use super::*;
use crate::types::{ChunkCommit, ChunkOutcome, ProducerBatch, SegmentCommit, SegmentCommitResult};

use super::test_support::create_topic as create;

fn chunk(topic_id: u64, partition: u32, record_count: u32) -> ChunkCommit {
    ChunkCommit {
        topic_id,
        partition,
        position: 0,
        length: 10,
        record_count,
        first_timestamp_ms: 5,
        max_timestamp_ms: 6,
        producer: None,
    }
}

fn produced(topic_id: u64, partition: u32, count: u32, batch: (u64, u32, u64)) -> ChunkCommit {
    ChunkCommit {
        producer: Some(ProducerBatch {
            producer_id: batch.0,
            epoch: batch.1,
            sequence: batch.2,
            digest: None,
        }),
        ..chunk(topic_id, partition, count)
    }
}

fn init_producer(state: &mut MetadataState, id: Option<u64>) -> (u64, u32) {
    match state.apply(&Command::InitProducer {
        producer_id: id,
        new_id: None,
        owner: None,
        request_id: None,
    }) {
        CommandResult::Producer(view) => (view.producer_id, view.epoch),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn a_retried_producer_request_is_committed_once_across_segments() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 2).id;
    let (id, epoch) = init_producer(&mut state, None);
    // Request 0 spans both partitions; a plain chunk shares the segment.
    let first = commit(
        &mut state,
        vec![segment(
            "s1",
            vec![
                chunk(a, 0, 1),
                produced(a, 0, 2, (id, epoch, 0)),
                produced(a, 1, 3, (id, epoch, 0)),
            ],
        )],
    );
    assert_eq!(bases(&first[0]), [Some(0), Some(1), Some(0)]);
    // The same request, retried through another broker (another object), twice in one
    // segment: never appended again, answered with the original offsets.
    let retried = commit(
        &mut state,
        vec![segment(
            "s2",
            vec![
                produced(a, 0, 2, (id, epoch, 0)),
                produced(a, 1, 3, (id, epoch, 0)),
                produced(a, 1, 3, (id, epoch, 0)),
                produced(a, 0, 4, (id, epoch, 1)),
            ],
        )],
    );
    assert_eq!(
        retried[0].chunks,
        [
            ChunkOutcome::Duplicate { base_offset: 1 },
            ChunkOutcome::Duplicate { base_offset: 0 },
            ChunkOutcome::Duplicate { base_offset: 0 },
            ChunkOutcome::Committed { base_offset: 3 },
        ]
    );
    let view = state.describe_topic("a").unwrap();
    assert_eq!(view.partitions[0].high_watermark, 7);
    assert_eq!(view.partitions[1].high_watermark, 3);
    // A gap and a fenced epoch append nothing.
    let before = state.describe_topic("a").unwrap();
    let refused = commit(
        &mut state,
        vec![segment("s3", vec![produced(a, 0, 1, (id, epoch, 5))])],
    );
    assert_eq!(
        refused[0].chunks,
        [ChunkOutcome::OutOfOrderSequence { expected: 2 }]
    );
    let (_, new_epoch) = init_producer(&mut state, Some(id));
    assert_eq!(new_epoch, epoch + 1);
    let fenced = commit(
        &mut state,
        vec![segment("s4", vec![produced(a, 0, 1, (id, epoch, 2))])],
    );
    assert_eq!(
        fenced[0].chunks,
        [ChunkOutcome::ProducerFenced {
            current_epoch: new_epoch
        }]
    );
    assert_eq!(state.describe_topic("a").unwrap(), before);
    assert_eq!(
        state.apply(&Command::InitProducer {
            producer_id: Some(99),
            new_id: None,
            owner: None,
            request_id: None,
        }),
        CommandResult::Rejected(CommandError::ProducerNotFound(99))
    );
}

fn with_digest(mut chunk: ChunkCommit, digest: u64) -> ChunkCommit {
    if let Some(batch) = &mut chunk.producer {
        batch.digest = Some(digest);
    }
    chunk
}

#[test]
fn a_reused_producer_tag_with_other_content_is_refused_and_appends_nothing() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 2).id;
    let (id, epoch) = init_producer(&mut state, None);
    let first = with_digest(produced(a, 0, 2, (id, epoch, 0)), 11);
    commit(&mut state, vec![segment("s1", vec![first])]);
    let before = state.describe_topic("a").unwrap();
    // Same tag, other content (another partition, other records): refused, in any
    // segment, and also when it shares a segment with a true retry.
    let other = with_digest(produced(a, 1, 3, (id, epoch, 0)), 12);
    let mixed = commit(&mut state, vec![segment("s2", vec![first, other])]);
    assert_eq!(
        mixed[0].chunks,
        [
            ChunkOutcome::Duplicate { base_offset: 0 },
            ChunkOutcome::IdempotencyMismatch
        ]
    );
    assert_eq!(state.describe_topic("a").unwrap(), before);
    // A retry whose digest is unknown (recovered from a spool file) is still a duplicate.
    let unknown = produced(a, 0, 2, (id, epoch, 0));
    let recovered = commit(&mut state, vec![segment("s3", vec![unknown])]);
    assert_eq!(
        recovered[0].chunks,
        [ChunkOutcome::Duplicate { base_offset: 0 }]
    );
}

#[test]
fn orphans_never_include_committed_objects() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 1).id;
    commit(&mut state, vec![segment("s1", vec![chunk(a, 0, 1)])]);
    state.apply(&Command::RecordOrphans {
        objects: vec!["s1".to_owned(), "s9".to_owned()],
        at_ms: 5,
    });
    assert_eq!(state.orphans().keys().collect::<Vec<_>>(), ["s9"]);
    // A committed segment none of whose chunks was appended is garbage too.
    commit(&mut state, vec![segment("s2", vec![chunk(99, 0, 1)])]);
    assert_eq!(state.orphans().keys().collect::<Vec<_>>(), ["s2", "s9"]);
}

/// The proposal time of the horizon tests: an hour after the epoch, so a segment sealed
/// at 0 is past the 15-minute horizon.
const NOW: i64 = 60 * 60 * 1000;

fn sealed_at(object: &str, chunks: Vec<ChunkCommit>, sealed_at_ms: i64) -> SegmentCommit {
    SegmentCommit {
        sealed_at_ms: Some(sealed_at_ms),
        offset_commits: Vec::new(),
        ..segment(object, chunks)
    }
}

#[test]
fn a_committed_object_leaves_the_orphan_list() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 1).id;
    // A broker recorded the object as a possible orphan (its PUT's answer was lost), yet
    // the segment commits after all (recovery from the spool): it is referenced now.
    state.apply(&Command::RecordOrphans {
        objects: vec!["s1".to_owned()],
        at_ms: NOW - 5,
    });
    let committed = commit_at(
        &mut state,
        vec![sealed_at("s1", vec![chunk(a, 0, 1)], NOW - 10)],
        Some(NOW),
    );
    assert_eq!(bases(&committed[0]), [Some(0)]);
    assert!(state.orphans().is_empty(), "{:?}", state.orphans());
}

#[test]
fn a_segment_older_than_the_commit_horizon_is_refused_and_recorded_with_its_time() {
    use crate::limits::COMMIT_HORIZON_MS;
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 1).id;
    let (id, epoch) = init_producer(&mut state, None);
    let old = NOW - COMMIT_HORIZON_MS - 1;
    let chunks = vec![chunk(a, 0, 2), produced(a, 0, 1, (id, epoch, 0))];
    let refused = commit_at(
        &mut state,
        vec![sealed_at("old", chunks.clone(), old)],
        Some(NOW),
    );
    assert_eq!(
        refused[0].chunks,
        [ChunkOutcome::TooOld, ChunkOutcome::TooOld]
    );
    let view = state.describe_topic("a").unwrap();
    assert_eq!(view.partitions[0].high_watermark, 0);
    assert_eq!(state.orphans().get("old"), Some(&old));
    // The producer request was not admitted: its sequence 0 is still the next one.
    let fresh = vec![produced(a, 0, 1, (id, epoch, 0))];
    let accepted = commit_at(&mut state, vec![sealed_at("new", fresh, NOW)], Some(NOW));
    assert_eq!(bases(&accepted[0]), [Some(0)]);
    // At the horizon exactly it still commits; a retried commit of the old one changes
    // nothing.
    let edge = NOW - COMMIT_HORIZON_MS;
    let at_edge = commit_at(
        &mut state,
        vec![sealed_at("edge", vec![chunk(a, 0, 1)], edge)],
        Some(NOW),
    );
    assert_eq!(bases(&at_edge[0]), [Some(1)]);
    let again = commit_at(&mut state, vec![sealed_at("old", chunks, old)], Some(NOW));
    assert_eq!(again, refused);
}

#[test]
fn an_object_whose_commit_appended_nothing_is_recorded_with_its_seal_time_not_zero() {
    let mut state = MetadataState::default();
    let sealed = commit_at(
        &mut state,
        vec![sealed_at("s1", vec![chunk(99, 0, 1)], NOW - 3)],
        Some(NOW),
    );
    assert_eq!(sealed[0].chunks, [ChunkOutcome::TopicNotFound]);
    // Without a seal time, the commit's proposal time.
    let unsealed = commit_at(
        &mut state,
        vec![segment("s2", vec![chunk(99, 0, 1)])],
        Some(NOW),
    );
    assert_eq!(unsealed[0].chunks, [ChunkOutcome::TopicNotFound]);
    let times: Vec<(&String, &i64)> = state.orphans().iter().collect();
    assert_eq!(
        times,
        [(&"s1".to_owned(), &(NOW - 3)), (&"s2".to_owned(), &NOW)]
    );
}

fn commit(state: &mut MetadataState, segments: Vec<SegmentCommit>) -> Vec<SegmentCommitResult> {
    commit_at(state, segments, None)
}

fn commit_at(
    state: &mut MetadataState,
    segments: Vec<SegmentCommit>,
    at_ms: Option<i64>,
) -> Vec<SegmentCommitResult> {
    match state.apply(&Command::CommitSegments { segments, at_ms }) {
        CommandResult::Committed(results) => results,
        other => panic!("unexpected {other:?}"),
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

fn bases(result: &SegmentCommitResult) -> Vec<Option<u64>> {
    result
        .chunks
        .iter()
        .map(|outcome| match outcome {
            ChunkOutcome::Committed { base_offset } => Some(*base_offset),
            _ => None,
        })
        .collect()
}

#[test]
fn create_topic_assigns_ids_and_rejects_taken_names() {
    let mut state = MetadataState::default();
    let orders = create(&mut state, "orders", 3);
    assert_eq!(orders.id, 1);
    assert_eq!(orders.partitions.len(), 3);
    assert_eq!(orders.created_at_ms, 1_000);
    assert!(orders.partitions.iter().all(|p| p.high_watermark == 0));
    let before = state.clone();
    let again = state.apply(&Command::CreateTopic {
        name: "orders".to_owned(),
        partitions: 1,
        settings: TopicSettings::default(),
        created_at_ms: 2_000,
        request_id: None,
        owner: None,
    });
    assert_eq!(
        again,
        CommandResult::Rejected(CommandError::TopicAlreadyExists("orders".to_owned()))
    );
    assert_eq!(state, before);
    assert_eq!(create(&mut state, "users", 1).id, 2);
    let names: Vec<String> = state.list_topics().into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["orders", "users"]);
}

#[test]
fn delete_topic_rejects_unknown_names() {
    let mut state = MetadataState::default();
    create(&mut state, "orders", 1);
    assert_eq!(
        state.apply(&Command::DeleteTopic {
            name: "orders".to_owned(),
            topic_id: None,
            request_id: None,
            at_ms: None,
        }),
        CommandResult::Deleted
    );
    assert_eq!(
        state.apply(&Command::DeleteTopic {
            name: "orders".to_owned(),
            topic_id: None,
            request_id: None,
            at_ms: None,
        }),
        CommandResult::Rejected(CommandError::TopicNotFound("orders".to_owned()))
    );
    assert!(matches!(
        state.describe_topic("orders"),
        Err(Error::Rejected(CommandError::TopicNotFound(_)))
    ));
}

#[test]
fn commits_assign_dense_offsets_in_order() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 2).id;
    let b = create(&mut state, "b", 1).id;
    let results = commit(
        &mut state,
        vec![
            segment("s1", vec![chunk(a, 0, 3), chunk(a, 1, 2), chunk(b, 0, 4)]),
            segment("s2", vec![chunk(a, 0, 5), chunk(b, 0, 1)]),
        ],
    );
    assert_eq!(bases(&results[0]), [Some(0), Some(0), Some(0)]);
    assert_eq!(bases(&results[1]), [Some(3), Some(4)]);
    let view = state.describe_topic("a").unwrap();
    assert_eq!(view.partitions[0].high_watermark, 8);
    assert_eq!(view.partitions[1].high_watermark, 2);
    let slice = state.partition_slice("a", 0, 0, 10).unwrap();
    assert_eq!(slice.topic_id, a);
    assert_eq!(slice.high_watermark, 8);
    let entries: Vec<(u64, u32, &str)> = slice
        .entries
        .iter()
        .map(|e| (e.base_offset, e.record_count, &*e.object))
        .collect();
    assert_eq!(entries, [(0, 3, "s1"), (3, 5, "s2")]);
}

#[test]
fn recommit_returns_the_original_result_and_changes_nothing() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 1).id;
    let first = commit(&mut state, vec![segment("s1", vec![chunk(a, 0, 3)])]);
    commit(&mut state, vec![segment("s2", vec![chunk(a, 0, 2)])]);
    let before = state.clone();
    // Same object, different (bogus) content: the original result wins.
    let again = commit(&mut state, vec![segment("s1", vec![chunk(a, 0, 9)])]);
    assert_eq!(again, first);
    assert_eq!(state, before);
    // A duplicate inside one command is applied once too.
    let both = commit(
        &mut state,
        vec![
            segment("s3", vec![chunk(a, 0, 1)]),
            segment("s3", vec![chunk(a, 0, 1)]),
        ],
    );
    assert_eq!(both[0], both[1]);
    assert_eq!(
        state.describe_topic("a").unwrap().partitions[0].high_watermark,
        6
    );
}

#[test]
fn unknown_topics_and_partitions_are_not_committed() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 1).id;
    let results = commit(
        &mut state,
        vec![segment(
            "s1",
            vec![chunk(a, 1, 3), chunk(99, 0, 3), chunk(a, 0, 2)],
        )],
    );
    assert_eq!(
        results[0].chunks,
        [
            ChunkOutcome::PartitionNotFound,
            ChunkOutcome::TopicNotFound,
            ChunkOutcome::Committed { base_offset: 0 },
        ]
    );
    let slice = state.partition_slice("a", 0, 0, 10).unwrap();
    assert_eq!(slice.entries.len(), 1);
    assert_eq!(slice.high_watermark, 2);
}

#[test]
fn chunks_of_a_deleted_topic_are_not_found_even_after_recreation() {
    let mut state = MetadataState::default();
    let old = create(&mut state, "a", 1).id;
    state.apply(&Command::DeleteTopic {
        name: "a".to_owned(),
        topic_id: None,
        request_id: None,
        at_ms: None,
    });
    let new = create(&mut state, "a", 1).id;
    assert_ne!(old, new);
    let results = commit(&mut state, vec![segment("s1", vec![chunk(old, 0, 3)])]);
    assert_eq!(results[0].chunks, [ChunkOutcome::TopicNotFound]);
    assert_eq!(
        state.describe_topic("a").unwrap().partitions[0].high_watermark,
        0
    );
}

#[test]
fn a_time_slice_starts_at_the_first_entry_reaching_the_timestamp_in_offset_order() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 1).id;
    // Max timestamps 100, 50, 300, 200: not monotonic in offset order.
    let stamped = |max: i64| ChunkCommit {
        first_timestamp_ms: max - 10,
        max_timestamp_ms: max,
        ..chunk(a, 0, 2)
    };
    let segments = [100, 50, 300, 200]
        .iter()
        .enumerate()
        .map(|(i, max)| segment(&format!("s{i}"), vec![stamped(*max)]))
        .collect();
    commit(&mut state, segments);
    let first_base = |t: i64| {
        let slice = state.time_slice("a", 0, t, 10).unwrap();
        slice.entries.first().map(|e| e.base_offset)
    };
    assert_eq!(first_base(i64::MIN), Some(0));
    assert_eq!(first_base(100), Some(0));
    assert_eq!(
        first_base(101),
        Some(4),
        "the entry of max 300 is the first to reach 101"
    );
    assert_eq!(first_base(250), Some(4));
    assert_eq!(first_base(301), None);
    let slice = state.time_slice("a", 0, 150, 1).unwrap();
    assert_eq!((slice.entries.len(), slice.high_watermark), (1, 8));
    assert!(state.time_slice("a", 1, 0, 1).is_err());
    assert!(state.time_slice("nope", 0, 0, 1).is_err());
}

#[test]
fn partition_slice_errors_and_bounds() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 2).id;
    commit(
        &mut state,
        vec![
            segment("s1", vec![chunk(a, 0, 3)]),
            segment("s2", vec![chunk(a, 0, 3)]),
            segment("s3", vec![chunk(a, 0, 3)]),
        ],
    );
    assert!(matches!(
        state.partition_slice("nope", 0, 0, 1),
        Err(Error::Rejected(CommandError::TopicNotFound(name))) if name == "nope"
    ));
    assert!(matches!(
        state.partition_slice("a", 2, 0, 1),
        Err(Error::PartitionNotFound {
            partition: 2,
            partitions: 2,
            ..
        })
    ));
    let from_4 = state.partition_slice("a", 0, 4, 10).unwrap();
    let bases: Vec<u64> = from_4.entries.iter().map(|e| e.base_offset).collect();
    assert_eq!(bases, [3, 6]);
    let limited = state.partition_slice("a", 0, 4, 1).unwrap();
    assert_eq!(limited.entries.len(), 1);
    let at_end = state.partition_slice("a", 0, 9, 10).unwrap();
    assert!(at_end.entries.is_empty());
    assert_eq!(at_end.high_watermark, 9);
    assert!(
        state
            .partition_slice("a", 1, 0, 10)
            .unwrap()
            .entries
            .is_empty()
    );
}

#[test]
fn state_round_trips_through_snapshot_encoding() {
    let mut state = MetadataState::default();
    let a = create(&mut state, "a", 2).id;
    commit(&mut state, vec![segment("s1", vec![chunk(a, 1, 3)])]);
    let (id, epoch) = init_producer(&mut state, None);
    commit(
        &mut state,
        vec![segment("s2", vec![produced(a, 0, 2, (id, epoch, 0))])],
    );
    state.apply(&Command::BrokerHeartbeat {
        broker_id: "b1".to_owned(),
        address: "http://127.0.0.1:1".to_owned(),
        lease_ms: 3_000,
        at_ms: 10,
    });
    state.apply(&Command::RecordOrphans {
        objects: vec!["lost".to_owned()],
        at_ms: 11,
    });
    let bytes = state.encode().unwrap();
    assert_eq!(MetadataState::decode(&bytes).unwrap(), state);
}

/// The names of a page's topics.
fn names(page: &TopicPage) -> Vec<&str> {
    page.topics.iter().map(|t| t.name.as_str()).collect()
}

#[test]
fn topic_pages_follow_name_order_and_cap_partitions() {
    let mut state = MetadataState::default();
    for name in ["c", "a", "d", "b"] {
        create(&mut state, name, 4096);
    }
    create(&mut state, "e", 1);
    // 4096 × 2 fit in 10 000 partitions, a third does not, whatever the limit.
    let first = state.topic_page(None, 1000).unwrap();
    assert_eq!(
        (names(&first), first.next_after.as_deref()),
        (vec!["a", "b"], Some("b"))
    );
    let second = state.topic_page(Some("b"), 1).unwrap();
    assert_eq!(
        (names(&second), second.next_after.as_deref()),
        (vec!["c"], Some("c"))
    );
    let last = state.topic_page(Some("c"), 3).unwrap();
    assert_eq!(
        (names(&last), last.next_after.as_deref()),
        (vec!["d", "e"], None)
    );
    // After a name no topic has: the topics after it; after every name: empty, the end.
    let between = state.topic_page(Some("bb"), 1).unwrap();
    assert_eq!(names(&between), ["c"]);
    let past = state.topic_page(Some("z"), 10).unwrap();
    assert_eq!((past.topics.len(), past.next_after), (0, None));
}

#[test]
fn topic_page_reads_past_their_limits_are_refused() {
    let state = MetadataState::default();
    for limit in [0, crate::limits::MAX_TOPIC_PAGE + 1] {
        let refused = state.topic_page(None, limit);
        assert!(matches!(
            refused,
            Err(Error::Rejected(CommandError::InvalidCommand(_)))
        ));
    }
    let long = "x".repeat(crate::limits::MAX_TOPIC_NAME_BYTES + 1);
    assert!(state.topic_page(Some(&long), 1).is_err());
}

#[test]
fn creates_past_the_ceilings_are_refused() {
    use crate::limits::{MAX_PRODUCER_IDS, MAX_TOPICS, MAX_TOTAL_PARTITIONS};
    let full = |topics, partitions, producer_ids| Usage {
        topics,
        partitions,
        producer_ids,
    };
    assert!(validate::topic_quota(&full(MAX_TOPICS - 1, MAX_TOTAL_PARTITIONS - 2, 0), 2).is_ok());
    let refused = validate::topic_quota(&full(MAX_TOPICS, 0, 0), 1);
    let quota = |name: &str, limit, used, asked| {
        let quota = name.to_owned();
        Err(CommandError::QuotaExceeded {
            quota,
            limit,
            used,
            asked,
        })
    };
    assert_eq!(
        refused,
        quota("limits::MAX_TOPICS", MAX_TOPICS, MAX_TOPICS, 1)
    );
    let refused = validate::topic_quota(&full(0, MAX_TOTAL_PARTITIONS - 1, 0), 2);
    let expected = quota(
        "limits::MAX_TOTAL_PARTITIONS",
        MAX_TOTAL_PARTITIONS,
        MAX_TOTAL_PARTITIONS - 1,
        2,
    );
    assert_eq!(refused, expected);
    let refused = validate::producer_quota(&full(0, 0, MAX_PRODUCER_IDS));
    let expected = quota(
        "limits::MAX_PRODUCER_IDS",
        MAX_PRODUCER_IDS,
        MAX_PRODUCER_IDS,
        1,
    );
    assert_eq!(refused, expected);
}

#[test]
fn quotas_count_what_is_in_use() {
    let mut state = MetadataState::default();
    create(&mut state, "a", 3);
    create(&mut state, "b", 4);
    init_producer(&mut state, None);
    let expected = Usage {
        topics: 2,
        partitions: 7,
        producer_ids: 1,
    };
    assert_eq!(state.usage(), expected);
    assert!(validate::quota("q", 10, 7, 3).is_ok());
    let refused = validate::quota("q", 10, 7, 4);
    assert!(matches!(
        refused,
        Err(CommandError::QuotaExceeded { limit: 10, .. })
    ));
    assert!(validate::quota("q", u64::MAX, u64::MAX, 1).is_err());
}

#[test]
fn usage_of_counts_what_one_owner_created_and_survives_a_snapshot() {
    let mut state = MetadataState::default();
    let owned = |name: &str, partitions, owner: Option<&str>| Command::CreateTopic {
        name: name.to_owned(),
        partitions,
        settings: TopicSettings::default(),
        created_at_ms: 1,
        request_id: None,
        owner: owner.map(str::to_owned),
    };
    for (name, partitions, owner) in [
        ("a", 2, Some("p")),
        ("b", 3, Some("p")),
        ("c", 5, Some("q")),
        ("d", 7, None),
    ] {
        assert!(matches!(
            state.apply(&owned(name, partitions, owner)),
            CommandResult::Topic(_)
        ));
    }
    let producer = Command::InitProducer {
        producer_id: None,
        new_id: None,
        owner: Some("p".to_owned()),
        request_id: None,
    };
    assert!(matches!(state.apply(&producer), CommandResult::Producer(_)));
    let p = Usage {
        topics: 2,
        partitions: 5,
        producer_ids: 1,
    };
    assert_eq!(state.usage_of("p"), p);
    assert_eq!(state.usage_of("nobody"), Usage::default());
    let restored = MetadataState::decode(&state.encode().unwrap()).unwrap();
    assert_eq!(restored.usage_of("p"), p);
    assert!(matches!(
        state.apply(&Command::DeleteTopic {
            name: "a".into(),
            topic_id: None,
            request_id: None,
            at_ms: None,
        }),
        CommandResult::Deleted
    ));
    assert_eq!(state.usage_of("p").partitions, 3);
}

/// Applies `command`, returning the partitions it changed as `(topic id, partition, high
/// watermark, deleted)`.
fn changed_by(state: &mut MetadataState, command: &Command) -> Vec<(u64, u32, u64, bool)> {
    let touched = state.touched_partitions(command);
    state.apply(command);
    let changes = state.partition_changes(4, touched);
    assert!(changes.iter().all(|c| c.index == 4));
    changes
        .iter()
        .map(|c| (c.topic_id, c.partition, c.high_watermark, c.deleted))
        .collect()
}

#[test]
fn a_commit_changes_its_chunks_partitions_and_a_delete_all_of_the_topics() {
    let mut state = MetadataState::default();
    let topic = create(&mut state, "t", 3);
    let chunks = vec![
        chunk(topic.id, 0, 2),
        chunk(topic.id, 2, 1),
        chunk(topic.id, 0, 3),
    ];
    let command = Command::CommitSegments {
        segments: vec![segment("s", chunks)],
        at_ms: None,
    };
    assert_eq!(
        changed_by(&mut state, &command),
        [(topic.id, 0, 5, false), (topic.id, 2, 1, false)]
    );
    let delete = Command::DeleteTopic {
        name: "t".to_owned(),
        topic_id: None,
        request_id: None,
        at_ms: None,
    };
    assert_eq!(
        changed_by(&mut state, &delete),
        [
            (topic.id, 0, 0, true),
            (topic.id, 1, 0, true),
            (topic.id, 2, 0, true)
        ]
    );
    let create_again = Command::CreateTopic {
        name: "u".to_owned(),
        partitions: 1,
        settings: TopicSettings::default(),
        created_at_ms: 1,
        request_id: None,
        owner: None,
    };
    assert_eq!(changed_by(&mut state, &create_again), []);
}

fn create_with_id(name: &str, request_id: &str) -> Command {
    Command::CreateTopic {
        name: name.to_owned(),
        partitions: 1,
        settings: TopicSettings::default(),
        created_at_ms: 1_000,
        request_id: Some(request_id.to_owned()),
        owner: None,
    }
}

fn new_producer_with_id(request_id: String) -> Command {
    Command::InitProducer {
        producer_id: None,
        new_id: None,
        owner: None,
        request_id: Some(request_id),
    }
}

#[test]
fn a_retried_create_answers_its_own_topic_and_a_new_request_is_refused() {
    let mut state = MetadataState::default();
    let first = state.apply(&create_with_id("orders", "req-1"));
    let CommandResult::Topic(topic) = &first else {
        panic!("unexpected {first:?}");
    };
    let retried = state.apply(&create_with_id("orders", "req-1"));
    assert_eq!(
        retried, first,
        "a retry of request req-1 answered {retried:?}"
    );
    assert_eq!(state.list_topics().len(), 1);
    assert_eq!(state.describe_topic("orders").unwrap().id, topic.id);
    assert_eq!(
        state.apply(&create_with_id("orders", "req-2")),
        CommandResult::Rejected(CommandError::TopicAlreadyExists("orders".to_owned()))
    );
    // The window rides in the snapshot: a follower that installs it answers retries alike.
    let mut restored = MetadataState::decode(&state.encode().unwrap()).unwrap();
    assert_eq!(restored, state);
    assert_eq!(restored.apply(&create_with_id("orders", "req-1")), first);
}

#[test]
fn a_retried_delete_and_init_producer_are_not_applied_twice() {
    let mut state = MetadataState::default();
    let old = create(&mut state, "a", 1).id;
    let delete = Command::DeleteTopic {
        name: "a".to_owned(),
        topic_id: None,
        request_id: Some("del".to_owned()),
        at_ms: None,
    };
    assert_eq!(state.apply(&delete), CommandResult::Deleted);
    let new = create(&mut state, "a", 1).id;
    assert_eq!(state.apply(&delete), CommandResult::Deleted);
    assert_eq!(state.describe_topic("a").unwrap().id, new);
    assert_ne!(old, new);
    let init = new_producer_with_id("init".to_owned());
    let issued = state.apply(&init);
    assert_eq!(state.apply(&init), issued);
    assert_eq!(state.usage().producer_ids, 1);
}

#[test]
fn the_request_window_is_bounded_and_forgets_the_oldest_first() {
    let mut state = MetadataState::default();
    let window = crate::limits::REQUEST_WINDOW;
    for n in 0..=window {
        state.apply(&new_producer_with_id(format!("r{n}")));
    }
    let issued = state.usage().producer_ids;
    assert_eq!(issued, window as u64 + 1);
    // The newest `window` ids are remembered: their retries issue nothing.
    state.apply(&new_producer_with_id("r1".to_owned()));
    state.apply(&new_producer_with_id(format!("r{window}")));
    assert_eq!(state.usage().producer_ids, issued);
    // The oldest was forgotten: its id is applied as a new request.
    state.apply(&new_producer_with_id("r0".to_owned()));
    assert_eq!(state.usage().producer_ids, issued + 1);
    assert_eq!(state.requests.len(), window);
}

#[test]
fn the_first_cluster_id_wins_and_survives_a_snapshot() {
    let mut state = MetadataState::default();
    let init = |id: &str| Command::InitCluster {
        cluster_id: id.to_owned(),
    };
    let first = CommandResult::Cluster("first".to_owned());
    let read = |state: &MetadataState| state.query(&ReadQuery::ClusterId).unwrap();
    assert_eq!(read(&state), ReadReply::ClusterId(None));
    assert_eq!(state.apply(&init("first")), first);
    assert_eq!(read(&state), ReadReply::ClusterId(Some("first".to_owned())));
    assert_eq!(state.apply(&init("second")), first);
    let mut restored = MetadataState::decode(&state.encode().unwrap()).unwrap();
    assert_eq!(restored.apply(&init("third")), first);
    let old_snapshot =
        br#"{"topics":{"by_name":{},"names_by_id":{},"next_topic_id":1},"segments":{}}"#;
    let mut old = MetadataState::decode(old_snapshot).unwrap();
    assert_eq!(
        old.apply(&init("later")),
        CommandResult::Cluster("later".to_owned())
    );
}
