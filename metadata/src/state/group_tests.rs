//! Unit tests of the consumer-group commands of [`MetadataState`]: commits and resets
//! checked against partition ranges, every refusal changing nothing, deletes, and groups in
//! snapshots.

use super::*;
use crate::types::{ChunkCommit, OffsetCommit, ResetTarget, ResetTo, SegmentCommit};

/// A state with topic `t` of 2 partitions holding 10 and 0 records.
fn state_with_records() -> MetadataState {
    let mut state = MetadataState::default();
    let created = state.apply(&Command::CreateTopic {
        name: "t".to_owned(),
        partitions: 2,
        settings: TopicSettings::default(),
        created_at_ms: 1,
        request_id: None,
        owner: None,
    });
    let CommandResult::Topic(topic) = created else {
        panic!("{created:?}")
    };
    let chunk = ChunkCommit {
        topic_id: topic.id,
        partition: 0,
        position: 0,
        length: 10,
        record_count: 10,
        first_timestamp_ms: 5,
        max_timestamp_ms: 6,
        producer: None,
    };
    let segment = SegmentCommit {
        object: "s".to_owned(),
        size: 10,
        chunks: vec![chunk],
        sealed_at_ms: None,
        offset_commits: Vec::new(),
    };
    let segments = vec![segment];
    state.apply(&Command::CommitSegments {
        segments,
        at_ms: None,
    });
    state
}

fn offset(topic: &str, partition: u32, offset: u64) -> OffsetCommit {
    OffsetCommit {
        topic: topic.to_owned(),
        partition,
        offset,
        metadata: None,
    }
}

fn commit(group: &str, offsets: Vec<OffsetCommit>) -> Command {
    Command::CommitOffsets {
        group: group.to_owned(),
        generation: None,
        member_id: None,
        offsets,
        at_ms: 7,
    }
}

fn reset(group: &str, partition: u32, to: ResetTo) -> Command {
    let target = ResetTarget {
        topic: "t".to_owned(),
        partition,
        to,
    };
    Command::ResetOffsets {
        group: group.to_owned(),
        targets: vec![target],
        force: false,
        at_ms: 8,
    }
}

/// `(offset, lag)` of each of `group`'s offsets.
fn offsets(state: &MetadataState, group: &str) -> Vec<(u64, u64)> {
    let view = state.describe_group(group).unwrap();
    view.offsets.iter().map(|o| (o.offset, o.lag)).collect()
}

#[test]
fn commits_read_back_with_lag_and_ride_in_snapshots() {
    let mut state = state_with_records();
    let mut first = offset("t", 0, 4);
    first.metadata = Some("m".to_owned());
    let result = state.apply(&commit("g", vec![first, offset("t", 1, 0)]));
    let CommandResult::GroupOffsets(set) = result else {
        panic!("{result:?}")
    };
    assert_eq!(set[0].lag, 6);
    assert_eq!(set[0].metadata.as_deref(), Some("m"));
    assert_eq!(set[0].committed_at_ms, 7);
    assert_eq!(offsets(&state, "g"), [(4, 6), (0, 0)]);
    assert_eq!(state.list_groups()[0].offsets, 2);
    let restored = MetadataState::decode(&state.encode().unwrap()).unwrap();
    assert_eq!(restored, state);
    assert_eq!(offsets(&restored, "g"), [(4, 6), (0, 0)]);
}

#[test]
fn every_refused_commit_changes_nothing() {
    let mut state = state_with_records();
    state.apply(&commit("g", vec![offset("t", 0, 2)]));
    let before = state.clone();
    let mut long = offset("t", 0, 1);
    long.metadata = Some("x".repeat(crate::limits::MAX_OFFSET_METADATA_BYTES + 1));
    let member = Command::CommitOffsets {
        group: "g".to_owned(),
        generation: Some(1),
        member_id: Some("m".to_owned()),
        offsets: vec![offset("t", 0, 1)],
        at_ms: 1,
    };
    let half_member = Command::CommitOffsets {
        group: "g".to_owned(),
        generation: Some(1),
        member_id: None,
        offsets: vec![offset("t", 0, 1)],
        at_ms: 1,
    };
    let refused = [
        commit("g", vec![offset("t", 0, 1), offset("t", 0, 11)]),
        commit("g", vec![offset("t", 1, 0), offset("nope", 0, 0)]),
        commit("g", vec![offset("t", 2, 0)]),
        commit("g", vec![long]),
        commit("g", Vec::new()),
        commit("bad name", vec![offset("t", 0, 1)]),
        commit("new", vec![offset("t", 0, 11)]),
        member,
        half_member,
        reset("g", 0, ResetTo::Offset(11)),
        reset("g", 5, ResetTo::Earliest),
        Command::DeleteGroup {
            group: "none".to_owned(),
        },
    ];
    for command in refused {
        let result = state.apply(&command);
        assert!(
            matches!(result, CommandResult::Rejected(_)),
            "{command:?}: {result:?}"
        );
        assert_eq!(state, before, "{command:?} changed the state");
    }
    let result = state.apply(&commit("g", vec![offset("t", 0, 11)]));
    let CommandResult::Rejected(refusal) = result else {
        panic!("{result:?}")
    };
    assert!(
        refusal.to_string().contains("valid range 0..=10"),
        "{refusal}"
    );
}

