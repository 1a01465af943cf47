//! The durable Raft log: openraft's [`RaftLogStorage`] and [`RaftLogReader`] on **redb**.
//!
//! Why redb: it is pure Rust (no C++ toolchain, unlike RocksDB), every write transaction
//! is atomic and, with [`Durability::Immediate`], fsync'd when `commit` returns, and it
//! runs no background compaction or flush threads that could stall or reorder writes. A
//! Raft log needs exactly "append durably, truncate, purge a prefix, read a range".
//!
//! Layout (file `raft-log.redb`):
//! - table `raft_entries`: log index → JSON [`Entry`];
//! - table `raft_meta`: `vote`, `committed` and `last_purged` → JSON log id / vote.
//!
//! Invariants:
//! - An append is durable (fsync'd) before openraft's flush callback runs.
//! - The vote is durable before `save_vote` returns.
//! - Indexes in `raft_entries` are consecutive and all above `last_purged`.
//! - `committed` is written without fsync: it rides to disk with the next append (or at
//!   close). Losing the newest value on a crash is safe, since Raft re-derives the commit
//!   index; keeping it lets a restarted node re-apply its committed entries at once.
//!
//! Replication reads at most [`MAX_APPEND_BYTES`] of entries (beyond the first) for one
//! AppendEntries, so one RPC stays small enough to arrive within its deadline.
//!
//! redb calls block, so each runs in [`tokio::task::spawn_blocking`].

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, RaftLogStorage};
use openraft::{AnyError, ErrorSubject, ErrorVerb, LogState, RaftLogReader, StorageIOError, Vote};
use redb::{Database, Durability, ReadableDatabase, ReadableTable, TableDefinition};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::limits::MAX_APPEND_BYTES;
use crate::type_config::{Entry, LogId, NodeId, StorageError, TypeConfig};

/// Log index → JSON entry.
const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("raft_entries");
/// Key → JSON value, for the keys below.
const META: TableDefinition<&str, &[u8]> = TableDefinition::new("raft_meta");
const KEY_VOTE: &str = "vote";
const KEY_COMMITTED: &str = "committed";
const KEY_LAST_PURGED: &str = "last_purged";

/// The file name of the log database in the data directory.
pub(crate) const FILE_NAME: &str = "raft-log.redb";

/// The redb-backed Raft log. Clones share the database (the reader openraft asks for is
/// a clone).
#[derive(Debug, Clone)]
pub(crate) struct LogStore {
    /// The redb database holding the log entries, the vote and the committed log id.
    db: Arc<Database>,
}

/// Anything that failed in a redb or serde call.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Page cache of the Raft log database.
const LOG_CACHE_BYTES: usize = 16 << 20;

impl LogStore {
    /// Opens (creating) the log database at `path` and its tables.
    pub(crate) async fn open(path: &Path) -> Result<Self, StorageError> {
        let path = path.to_owned();
        let db = blocking(ErrorSubject::Store, ErrorVerb::Read, move || {
            // redb's page cache defaults to 1 GiB and grows with the log; the log is
            // written once and read back only on restart or by a lagging follower, so a
            // small cache keeps the broker's memory bounded without slowing appends.
            let db = Database::builder()
                .set_cache_size(LOG_CACHE_BYTES)
                .create(&path)?;
            let txn = db.begin_write()?;
            txn.open_table(ENTRIES)?;
            txn.open_table(META)?;
            txn.commit()?;
            Ok(db)
        })
        .await?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs `work` on the database on a blocking thread.
    async fn with_db<T, F>(
        &self,
        subject: ErrorSubject<NodeId>,
        verb: ErrorVerb,
        work: F,
    ) -> Result<T, StorageError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, BoxError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        blocking(subject, verb, move || work(&db)).await
    }

    /// Writes one meta key.
    async fn put_meta<V: Serialize>(
        &self,
        key: &'static str,
        value: &V,
        durability: Durability,
        subject: ErrorSubject<NodeId>,
    ) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| io_error(subject.clone(), ErrorVerb::Write, &e))?;
        self.with_db(subject, ErrorVerb::Write, move |db| {
            let mut txn = db.begin_write()?;
            txn.set_durability(durability)?;
            txn.open_table(META)?.insert(key, bytes.as_slice())?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    /// Reads one meta key.
    async fn get_meta<V: DeserializeOwned + Send + 'static>(
        &self,
        key: &'static str,
        subject: ErrorSubject<NodeId>,
    ) -> Result<Option<V>, StorageError> {
        self.with_db(subject, ErrorVerb::Read, move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(META)?;
            match table.get(key)? {
                Some(bytes) => Ok(Some(serde_json::from_slice(bytes.value())?)),
                None => Ok(None),
            }
        })
        .await
    }
}

