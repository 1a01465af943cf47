//! The test-only short commit horizon: in a `silt` built with the `fault-injection` feature,
//! `SILT_TEST_COMMIT_HORIZON_MS=N` makes this process (a metadata node, a broker or `silt
//! dev`) use a commit horizon of N ms instead of `COMMIT_HORIZON_MS` (15 min), so a test can
//! pause a broker past the horizon in seconds. Every metadata node must get the same value,
//! or replicas would refuse different commits: the cluster harness gives every process the
//! same environment. Without the feature the variable is ignored, as every `SILT_TEST_`
//! variable is (`config/env.rs`), and the horizon is the constant.

/// The variable naming the test horizon in milliseconds.
#[cfg(feature = "fault-injection")]
const ENV: &str = "SILT_TEST_COMMIT_HORIZON_MS";

/// Installs the horizon `SILT_TEST_COMMIT_HORIZON_MS` names, if set; an error names a
/// value that is not a whole number of milliseconds in range.
#[cfg(feature = "fault-injection")]
pub(crate) fn install() -> anyhow::Result<()> {
    let Ok(text) = std::env::var(ENV) else {
        return Ok(());
    };
    let ms: i64 = text
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("{ENV}={text:?} is not a number of milliseconds"))?;
    silt_metadata::limits::set_test_commit_horizon_ms(ms)
        .map_err(|e| anyhow::anyhow!("{ENV}: {e}"))?;
    eprintln!("warning: {ENV}={ms}: a test commit horizon of {ms} ms is in force");
    Ok(())
}

/// Without `fault-injection` there is no test horizon.
#[cfg(not(feature = "fault-injection"))]
pub(crate) fn install() -> anyhow::Result<()> {
    Ok(())
}
