//! Hard limits of the metadata state machine: what a [`Command`](crate::types::Command) or a
//! read may ask for. The state machine refuses anything past them (a
//! [`CommandError`](crate::types::CommandError), nothing changed), whoever proposed it, so a
//! replica never trusts its input and never allocates in proportion to an unchecked number.
//!
//! They are ceilings for what any client may send, above every broker setting: the broker's
//! own, configurable limits (`server.max_partitions_per_topic`, default 1024;
//! `wal.max_segment_bytes`, at most 1 GiB; the cluster quotas `server.max_topics`,
//! `server.max_total_partitions`, `server.max_producer_ids`) must stay at or below them.

/// Longest topic name, in bytes (Kafka's rule: 1 to 249 characters of `[A-Za-z0-9._-]`,
/// not `.` or `..`).
pub const MAX_TOPIC_NAME_BYTES: usize = 249;

/// Most partitions a topic may have; a topic has at least one.
pub const MAX_PARTITIONS_PER_TOPIC: u32 = 4096;

/// The chunk compressions a topic may be created with (absent means `none`).
pub const COMPRESSIONS: [&str; 2] = ["none", "zstd"];

/// Longest object name (S3's key limit), in bytes; names are never empty.
pub const MAX_OBJECT_NAME_BYTES: usize = 1024;

/// Largest segment object a commit may describe (S3's single-PUT limit, 5 GiB).
pub const MAX_SEGMENT_BYTES: u64 = 5 << 30;

/// Most segments in one [`Command::CommitSegments`](crate::types::Command::CommitSegments).
/// [`MetadataClient::commit_segments`](crate::MetadataClient::commit_segments) splits longer
/// runs into several commands.
pub const MAX_SEGMENTS_PER_COMMAND: usize = 65_536;

/// Most chunks, over all its segments, in one
/// [`Command::CommitSegments`](crate::types::Command::CommitSegments).
pub const MAX_CHUNKS_PER_COMMAND: usize = 1 << 20;

/// Most segments in one segment-commit *proposal*: what a broker sends in one call and what
/// the metadata node puts in one Raft entry (`server.rs` merges brokers' commits up to it).
/// Far below [`MAX_SEGMENTS_PER_COMMAND`], which the state machine enforces on any entry.
pub const MAX_PROPOSAL_SEGMENTS: usize = 512;

/// Most bytes of serialized [`SegmentCommit`](crate::types::SegmentCommit)s (their JSON, as
/// [`SegmentCommit::encoded_len`](crate::types::SegmentCommit::encoded_len) counts it) in one
/// proposal. A longer run of segments is split, in order, into several proposals; a single
/// segment larger than this (tens of thousands of chunks) is proposed alone. It keeps every
/// Raft entry small enough that one AppendEntries carrying it is sent, parsed and written
/// well within the RPC's deadline (the heartbeat interval, see `node.rs`).
pub const MAX_PROPOSAL_BYTES: usize = 256 << 10;

/// Most bytes of log entries (their stored JSON) one AppendEntries RPC carries, beyond its
/// first entry: the log store hands openraft a shorter run when the entries asked for are
/// bigger (`log_store.rs`). Twice [`MAX_PROPOSAL_BYTES`], so a full entry always fits whole.
pub const MAX_APPEND_BYTES: usize = 2 * MAX_PROPOSAL_BYTES;

/// The commit horizon, in milliseconds (15 minutes): a segment sealed longer ago than this,
/// by the clock of the proposer of its [`Command::CommitSegments`](crate::types::Command::CommitSegments)
/// (its `at_ms`), is refused ([`ChunkOutcome::TooOld`](crate::types::ChunkOutcome::TooOld))
/// and recorded as an orphan, never committed. An uploaded object whose seal time (the time
/// in its ULID name) is further in the past than the horizon plus any clock skew can
/// therefore never become referenced later, so a garbage sweeper may delete it if no index
/// entry references it now. Keep it far above clock skew and the longest commit retry.
/// The state keeps a segment's commit result (the answer to a retry) only this long after
/// its seal time, by the latest proposal time applied, and refuses anything sealed earlier
/// (`state/segments.rs`).
pub const COMMIT_HORIZON_MS: i64 = 15 * 60 * 1000;