#[test]
fn resets_move_to_the_bounds_or_an_offset_and_deletes_remove_the_group() {
    let mut state = state_with_records();
    state.apply(&commit("g", vec![offset("t", 0, 3)]));
    state.apply(&reset("g", 0, ResetTo::Latest));
    assert_eq!(offsets(&state, "g"), [(10, 0)]);
    state.apply(&reset("g", 0, ResetTo::Earliest));
    assert_eq!(offsets(&state, "g"), [(0, 10)]);
    state.apply(&reset("g", 0, ResetTo::Offset(6)));
    assert_eq!(offsets(&state, "g"), [(6, 4)]);
    // A reset may create a group.
    state.apply(&reset("fresh", 1, ResetTo::Latest));
    assert_eq!(offsets(&state, "fresh"), [(0, 0)]);
    let deleted = state.apply(&Command::DeleteGroup {
        group: "g".to_owned(),
    });
    assert_eq!(deleted, CommandResult::GroupDeleted);
    assert!(state.describe_group("g").is_err());
    assert_eq!(state.list_groups().len(), 1);
}

#[test]
fn deleting_a_topic_drops_its_offsets_and_old_snapshots_decode_without_groups() {
    let mut state = state_with_records();
    state.apply(&commit("g", vec![offset("t", 0, 3)]));
    state.apply(&Command::DeleteTopic {
        name: "t".to_owned(),
        topic_id: None,
        request_id: None,
        at_ms: None,
    });
    assert_eq!(offsets(&state, "g"), []);
    let old = br#"{"topics":{"by_name":{},"names_by_id":{},"next_topic_id":1},"segments":{}}"#;
    let decoded = MetadataState::decode(old).unwrap();
    assert!(decoded.list_groups().is_empty());
}

fn join(state: &mut MetadataState, member: &str, new: bool) -> CommandResult {
    state.apply(&Command::JoinGroup {
        group: "g".to_owned(),
        member: crate::types::MemberJoin {
            member_id: member.to_owned(),
            new,
            client_id: None,
            topics: vec!["t".to_owned()],
            session_timeout_ms: 10_000,
            assignor: crate::types::Assignor::Range,
        },
        at_ms: 3,
    })
}

fn member_commit(member: &str, generation: u64, topic: &str) -> Command {
    Command::CommitOffsets {
        group: "g".to_owned(),
        generation: Some(generation),
        member_id: Some(member.to_owned()),
        offsets: vec![offset(topic, 0, 1)],
        at_ms: 9,
    }
}

/// Each member's partition count.
fn loads(state: &MetadataState) -> Vec<usize> {
    let view = state.describe_group("g").unwrap();
    view.members.iter().map(|m| m.assignment.len()).collect()
}

