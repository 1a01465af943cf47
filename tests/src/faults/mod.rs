//! Fault schedules for a multi-process cluster: a seeded generator of timed faults
//! ([`schedule`]) and the runner that applies one to a live cluster under a workload and
//! checks the history ([`runner`]), with a hostile client beside the workload
//! ([`hostile`]) and, in the seeds that draw one, a hostile principal ([`intruder`]) and
//! the exactly-once pipeline under `kill -9` ([`pipeline`]). `silt-faults` runs many seeds;
//! `tests/cluster_faults.rs` a bounded set in CI.

pub mod hostile;
pub mod intruder;
pub mod pipeline;
pub mod runner;
pub mod schedule;

pub use intruder::Tally;
pub use pipeline::PipelineTally;
pub use runner::{RunConfig, RunOutcome, run};
pub use schedule::{Fault, OutageLength, Schedule, ScheduledFault, SplitMix64};
