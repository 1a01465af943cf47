//! Tests of idle producer expiry ([`Command::ExpireProducers`]): a producer id unused for
//! longer than the idle time is removed, by the command's proposal time; a later request
//! with it is refused as unknown; the counts behind the quotas go down; replay and
//! snapshots agree.

use super::*;
use crate::types::{ChunkCommit, ChunkOutcome, ProducerBatch, SegmentCommit};

const HOUR: i64 = 60 * 60 * 1000;
const IDLE_MS: u64 = 24 * 60 * 60 * 1000;

fn topic(state: &mut MetadataState) -> u64 {
    super::test_support::create_topic(state, "a", 1).id
}

fn issue(state: &mut MetadataState, id: u64, owner: &str) {
    let result = state.apply(&Command::InitProducer {
        producer_id: None,
        new_id: Some(id),
        owner: Some(owner.to_owned()),
        request_id: None,
    });
    assert!(matches!(result, CommandResult::Producer(_)), "{result:?}");
}

/// Commits one chunk of producer `id`'s request `sequence` at `at_ms`.
fn produce(
    state: &mut MetadataState,
    topic_id: u64,
    (id, sequence): (u64, u64),
    at_ms: i64,
) -> ChunkOutcome {
    let chunk = ChunkCommit {
        topic_id,
        partition: 0,
        position: 0,
        length: 10,
        record_count: 1,
        first_timestamp_ms: 1,
        max_timestamp_ms: 1,
        producer: Some(ProducerBatch {
            producer_id: id,
            epoch: 0,
            sequence,
            digest: None,
        }),
    };
    let command = Command::CommitSegments {
        segments: vec![SegmentCommit {
            object: format!("s-{id}-{sequence}-{at_ms}"),
            size: 10,
            sealed_at_ms: Some(at_ms),
            offset_commits: Vec::new(),
            chunks: vec![chunk],
        }],
        at_ms: Some(at_ms),
    };
    match state.apply(&command) {
        CommandResult::Committed(mut results) => results.remove(0).chunks.remove(0),
        other => panic!("unexpected {other:?}"),
    }
}

fn expire(state: &mut MetadataState, at_ms: i64) -> CommandResult {
    state.apply(&Command::ExpireProducers {
        idle_ms: IDLE_MS,
        at_ms,
    })
}

#[test]
fn an_idle_producer_expires_and_an_active_one_stays() {
    let mut state = MetadataState::default();
    let a = topic(&mut state);
    issue(&mut state, 1, "alice");
    issue(&mut state, 2, "alice");
    assert_eq!(state.usage_of("alice").producer_ids, 2);
    // The first sweep starts the clock of ids never used since it existed.
    expire(&mut state, 0);
    assert_eq!(
        produce(&mut state, a, (1, 0), HOUR),
        ChunkOutcome::Committed { base_offset: 0 }
    );
    expire(&mut state, 20 * HOUR);
    assert_eq!(state.usage().producer_ids, 2, "nothing idle for a day yet");
    assert_eq!(
        produce(&mut state, a, (1, 1), 23 * HOUR),
        ChunkOutcome::Committed { base_offset: 1 }
    );
    expire(&mut state, 25 * HOUR);
    assert!(state.producer(2).is_none(), "idle since 0");
    assert!(state.producer(1).is_some(), "used at 23 h");
    assert_eq!(state.usage().producer_ids, 1);
    assert_eq!(state.usage_of("alice").producer_ids, 1);
    // A request of the expired id is refused as unknown and appends nothing.
    assert_eq!(
        produce(&mut state, a, (2, 0), 26 * HOUR),
        ChunkOutcome::UnknownProducer
    );
    assert_eq!(
        state.describe_topic("a").unwrap().partitions[0].high_watermark,
        2
    );
    // Bumping it is refused too: the owner must ask for a new id.
    let bump = state.apply(&Command::InitProducer {
        producer_id: Some(2),
        new_id: None,
        owner: Some("alice".to_owned()),
        request_id: None,
    });
    assert_eq!(
        bump,
        CommandResult::Rejected(CommandError::ProducerNotFound(2))
    );
}

#[test]
fn producer_expiry_is_the_same_on_replay_and_across_a_snapshot() {
    let mut commands = Vec::new();
    for id in 1..=20u64 {
        commands.push(Command::InitProducer {
            producer_id: None,
            new_id: Some(id),
            owner: None,
            request_id: None,
        });
    }
    commands.push(Command::ExpireProducers {
        idle_ms: IDLE_MS,
        at_ms: 0,
    });
    for hour in 1..60i64 {
        commands.push(Command::ExpireProducers {
            idle_ms: IDLE_MS,
            at_ms: hour * HOUR,
        });
    }
    let (mut first, mut second) = (MetadataState::default(), MetadataState::default());
    let a = topic(&mut first);
    topic(&mut second);
    for (n, command) in commands.iter().enumerate() {
        first.apply(command);
        second.apply(command);
        if n % 7 == 0 {
            let at = i64::try_from(n).unwrap() * HOUR / 2;
            let id = u64::try_from(n % 20).unwrap() + 1;
            let (x, y) = (
                produce(&mut first, a, (id, 0), at),
                produce(&mut second, a, (id, 0), at),
            );
            assert_eq!(x, y);
        }
        if n == 40 {
            second = MetadataState::decode(&second.encode().unwrap()).unwrap();
        }
    }
    assert_eq!(first, second);
    assert_eq!(
        first.usage().producer_ids,
        0,
        "all idle for more than a day at the end"
    );
}

#[test]
fn an_expiry_with_a_zero_idle_time_is_refused() {
    let mut state = MetadataState::default();
    issue(&mut state, 1, "alice");
    let refused = state.apply(&Command::ExpireProducers {
        idle_ms: 0,
        at_ms: 5,
    });
    assert!(matches!(refused, CommandResult::Rejected(_)), "{refused:?}");
    assert!(state.producer(1).is_some());
}