/// Runs blocking redb work, mapping its errors to openraft's.
async fn blocking<T, F>(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    work: F,
) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, BoxError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(io_error(subject, verb, &*error)),
        Err(join) => Err(io_error(subject, verb, &join)),
    }
}

/// An openraft storage error for `error`.
fn io_error(
    subject: ErrorSubject<NodeId>,
    verb: ErrorVerb,
    error: &(dyn std::error::Error + 'static),
) -> StorageError {
    StorageIOError::new(subject, verb, AnyError::from_dyn(error, None)).into()
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let bounds: (Bound<u64>, Bound<u64>) =
            (range.start_bound().cloned(), range.end_bound().cloned());
        self.read_entries(bounds, usize::MAX).await
    }

    /// What one AppendEntries carries: the entries of `[start, end)` up to
    /// [`MAX_APPEND_BYTES`] of stored JSON, and always the first one.
    async fn limited_get_log_entries(
        &mut self,
        start: u64,
        end: u64,
    ) -> Result<Vec<Entry>, StorageError> {
        let bounds = (Bound::Included(start), Bound::Excluded(end));
        self.read_entries(bounds, MAX_APPEND_BYTES).await
    }
}

impl LogStore {
    /// The entries within `bounds`, in order, stopping before the one that would take
    /// their stored size past `max_bytes` (the first is always included).
    async fn read_entries(
        &self,
        bounds: (Bound<u64>, Bound<u64>),
        max_bytes: usize,
    ) -> Result<Vec<Entry>, StorageError> {
        self.with_db(ErrorSubject::Logs, ErrorVerb::Read, move |db| {
            let txn = db.begin_read()?;
            let table = txn.open_table(ENTRIES)?;
            let mut entries = Vec::new();
            let mut bytes_read = 0usize;
            for item in table.range::<u64>(bounds)? {
                let (_, bytes) = item?;
                bytes_read = bytes_read.saturating_add(bytes.value().len());
                if bytes_read > max_bytes && !entries.is_empty() {
                    break;
                }
                entries.push(serde_json::from_slice::<Entry>(bytes.value())?);
            }
            Ok(entries)
        })
        .await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogStore;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let (last_purged, last_entry) = self
            .with_db(ErrorSubject::Logs, ErrorVerb::Read, move |db| {
                let txn = db.begin_read()?;
                let last_purged: Option<LogId> = match txn.open_table(META)?.get(KEY_LAST_PURGED)? {
                    Some(bytes) => Some(serde_json::from_slice(bytes.value())?),
                    None => None,
                };
                let last_entry: Option<Entry> = match txn.open_table(ENTRIES)?.last()? {
                    Some((_, bytes)) => Some(serde_json::from_slice(bytes.value())?),
                    None => None,
                };
                Ok((last_purged, last_entry))
            })
            .await?;
        let last_log_id = last_entry.map(|entry| entry.log_id).or(last_purged);
        Ok(LogState {
            last_purged_log_id: last_purged,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogStore {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<NodeId>) -> Result<(), StorageError> {
        self.put_meta(KEY_VOTE, vote, Durability::Immediate, ErrorSubject::Vote)
            .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<NodeId>>, StorageError> {
        self.get_meta(KEY_VOTE, ErrorSubject::Vote).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.put_meta(
            KEY_COMMITTED,
            &committed,
            Durability::None,
            ErrorSubject::Store,
        )
        .await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let stored: Option<Option<LogId>> =
            self.get_meta(KEY_COMMITTED, ErrorSubject::Store).await?;
        Ok(stored.flatten())
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut encoded = Vec::new();
        for entry in entries {
            let bytes = serde_json::to_vec(&entry)
                .map_err(|e| io_error(ErrorSubject::Log(entry.log_id), ErrorVerb::Write, &e))?;
            encoded.push((entry.log_id.index, bytes));
        }
        self.with_db(ErrorSubject::Logs, ErrorVerb::Write, move |db| {
            let mut txn = db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            {
                let mut table = txn.open_table(ENTRIES)?;
                for (index, bytes) in &encoded {
                    table.insert(*index, bytes.as_slice())?;
                }
            }
            txn.commit()?;
            Ok(())
        })
        .await?;
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "truncating the raft log");
        self.with_db(ErrorSubject::Logs, ErrorVerb::Delete, move |db| {
            let mut txn = db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            txn.open_table(ENTRIES)?
                .retain_in(log_id.index.., |_, _| false)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        tracing::debug!(%log_id, "purging the raft log");
        let bytes = serde_json::to_vec(&log_id)
            .map_err(|e| io_error(ErrorSubject::Logs, ErrorVerb::Delete, &e))?;
        self.with_db(ErrorSubject::Logs, ErrorVerb::Delete, move |db| {
            let mut txn = db.begin_write()?;
            txn.set_durability(Durability::Immediate)?;
            txn.open_table(META)?
                .insert(KEY_LAST_PURGED, bytes.as_slice())?;
            txn.open_table(ENTRIES)?
                .retain_in(..=log_id.index, |_, _| false)?;
            txn.commit()?;
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use openraft::testing::{StoreBuilder, Suite};

    use super::*;
    use crate::state_machine::StateMachineStore;

    /// Builds a fresh log store and state machine in a temporary directory.
    struct TempDirBuilder;

    impl StoreBuilder<TypeConfig, LogStore, StateMachineStore, tempfile::TempDir> for TempDirBuilder {
        async fn build(
            &self,
        ) -> Result<(tempfile::TempDir, LogStore, StateMachineStore), StorageError> {
            let dir = tempfile::tempdir()
                .map_err(|e| io_error(ErrorSubject::Store, ErrorVerb::Write, &e))?;
            let log_store = LogStore::open(&dir.path().join(FILE_NAME)).await?;
            let state_machine = StateMachineStore::open(dir.path().join("snapshots")).await?;
            Ok((dir, log_store, state_machine))
        }
    }

    /// Writes `count` entries of about `bytes` each at indexes 1.., straight into redb.
    async fn write_entries(store: &LogStore, count: u64, bytes: usize) {
        write_range(store, 1..=count, bytes).await;
    }

    /// Writes entries of about `bytes` each at `indexes`, straight into redb.
    async fn write_range(store: &LogStore, indexes: std::ops::RangeInclusive<u64>, bytes: usize) {
        let objects = vec!["x".repeat(1000); bytes / 1000];
        store
            .with_db(ErrorSubject::Logs, ErrorVerb::Write, move |db| {
                let txn = db.begin_write()?;
                {
                    let mut table = txn.open_table(ENTRIES)?;
                    for index in indexes {
                        let entry = Entry {
                            log_id: openraft::LogId::new(
                                openraft::CommittedLeaderId::new(1, 1),
                                index,
                            ),
                            payload: openraft::EntryPayload::Normal(
                                crate::types::Command::RecordOrphans {
                                    objects: objects.clone(),
                                    at_ms: 0,
                                },
                            ),
                        };
                        table.insert(index, serde_json::to_vec(&entry)?.as_slice())?;
                    }
                }
                txn.commit()?;
                Ok(())
            })
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn one_append_carries_at_most_the_byte_budget_but_always_one_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(&dir.path().join(FILE_NAME)).await.unwrap();
        let entry_bytes = MAX_APPEND_BYTES * 2 / 5;
        write_entries(&store, 10, entry_bytes).await;
        let all = store.try_get_log_entries(1..11).await.unwrap();
        assert_eq!(all.len(), 10);
        let limited = store.limited_get_log_entries(1, 11).await.unwrap();
        assert_eq!(
            limited.len(),
            2,
            "two entries of 40% of the budget fit, three do not"
        );
        assert_eq!(limited[0].log_id.index, 1);
        let dir = tempfile::tempdir().unwrap();
        let mut store = LogStore::open(&dir.path().join(FILE_NAME)).await.unwrap();
        write_entries(&store, 3, 2 * MAX_APPEND_BYTES).await;
        let limited = store.limited_get_log_entries(2, 4).await.unwrap();
        let indexes: Vec<u64> = limited.iter().map(|e| e.log_id.index).collect();
        assert_eq!(indexes, [2], "an entry past the budget goes alone");
    }

    /// The log file after writing `rounds` runs of 1,000 entries of 1 KB, purging all but
    /// the last 200 after each (what openraft does after each snapshot).
    async fn file_size_after(
        store: &mut LogStore,
        path: &Path,
        rounds: std::ops::Range<u64>,
    ) -> u64 {
        for round in rounds {
            let first = round * 1000 + 1;
            write_range(store, first..=first + 999, 1000).await;
            let purged = openraft::LogId::new(openraft::CommittedLeaderId::new(1, 1), first + 799);
            store.purge(purged).await.unwrap();
        }
        std::fs::metadata(path).unwrap().len()
    }

    #[tokio::test]
    async fn the_log_file_stays_flat_across_purges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let mut store = LogStore::open(&path).await.unwrap();
        let early = file_size_after(&mut store, &path, 0..5).await;
        let late = file_size_after(&mut store, &path, 5..40).await;
        assert!(
            late <= early + early / 2,
            "the log file grew from {early} to {late} bytes with the same live entries"
        );
        eprintln!("raft log file: {early} bytes after 5 rounds, {late} after 40");
        let live = store.try_get_log_entries(..).await.unwrap();
        assert_eq!(live.len(), 200);
    }

    #[test]
    fn openraft_conformance_suite() {
        Suite::test_all(TempDirBuilder).unwrap();
    }
}
