//! The write path: partitioning, then append → seal → upload → commit → acknowledge.

pub mod partitioner;
pub mod pipeline;
pub mod producer_cache;
pub mod recovery;
pub mod topic_cache;

pub use pipeline::{PartitionAppend, WriteError, WritePipeline};
