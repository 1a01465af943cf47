//! The write path. [`Writer`] is the service the produce handler calls: placement on
//! partitions, the request timeout, offsets in request order. Below it the pipeline
//! (`pipeline/`: stage → upload → commit) makes records durable and ordered, with the
//! caches it needs (`topic_cache.rs`, `producer_cache.rs`), Kafka's partitioner
//! (`partitioner.rs`), the content digest of idempotent requests (`digest.rs`) and
//! background recovery of the spool (`recovery.rs`).

mod digest;
mod error;
pub(crate) mod partitioner;
pub(crate) mod pipeline;
mod producer_cache;
pub(crate) mod recovery;
mod request;
mod topic_cache;
mod writer;

pub(crate) use error::WriteError;
pub(crate) use request::{InputRecord, ProduceInput, Produced};
pub(crate) use writer::{WriteLimits, Writer};
