//! The disk side of the write-ahead cache.
//!
//! * [`spool`]: [`SegmentSpool`], a directory of sealed segments awaiting upload and
//!   commit (and the local read tier while they are there).
//! * [`seal_policy`]: [`SealPolicy`], the adaptive flush decision (`docs/architecture.md#seal-policy`).
//!
//! Decision (why the open segment has no journal file): the open segment is staged in
//! memory (`segment::SegmentBuilder`, bounded by `wal.max_segment_bytes`) and becomes an
//! append-only file only when sealed. Nothing in an open segment has been acknowledged
//! (acknowledgement needs upload and commit), so a crash may drop it with no broken
//! promise, and journaling every append would cost a write per request for data recovery
//! must discard anyway. The disk is where the write-ahead cache absorbs a slow object
//! store: sealed segments queue in the spool (bounded by `wal.max_spool_bytes`, then
//! produce answers 503 with `Retry-After`) and are read from it until committed.
//!
//! Invariant: a segment file appears under its final name only once completely written
//! (write to `.tmp`, rename), so after a process crash every `<ULID>.seg` present is a whole
//! sealed segment that recovery may upload and commit. The broker skips the fsyncs: after a
//! power loss a torn file fails its CRCs in recovery and is dropped, which is safe because
//! nothing in a spooled segment was acknowledged before its commit.

pub mod seal_policy;
pub mod spool;

pub use seal_policy::SealPolicy;
pub use spool::SegmentSpool;