#[test]
fn joins_and_leaves_bump_the_generation_and_reassign_every_partition() {
    let mut state = state_with_records();
    for member in ["a", "b"] {
        assert!(matches!(
            join(&mut state, member, true),
            CommandResult::Joined(_)
        ));
    }
    assert_eq!(state.describe_group("g").unwrap().generation, 2);
    assert_eq!(loads(&state), [1, 1]);
    // A rejoin with the same subscription changes nothing.
    join(&mut state, "a", false);
    assert_eq!(state.describe_group("g").unwrap().generation, 2);
    let (view, rebalanced) = state.heartbeat("g", "a", Some(1)).unwrap();
    assert!(rebalanced);
    assert_eq!(view.generation, 2);
    let left = state.apply(&Command::LeaveGroup {
        group: "g".to_owned(),
        member_id: "b".to_owned(),
    });
    assert!(matches!(
        left,
        CommandResult::Rebalanced {
            generation: 3,
            removed: 1
        }
    ));
    assert_eq!(loads(&state), [2]);
    let expired = state.apply(&Command::ExpireMembers {
        group: "g".to_owned(),
        member_ids: vec!["a".to_owned(), "gone".to_owned()],
    });
    assert!(matches!(
        expired,
        CommandResult::Rebalanced {
            generation: 4,
            removed: 1
        }
    ));
    assert!(state.sessions().is_empty());
    // Expiring nobody changes nothing.
    let before = state.clone();
    state.apply(&Command::ExpireMembers {
        group: "g".to_owned(),
        member_ids: vec!["a".to_owned()],
    });
    assert_eq!(state, before);
}

#[test]
fn every_refused_membership_command_changes_nothing() {
    let mut state = state_with_records();
    join(&mut state, "a", true);
    state.apply(&member_commit("a", 1, "t"));
    let before = state.clone();
    let mut unknown_topic = Command::JoinGroup {
        group: "g".to_owned(),
        member: crate::types::MemberJoin {
            member_id: "x".to_owned(),
            new: true,
            client_id: None,
            topics: vec!["nope".to_owned()],
            session_timeout_ms: 10_000,
            assignor: crate::types::Assignor::Range,
        },
        at_ms: 1,
    };
    let refused = [
        join(&mut state.clone(), "ghost", false),
        state.clone().apply(&member_commit("a", 0, "t")),
        state.clone().apply(&member_commit("ghost", 1, "t")),
        state.clone().apply(&commit("g", vec![offset("t", 0, 1)])),
        state.clone().apply(&reset("g", 0, ResetTo::Latest)),
        state.clone().apply(&Command::DeleteGroup {
            group: "g".to_owned(),
        }),
        state.clone().apply(&Command::LeaveGroup {
            group: "g".to_owned(),
            member_id: "ghost".to_owned(),
        }),
        state.clone().apply(&unknown_topic),
    ];
    for result in refused {
        assert!(matches!(result, CommandResult::Rejected(_)), "{result:?}");
    }
    // The same, applied for real: nothing changed.
    join(&mut state, "ghost", false);
    state.apply(&member_commit("a", 0, "t"));
    state.apply(&commit("g", vec![offset("t", 0, 1)]));
    state.apply(&reset("g", 0, ResetTo::Latest));
    state.apply(&unknown_topic);
    if let Command::JoinGroup { member, .. } = &mut unknown_topic {
        member.topics = vec!["t".to_owned()];
        member.session_timeout_ms = 10;
    }
    assert!(matches!(
        state.apply(&unknown_topic),
        CommandResult::Rejected(_)
    ));
    assert_eq!(state, before);
    let not_read = state.apply(&Command::CreateTopic {
        name: "u".to_owned(),
        partitions: 1,
        settings: TopicSettings::default(),
        created_at_ms: 1,
        request_id: None,
        owner: None,
    });
    assert!(matches!(not_read, CommandResult::Topic(_)));
    let refusal = state.apply(&member_commit("a", 1, "u"));
    assert!(matches!(
        refusal,
        CommandResult::Rejected(CommandError::NotSubscribed { .. })
    ));
    // Forced, a reset goes through while members are active.
    let forced = Command::ResetOffsets {
        group: "g".to_owned(),
        targets: vec![ResetTarget {
            topic: "t".to_owned(),
            partition: 0,
            to: ResetTo::Latest,
        }],
        force: true,
        at_ms: 1,
    };
    assert!(matches!(
        state.apply(&forced),
        CommandResult::GroupOffsets(_)
    ));
}

#[test]
fn members_ride_in_snapshots_and_a_deleted_topic_leaves_their_assignment() {
    let mut state = state_with_records();
    join(&mut state, "a", true);
    let restored = MetadataState::decode(&state.encode().unwrap()).unwrap();
    assert_eq!(restored, state);
    assert_eq!(loads(&restored), [2]);
    state.apply(&Command::DeleteTopic {
        name: "t".to_owned(),
        topic_id: None,
        request_id: None,
        at_ms: None,
    });
    let view = state.describe_group("g").unwrap();
    assert_eq!(view.generation, 2);
    assert_eq!(loads(&state), [0]);
}
