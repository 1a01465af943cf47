//! Output shared by every mode: latency histograms and their percentiles, unit helpers, and
//! [`emit`], which prints a summary as pretty JSON followed by its Markdown row and
//! optionally appends it as one JSON line to a file.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// Bytes in a MiB.
pub(crate) const MIB: f64 = (1u64 << 20) as f64;
/// Bytes in a GiB.
pub(crate) const GIB: f64 = (1u64 << 30) as f64;

/// A latency histogram in microseconds, 1 µs to 120 s, 3 significant digits.
/// Waits for every worker and merges the latency histograms they return.
pub(crate) async fn merged(
    workers: Vec<tokio::task::JoinHandle<anyhow::Result<Histogram<u64>>>>,
) -> anyhow::Result<Histogram<u64>> {
    let mut histogram = new_histogram()?;
    for worker in workers {
        histogram.add(worker.await??)?;
    }
    Ok(histogram)
}

pub(crate) fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 120_000_000, 3).context("histogram")
}

/// Records `micros` into `histogram`, clamped to its bounds (never fails on outliers).
pub(crate) fn record_micros(histogram: &mut Histogram<u64>, micros: u64) {
    histogram.saturating_record(micros.clamp(1, 120_000_000));
}

/// `p50_ms`, `p90_ms`, `p99_ms`, `p999_ms`, `max_ms`, `count` of a µs histogram.
pub(crate) fn percentiles(histogram: &Histogram<u64>) -> Value {
    let ms = |q: f64| round3(histogram.value_at_quantile(q) as f64 / 1000.0);
    json!({
        "p50_ms": ms(0.5), "p90_ms": ms(0.9), "p99_ms": ms(0.99), "p999_ms": ms(0.999),
        "max_ms": round3(histogram.max() as f64 / 1000.0), "count": histogram.len()
    })
}

/// `value` rounded to 3 decimals (keeps the JSON readable).
pub(crate) fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// `bytes / seconds` in MiB/s (0 when no time passed).
pub(crate) fn mib_per_sec(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        round3(bytes as f64 / MIB / seconds)
    } else {
        0.0
    }
}

/// Prints `summary` as pretty JSON, then its `markdown` row (if any); with `json_out`,
/// also appends the summary as one compact JSON line to that file.
pub(crate) fn emit(summary: &Value, json_out: Option<&Path>) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(summary)?);
    if let Some(row) = summary.get("markdown").and_then(Value::as_str) {
        println!("{row}");
    }
    if let Some(path) = json_out {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("opening {}", path.display()))?;
        let mut line = serde_json::to_vec(summary)?;
        line.push(b'\n');
        file.write_all(&line)
            .with_context(|| format!("appending to {}", path.display()))?;
    }
    Ok(())
}

/// Milliseconds as text with at most 2 decimals, for Markdown cells.
pub(crate) fn ms_cell(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| "?".to_owned(), |ms| format!("{ms:.2}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_in_milliseconds() -> anyhow::Result<()> {
        let mut histogram = new_histogram()?;
        for micros in 1..=1000 {
            record_micros(&mut histogram, micros * 1000);
        }
        record_micros(&mut histogram, u64::MAX);
        let p = percentiles(&histogram);
        assert_eq!(p["count"], 1001);
        let p50 = p["p50_ms"].as_f64().unwrap_or_default();
        assert!((499.0..=502.0).contains(&p50), "{p}");
        assert!(p["max_ms"].as_f64().unwrap_or_default() >= 119_000.0, "{p}");
        Ok(())
    }

    #[test]
    fn emit_appends_one_line_per_summary() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("silt-loadgen-test-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&dir)?;
        let file = dir.join("out.jsonl");
        emit(&json!({"mode": "a", "markdown": "| a |"}), Some(&file))?;
        emit(&json!({"mode": "b"}), Some(&file))?;
        let text = std::fs::read_to_string(&file)?;
        let lines: Vec<Value> = text
            .lines()
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()?;
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["mode"], "b");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