/// The commit horizon in force, in milliseconds: [`COMMIT_HORIZON_MS`], or, in a test
/// build (the `fault-injection` feature), the shorter one this process installed with
/// [`set_test_commit_horizon_ms`]. Every user of the horizon (the state machine's
/// refusal, the garbage collector's due times) reads it here.
pub fn commit_horizon_ms() -> i64 {
    #[cfg(feature = "fault-injection")]
    if let Some(ms) = TEST_COMMIT_HORIZON_MS.get() {
        return *ms;
    }
    COMMIT_HORIZON_MS
}

/// The test horizon installed, if any (see [`set_test_commit_horizon_ms`]).
#[cfg(feature = "fault-injection")]
static TEST_COMMIT_HORIZON_MS: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

/// Installs a commit horizon of `ms` (1 ms to [`COMMIT_HORIZON_MS`]) for the rest of the
/// process, so a test can pause a broker past the horizon in seconds. Test builds only.
/// Call it before the process applies any entry; apply stays deterministic only if every
/// metadata node of the cluster installs the same value (the test harness gives every
/// process the same environment). An error names the refused value; a second call fails
/// unless it repeats the first value.
#[cfg(feature = "fault-injection")]
pub fn set_test_commit_horizon_ms(ms: i64) -> Result<(), String> {
    if !(1..=COMMIT_HORIZON_MS).contains(&ms) {
        return Err(format!(
            "test commit horizon {ms} ms is outside 1..={COMMIT_HORIZON_MS} ms"
        ));
    }
    let installed = *TEST_COMMIT_HORIZON_MS.get_or_init(|| ms);
    if installed != ms {
        return Err(format!(
            "test commit horizon {ms} ms: {installed} ms is installed already"
        ));
    }
    Ok(())
}

/// Longest broker id, in bytes; ids are never empty.
pub const MAX_BROKER_ID_BYTES: usize = 256;

/// Longest broker address, in bytes; addresses are never empty.
pub const MAX_BROKER_ADDRESS_BYTES: usize = 1024;

/// Shortest broker lease, in milliseconds (the broker's `cluster.lease` is 500 ms to 10 min).
pub const MIN_LEASE_MS: u64 = 100;

/// Longest broker lease, in milliseconds (one hour).
pub const MAX_LEASE_MS: u64 = 60 * 60 * 1000;

/// Most objects in one [`Command::RecordOrphans`](crate::types::Command::RecordOrphans).
pub const MAX_ORPHANS_PER_COMMAND: usize = 10_000;

/// Most index entries one partition-slice read may ask for.
pub const MAX_SLICE_ENTRIES: usize = 10_000;

/// Most topics one storage-page read may ask for.
pub const MAX_STORAGE_PAGE: usize = 100;

/// A storage page stops before a topic that would take its index entries past this many
/// (a page always holds at least one topic), bounding one read's cost.
pub const MAX_STORAGE_PAGE_ENTRIES: usize = 1_000_000;

/// Most orphan names one orphan-list read may ask for.
pub const MAX_ORPHAN_LIST: usize = 10_000;

/// Most topics one topic-page read may ask for (`GET /v1/topics?limit=`).
pub const MAX_TOPIC_PAGE: usize = 1000;

/// Most partitions, over its topics, one topic page carries: a page ends before the topic
/// that would pass it (a page always holds at least one topic, and a topic has at most
/// [`MAX_PARTITIONS_PER_TOPIC`]), so a page's size is bounded whatever the topics.
pub const MAX_PAGE_PARTITIONS: usize = 10_000;

/// Most topics the cluster holds: a [`Command::CreateTopic`](crate::types::Command::CreateTopic)
/// past it is refused ([`CommandError::QuotaExceeded`](crate::types::CommandError::QuotaExceeded)).
/// The broker's `server.max_topics` (default 10 000) is at most this.
pub const MAX_TOPICS: u64 = 100_000;

