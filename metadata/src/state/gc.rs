//! Garbage collection in the state: named leases ([`Command::TakeLease`], so one broker at
//! a time sweeps), the list of garbage due for deletion (a read), which objects found by
//! listing the bucket are still in use (a read), which objects are referenced (a paged
//! read), and
//! forgetting deleted garbage ([`Command::ForgetGarbage`]).
//!
//! Invariants: a lease is granted only to its holder, to anyone once it ended at or before
//! the command's `at_ms`, or when nobody holds it, and a refused take changes nothing; the
//! garbage list and [`Command::ForgetGarbage`] never name an object an index entry
//! references, and the in-use read always names one; forgetting is idempotent (replaying it removes nothing more).
//!
//! [`Command::TakeLease`]: crate::types::Command::TakeLease
//! [`Command::ForgetGarbage`]: crate::types::Command::ForgetGarbage

use std::ops::Bound;

use serde::{Deserialize, Serialize};

use crate::state::MetadataState;
use crate::types::{CommandResult, GarbageKind, GarbageList, GarbageObject, LeaseView};

/// One named lease's holder and end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lease {
    /// Who holds it.
    holder: String,
    /// When it ends (ms since the Unix epoch, the holder's clock).
    until_ms: i64,
}

/// The moments before which garbage is due for deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DueBefore {
    /// Released objects released before this are due.
    pub(crate) released: i64,
    /// Orphans recorded before this are due.
    pub(crate) orphaned: i64,
    /// Released objects are due only once a backup newer than their release was recorded
    /// (backups are on: [`MetadataState::awaits_backup`]).
    pub(crate) after_backup: bool,
}

impl MetadataState {
    /// Applies [`Command::TakeLease`](crate::types::Command::TakeLease): grants or renews
    /// `name` to `holder` until `until_ms` unless another holder's lease is live at `at_ms`.
    pub(super) fn take_lease(
        &mut self,
        name: &str,
        holder: &str,
        until_ms: i64,
        at_ms: i64,
    ) -> CommandResult {
        let free = self
            .leases
            .get(name)
            .is_none_or(|lease| lease.holder == holder || lease.until_ms <= at_ms);
        if free {
            let lease = Lease {
                holder: holder.to_owned(),
                until_ms,
            };
            self.leases.insert(name.to_owned(), lease);
        }
        CommandResult::Lease(self.lease_view(name))
    }

    /// The lease named `name` (an empty holder if none was ever taken).
    fn lease_view(&self, name: &str) -> LeaseView {
        let lease = self.leases.get(name);
        LeaseView {
            name: name.to_owned(),
            holder: lease.map(|l| l.holder.clone()).unwrap_or_default(),
            until_ms: lease.map_or(0, |l| l.until_ms),
        }
    }

    /// Applies [`Command::ForgetGarbage`](crate::types::Command::ForgetGarbage): removes
    /// each unreferenced object from the released and orphan lists.
    pub(super) fn forget_garbage(&mut self, objects: &[String]) -> CommandResult {
        let mut forgotten = 0;
        for object in objects {
            if self.refs.contains_key(object.as_str()) {
                continue;
            }
            let released = self.released.remove(object).is_some();
            let orphan = self.orphans.remove(object).is_some();
            self.unbacked.remove(object);
            forgotten += u64::from(released || orphan);
        }
        CommandResult::Forgotten(forgotten)
    }

    /// At most `limit` (1 to [`MAX_GARBAGE_PER_COMMAND`](crate::limits::MAX_GARBAGE_PER_COMMAND))
    /// unreferenced objects due before `due`, released ones first, each list by name; and
    /// how many released objects and orphans wait in all.
    pub(crate) fn garbage(
        &self,
        due: DueBefore,
        limit: usize,
    ) -> crate::error::Result<GarbageList> {
        super::validate::garbage_count(limit)?;
        let released = self
            .due_in(&self.released, due.released, GarbageKind::Released)
            .filter(|garbage| !(due.after_backup && self.awaits_backup(&garbage.object)));
        let orphans = self.due_in(&self.orphans, due.orphaned, GarbageKind::Orphan);
        Ok(GarbageList {
            backlog: (self.released.len() + self.orphans.len()) as u64,
            due: released.chain(orphans).take(limit).collect(),
            awaiting_backup: self.unbacked.len() as u64,
        })
    }

    /// Those of `objects` (1 to [`MAX_GARBAGE_PER_COMMAND`](crate::limits::MAX_GARBAGE_PER_COMMAND))
    /// still in use, in the order asked: referenced by an index entry, released at or
    /// after `due.released` (a fetch that planned before the release may still read it),
    /// or released after the newest backup when `due.after_backup`.
    pub(crate) fn in_use(
        &self,
        objects: &[String],
        due: DueBefore,
    ) -> crate::error::Result<Vec<String>> {
        super::validate::garbage_count(objects.len())?;
        let used = |object: &&String| {
            self.refs.contains_key(object.as_str())
                || self
                    .released
                    .get(*object)
                    .is_some_and(|at| *at >= due.released)
                || (due.after_backup && self.awaits_backup(object))
        };
        Ok(objects.iter().filter(used).cloned().collect())
    }

    /// At most `limit` (1 to [`MAX_GARBAGE_PER_COMMAND`](crate::limits::MAX_GARBAGE_PER_COMMAND))
    /// objects an index entry references, in name order, after `after` (from the first
    /// when `None`): a bounded page, so a checker can compare every reference with the
    /// bucket.
    pub(crate) fn referenced(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> crate::error::Result<Vec<String>> {
        super::validate::garbage_count(limit)?;
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        let page = self.refs.range::<_, str>((from, Bound::Unbounded));
        Ok(page.take(limit).map(|(name, _)| name.to_string()).collect())
    }

    /// The unreferenced objects of `list` whose time is before `before`.
    fn due_in<'a>(
        &'a self,
        list: &'a imbl::OrdMap<String, i64>,
        before: i64,
        kind: GarbageKind,
    ) -> impl Iterator<Item = GarbageObject> + 'a {
        list.iter()
            .filter(move |(object, at)| **at < before && !self.refs.contains_key(object.as_str()))
            .map(move |(object, at)| GarbageObject {
                object: object.clone(),
                kind,
                at_ms: *at,
            })
    }
}
