//! Unit tests of garbage collection in [`MetadataState`]: the named lease (granted, renewed,
//! refused while another holder's is live, taken over once it ended, deterministic), the
//! garbage due, and forgetting deleted garbage (never a referenced object; replay harmless).

use super::test_support::state_with_garbage;
use super::*;
use crate::types::{GarbageKind, LeaseView};

fn take(state: &mut MetadataState, holder: &str, until_ms: i64, at_ms: i64) -> CommandResult {
    state.apply(&Command::TakeLease {
        name: "gc".to_owned(),
        holder: holder.to_owned(),
        until_ms,
        at_ms,
    })
}

fn lease(holder: &str, until_ms: i64) -> CommandResult {
    CommandResult::Lease(LeaseView {
        name: "gc".to_owned(),
        holder: holder.to_owned(),
        until_ms,
    })
}

/// The commands of [`the_lease_is_refused_while_live_and_taken_over_once_it_ended`].
fn lease_history(state: &mut MetadataState) -> Vec<CommandResult> {
    vec![
        take(state, "a", 2_000, 1_000),
        take(state, "b", 2_500, 1_500),
        take(state, "a", 3_000, 1_900),
        take(state, "b", 4_000, 2_999),
        take(state, "b", 4_000, 3_000),
        take(state, "a", 5_000, 3_500),
    ]
}

#[test]
fn the_lease_is_refused_while_live_and_taken_over_once_it_ended() {
    let mut state = MetadataState::default();
    let answers = lease_history(&mut state);
    let expected = [
        lease("a", 2_000),
        lease("a", 2_000), // b refused: a's lease is live
        lease("a", 3_000), // a renews
        lease("a", 3_000), // still live one ms before its end
        lease("b", 4_000), // ended at 3 000: b takes over
        lease("b", 4_000), // a refused in turn
    ];
    assert_eq!(answers, expected);
    let mut replica = MetadataState::default();
    assert_eq!(lease_history(&mut replica), expected, "deterministic");
    assert_eq!(replica, state);
    let decoded = MetadataState::decode(&state.encode().unwrap()).unwrap();
    assert_eq!(decoded, state, "leases survive a snapshot");
}

#[test]
fn a_bad_lease_is_refused_and_changes_nothing() {
    let mut state = MetadataState::default();
    for (holder, until_ms, at_ms) in [
        ("a", 1_000, 1_000),
        ("a", 1_000 + 3_600_001, 1_000),
        ("", 2_000, 1_000),
    ] {
        let answer = take(&mut state, holder, until_ms, at_ms);
        assert!(
            matches!(
                answer,
                CommandResult::Rejected(CommandError::InvalidCommand(_))
            ),
            "{answer:?}"
        );
    }
    assert_eq!(state, MetadataState::default());
}

fn due(state: &MetadataState, released: i64, orphaned: i64) -> Vec<(String, GarbageKind)> {
    let before = gc::DueBefore {
        released,
        orphaned,
        after_backup: false,
    };
    let list = state.garbage(before, 10).unwrap();
    list.due.into_iter().map(|g| (g.object, g.kind)).collect()
}

#[test]
fn garbage_is_due_after_its_time_and_never_a_referenced_object() {
    let mut state = state_with_garbage();
    assert_eq!(
        state
            .garbage(
                gc::DueBefore {
                    released: 0,
                    orphaned: 0,
                    after_backup: false,
                },
                10
            )
            .unwrap()
            .backlog,
        2
    );
    assert_eq!(due(&state, 100, 50), []);
    assert_eq!(
        due(&state, 101, 51),
        [
            ("s1".to_owned(), GarbageKind::Released),
            ("o1".to_owned(), GarbageKind::Orphan)
        ]
    );
    // Were a referenced object ever listed as released, it would still not be due.
    state.released.insert("s2".to_owned(), 0);
    assert_eq!(
        due(&state, 101, 0),
        [("s1".to_owned(), GarbageKind::Released)]
    );
    assert!(
        state
            .garbage(
                gc::DueBefore {
                    released: 0,
                    orphaned: 0,
                    after_backup: false,
                },
                0
            )
            .is_err()
    );
}

#[test]
fn forgetting_never_removes_a_referenced_object_and_a_replay_changes_nothing() {
    let mut state = state_with_garbage();
    state.released.insert("s2".to_owned(), 0);
    let objects = ["s1", "s2", "o1", "never-heard-of"]
        .map(str::to_owned)
        .to_vec();
    let forget = Command::ForgetGarbage { objects };
    assert_eq!(state.apply(&forget), CommandResult::Forgotten(2));
    assert!(state.orphans().is_empty());
    assert_eq!(state.released().keys().collect::<Vec<_>>(), ["s2"]);
    assert_eq!(
        state.partition_slice("t", 0, 2, 10).unwrap().entries.len(),
        1
    );
    let after = state.clone();
    assert_eq!(state.apply(&forget), CommandResult::Forgotten(0));
    assert_eq!(state, after);
    let empty = Command::ForgetGarbage {
        objects: Vec::new(),
    };
    assert!(matches!(state.apply(&empty), CommandResult::Rejected(_)));
}

/// Released objects due before `released` (backups off).
fn released(released: i64) -> gc::DueBefore {
    gc::DueBefore {
        released,
        orphaned: i64::MIN,
        after_backup: false,
    }
}

#[test]
fn referenced_objects_are_read_in_bounded_pages_in_name_order() {
    let state = state_with_garbage();
    // s1 was released by the trim; o1 is an orphan: only s2 is referenced.
    assert_eq!(state.referenced(None, 10).unwrap(), ["s2"]);
    assert_eq!(state.referenced(Some("s1"), 1).unwrap(), ["s2"]);
    assert!(state.referenced(Some("s2"), 10).unwrap().is_empty());
    assert!(state.referenced(None, 0).is_err());
    assert!(state.referenced(None, 1001).is_err());
}

#[test]
fn referenced_objects_and_those_released_within_the_grace_are_in_use() {
    let state = state_with_garbage();
    let asked = ["o1", "s2", "s1", "unknown"].map(str::to_owned).to_vec();
    // s1 was released at 100.
    assert_eq!(state.in_use(&asked, released(100)).unwrap(), ["s2", "s1"]);
    assert_eq!(state.in_use(&asked, released(101)).unwrap(), ["s2"]);
    assert!(state.in_use(&[], released(0)).is_err());
}
