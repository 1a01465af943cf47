//! Tests of [`super::backup`]: a released object waits for a backup taken at or after its
//! release before the garbage collector (with backups on) may delete it.

use super::gc::DueBefore;
use super::test_support::state_with_garbage;
use super::*;
use crate::types::GarbageKind;

/// With backups on or off, long after every grace: the released objects due, and whether
/// `s1` (released by the entry at index 10) is in use.
fn released_due(state: &MetadataState, after_backup: bool) -> (Vec<String>, bool) {
    let due = DueBefore {
        released: i64::MAX,
        orphaned: i64::MIN,
        after_backup,
    };
    let list = state.garbage(due, 100).unwrap();
    let objects = list
        .due
        .into_iter()
        .filter(|g| g.kind == GarbageKind::Released);
    let in_use = state.in_use(&["s1".to_owned()], due).unwrap();
    (objects.map(|g| g.object).collect(), !in_use.is_empty())
}

fn record(state: &mut MetadataState, at: u64, index: u64) -> CommandResult {
    state.apply_at(at, &Command::RecordBackup { index })
}

#[test]
fn a_released_object_waits_for_a_backup_taken_at_or_after_its_release() {
    let mut state = state_with_garbage();
    assert_eq!(released_due(&state, false), (vec!["s1".to_owned()], false));
    assert_eq!(released_due(&state, true), (vec![], true), "no backup yet");
    // A backup taken before the release still references s1.
    assert_eq!(record(&mut state, 12, 9), CommandResult::BackedUp(Some(9)));
    assert_eq!(released_due(&state, true), (vec![], true));
    assert_eq!(
        record(&mut state, 13, 10),
        CommandResult::BackedUp(Some(10))
    );
    assert_eq!(released_due(&state, true), (vec!["s1".to_owned()], false));
}

#[test]
fn a_backup_index_never_moves_back_nor_beyond_its_own_entry() {
    let mut state = state_with_garbage();
    assert_eq!(record(&mut state, 11, 50), CommandResult::BackedUp(None));
    assert_eq!(released_due(&state, true), (vec![], true));
    assert_eq!(record(&mut state, 20, 9), CommandResult::BackedUp(Some(9)));
    assert_eq!(record(&mut state, 21, 5), CommandResult::BackedUp(Some(9)));
    let mut replica = state_with_garbage();
    record(&mut replica, 11, 50);
    record(&mut replica, 20, 9);
    record(&mut replica, 21, 5);
    assert_eq!(replica, state, "deterministic");
}

#[test]
fn the_wait_survives_a_snapshot_and_forgetting_garbage_clears_it() {
    let mut state = state_with_garbage();
    let decoded = MetadataState::decode(&state.encode().unwrap()).unwrap();
    assert_eq!(decoded, state);
    assert_eq!(released_due(&decoded, true), (vec![], true));
    state.apply(&Command::ForgetGarbage {
        objects: vec!["s1".to_owned()],
    });
    assert!(state.unbacked.is_empty());
}
