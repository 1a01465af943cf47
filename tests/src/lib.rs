//! Integration-test support for silt: real `silt` processes on OS-assigned ports and temp
//! dirs ([`harness`]), the S3-compatible server started by `scripts/test.sh`, and the
//! invariant [`checker`] for histories of produce acknowledgements and reads.

pub mod checker;
pub mod harness;
pub mod workload;
