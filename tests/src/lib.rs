//! Integration-test support for silt: real `silt` processes on OS-assigned ports and temp
//! dirs ([`harness`]: one `silt dev`, or a cluster through `infra/local-cluster.sh`), the
//! S3-compatible server started by `scripts/test.sh`, the invariant [`checker`] for
//! histories of operations and reads, seeded [`faults`] schedules with their runner, and
//! the helpers of the lifecycle tests ([`lifecycle`]) with the long retention run's figures.

// Test support: a failed step is a failed test, so panicking with a message is the intent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod checker;
pub mod faults;
pub mod harness;
pub mod lifecycle;
pub mod workload;
