//! [`Liveness`]: when each consumer-group member was last heard from, on the metadata leader
//! only. In memory, not replicated and not in snapshots (like [`crate::changes`]): a
//! heartbeat costs a map update, never a Raft write.
//!
//! The session tracker ([`track_sessions`]) runs on every node and acts only while the node
//! leads: each tick it gives members it has not heard from yet a fresh start (so after a
//! leader change, or a join, every member has one whole session timeout to heartbeat), and
//! proposes `ExpireMembers` for those silent past their session timeout. A node that does
//! not lead forgets everything, so leading again starts with fresh grace.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::client::LocalClient;
use crate::types::Command;

/// How often the session tracker looks for silent members.
pub(crate) const TRACK_INTERVAL: Duration = Duration::from_millis(200);

/// (group, member) → when last heard from.
#[derive(Debug, Default)]
pub(crate) struct Liveness {
    /// Last heard from, by group and member.
    seen: HashMap<(String, String), Instant>,
}

impl Liveness {
    /// Records that `member` of `group` was heard from at `now`.
    pub(crate) fn beat(&mut self, group: &str, member: &str, now: Instant) {
        self.seen.insert((group.to_owned(), member.to_owned()), now);
    }

    /// Forgets everyone (this node does not lead).
    pub(crate) fn clear(&mut self) {
        self.seen.clear();
    }

    /// Of `sessions` (group, member, session timeout in ms), the members silent for longer
    /// than their timeout at `now`, by group. Members not heard from yet start now; members
    /// not in `sessions` are forgotten.
    pub(crate) fn expired(
        &mut self,
        sessions: Vec<(String, String, u64)>,
        now: Instant,
    ) -> BTreeMap<String, Vec<String>> {
        let mut expired: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let mut current = HashMap::with_capacity(sessions.len());
        for (group, member, timeout_ms) in sessions {
            let key = (group, member);
            let seen = self.seen.get(&key).copied().unwrap_or(now);
            if now.saturating_duration_since(seen) > Duration::from_millis(timeout_ms) {
                expired
                    .entry(key.0.clone())
                    .or_default()
                    .push(key.1.clone());
            }
            current.insert(key, seen);
        }
        self.seen = current;
        expired
    }
}

/// A node's liveness table, shared by its clients and its session tracker.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharedLiveness(Arc<Mutex<Liveness>>);

impl SharedLiveness {
    /// The table, locked (a poisoned lock still holds a usable table).
    pub(crate) fn lock(&self) -> MutexGuard<'_, Liveness> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The session tracker of the node `client` calls into: every [`TRACK_INTERVAL`] while the
/// node leads, expires silent members (one `ExpireMembers` per group); ends when Raft stops.
pub(crate) async fn track_sessions(client: LocalClient) {
    loop {
        tokio::time::sleep(TRACK_INTERVAL).await;
        if client.fatal_cause().is_some() {
            return;
        }
        if !client.leads() {
            client.liveness().lock().clear();
            continue;
        }
        let sessions = client.read_local(|state| state.sessions());
        let expired = client.liveness().lock().expired(sessions, Instant::now());
        for (group, member_ids) in expired {
            expire(&client, group, member_ids).await;
        }
    }
}

/// Proposes the expiry of `member_ids` of `group`; a failure is logged (the next tick
/// tries again).
async fn expire(client: &LocalClient, group: String, member_ids: Vec<String>) {
    tracing::info!(group = %group, members = ?member_ids, "expiring silent group members");
    let command = Command::ExpireMembers { group, member_ids };
    if let Err(error) = client.write(command).await {
        tracing::warn!(%error, "could not expire silent group members");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(member: &str) -> (String, String, u64) {
        ("g".to_owned(), member.to_owned(), 1000)
    }

    #[test]
    fn members_get_a_whole_timeout_from_when_first_seen_and_expire_after_it() {
        let mut liveness = Liveness::default();
        let start = Instant::now();
        assert!(liveness.expired(vec![session("a")], start).is_empty());
        liveness.beat("g", "b", start);
        let later = start + Duration::from_millis(900);
        liveness.beat("g", "a", later);
        let sessions = vec![session("a"), session("b")];
        let expired = liveness.expired(sessions.clone(), start + Duration::from_millis(1500));
        assert_eq!(expired["g"], ["b"]);
        // After clearing (a leader change) everyone starts over.
        liveness.clear();
        let fresh = start + Duration::from_secs(10);
        assert!(liveness.expired(sessions, fresh).is_empty());
    }
}