/// Most partitions, over all topics, the cluster holds: a
/// [`Command::CreateTopic`](crate::types::Command::CreateTopic) that would pass it is refused.
/// The broker's `server.max_total_partitions` (default 100 000) is at most this.
pub const MAX_TOTAL_PARTITIONS: u64 = 1_000_000;

/// Most producer ids the cluster keeps: an
/// [`Command::InitProducer`](crate::types::Command::InitProducer) asking for a new id past it
/// is refused (bumping an issued id's epoch is not). Ids unused for longer than the metadata
/// node's `producer_expiry` (default 7 days) are removed, so this bounds the ids in use. The
/// broker's `server.max_producer_ids` (default 100 000) is at most this.
pub const MAX_PRODUCER_IDS: u64 = 1_000_000;

/// Most bytes of a command's request id (a ULID is 26).
pub const MAX_REQUEST_ID_BYTES: usize = 64;

/// How many recent request ids the state machine remembers with their results (first in,
/// first out): a [`Command::CreateTopic`](crate::types::Command::CreateTopic),
/// [`DeleteTopic`](crate::types::Command::DeleteTopic) or
/// [`InitProducer`](crate::types::Command::InitProducer) retried with the id of one of them is
/// answered with its result instead of being applied again.
pub const REQUEST_WINDOW: usize = 4096;

/// Most consumer groups the cluster holds: a commit or reset that would create one more is
/// refused ([`CommandError::QuotaExceeded`](crate::types::CommandError::QuotaExceeded)).
pub const MAX_GROUPS: u64 = 10_000;

/// Most offsets (or reset targets) one
/// [`Command::CommitOffsets`](crate::types::Command::CommitOffsets) or
/// [`Command::ResetOffsets`](crate::types::Command::ResetOffsets) carries; at least one.
pub const MAX_OFFSETS_PER_COMMAND: usize = 10_000;

/// Most committed offsets (partitions) one group keeps: a commit that would pass it is
/// refused ([`CommandError::QuotaExceeded`](crate::types::CommandError::QuotaExceeded)).
pub const MAX_OFFSETS_PER_GROUP: u64 = 10_000;

/// Longest metadata text stored with a committed offset, in bytes (Kafka's default
/// `offset.metadata.max.bytes` is 4096).
pub const MAX_OFFSET_METADATA_BYTES: usize = 4096;

/// Longest member id, in bytes.
pub const MAX_MEMBER_ID_BYTES: usize = 255;

/// Shortest member session timeout, in milliseconds.
pub const MIN_SESSION_TIMEOUT_MS: u64 = 1000;

/// Longest member session timeout, in milliseconds (5 minutes).
pub const MAX_SESSION_TIMEOUT_MS: u64 = 5 * 60 * 1000;

/// Most members one group holds: a join past it is refused
/// ([`CommandError::QuotaExceeded`](crate::types::CommandError::QuotaExceeded)).
pub const MAX_MEMBERS_PER_GROUP: u64 = 1000;

/// Most topics one member subscribes to; at least one.
pub const MAX_TOPICS_PER_MEMBER: usize = 100;

/// Longest retention a topic may set, in milliseconds (100 years); -1 keeps for ever.
pub const MAX_RETENTION_MS: i64 = 100 * 36_525 * 24 * 60 * 60 * 10;

/// Largest `retention_bytes` a topic may set (2^60 bytes); -1 sets no bound.
pub const MAX_RETENTION_BYTES: i64 = 1 << 60;

/// Most partition trims in one
/// [`Command::TrimPartitions`](crate::types::Command::TrimPartitions), and in one retention
/// plan; at least one.
pub const MAX_TRIMS_PER_COMMAND: usize = 1000;

/// Most objects in one [`Command::ForgetGarbage`](crate::types::Command::ForgetGarbage), and
/// in one garbage list read; at least one.
pub const MAX_GARBAGE_PER_COMMAND: usize = 1000;
