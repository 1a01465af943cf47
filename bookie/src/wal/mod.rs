//! The disk side of the write-ahead cache.
//!
//! * [`spool`]: [`SegmentSpool`], a directory of sealed segments awaiting upload and
//!   commit (and the local read tier while they are there).
//! * [`seal_policy`]: [`SealPolicy`], DESIGN.md's adaptive flush decision.
//!
//! Invariant: a segment file appears under its final name only once complete and fsynced
//! (write to `.tmp`, fsync, rename, fsync the directory), so after a crash every
//! `<ULID>.seg` present is a whole sealed segment that recovery may upload and commit.

pub mod seal_policy;
pub mod spool;

pub use seal_policy::SealPolicy;
pub use spool::SegmentSpool;
