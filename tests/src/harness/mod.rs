//! Starting and stopping real silt processes for tests.

mod process;
mod s3;

pub use process::{Silt, SiltOptions, silt_binary};
pub use s3::{S3Env, s3_env};
