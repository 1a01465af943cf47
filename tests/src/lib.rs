//! Integration-test support for silt: real `silt` processes on OS-assigned ports and temp
//! dirs ([`harness`]), the S3-compatible server started by `scripts/test.sh`, and the
//! invariant [`checker`] for histories of produce acknowledgements and reads.

// Test support: a failed step is a failed test, so panicking with a message is the intent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod checker;
pub mod harness;
pub mod workload;
