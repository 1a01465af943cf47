//! Broker-side cost of a run: CPU and memory of the broker process (from `/proc`, with
//! `--broker-pid`) and its object-store requests (from `GET {broker}/metrics`), read before
//! and after the run and reported as deltas.
//!
//! CPU time is `utime + stime` of `/proc/PID/stat` in clock ticks, converted at
//! [`CLOCK_TICKS_PER_SEC`] = 100 (`sysconf(_SC_CLK_TCK)` on every Linux silt runs on;
//! assumed, not queried, since the crate forbids `unsafe` and has no libc binding).
//! Peak RSS is the largest `VmRSS` sampled every 200 ms during the run; `VmHWM` (the
//! process's lifetime peak) is reported alongside.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};

use crate::report::{GIB, MIB, round3};

/// Clock ticks per second assumed for `/proc/PID/stat` (Linux `USER_HZ`).
pub(crate) const CLOCK_TICKS_PER_SEC: f64 = 100.0;
/// How often VmRSS is sampled during a run.
const RSS_SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// CPU ticks (`utime + stime`) from the text of `/proc/PID/stat`.
///
/// The command name (field 2) is in parentheses and may hold spaces or `)`, so fields are
/// counted from the last `)`: `utime` and `stime` are fields 14 and 15.
pub(crate) fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `fields[0]` is field 3 (state).
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// The value in bytes of a `kB` line of `/proc/PID/status` (`VmRSS`, `VmHWM`, …).
pub(crate) fn parse_status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?.strip_prefix(':')?;
        let mut parts = rest.split_whitespace();
        let value: u64 = parts.next()?.parse().ok()?;
        match parts.next() {
            Some("kB") | None => Some(value * 1024),
            Some(_) => None,
        }
    })
}

/// The value of the first sample of `name` in Prometheus text `text` whose labels include
/// every pair of `labels`.
pub(crate) fn metric_value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (sample, sample_labels, value) = parse_sample_line(line)?;
        let matches = sample == name
            && labels
                .iter()
                .all(|(k, v)| sample_labels.iter().any(|(sk, sv)| sk == k && sv == v));
        matches.then_some(value)
    })
}

/// Label pairs of one sample.
type Labels = Vec<(String, String)>;

/// One sample line `name{k="v",…} value [timestamp]`; `None` for comments, blank or
/// malformed lines.
fn parse_sample_line(line: &str) -> Option<(&str, Labels, f64)> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .unwrap_or(line.len());
    let name = &line[..name_end];
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let mut chars = body.char_indices().peekable();
        let mut key = String::new();
        let end;
        loop {
            let (i, c) = chars.next()?;
            match c {
                '}' if key.trim().is_empty() => {
                    end = i;
                    break;
                }
                '=' => {
                    if chars.next()?.1 != '"' {
                        return None;
                    }
                    let mut value = String::new();
                    loop {
                        match chars.next()?.1 {
                            '"' => break,
                            '\\' => match chars.next()?.1 {
                                'n' => value.push('\n'),
                                other => value.push(other),
                            },
                            other => value.push(other),
                        }
                    }
                    labels.push((std::mem::take(&mut key).trim().to_owned(), value));
                    // Skip a separating comma.
                    if chars.peek().is_some_and(|(_, c)| *c == ',') {
                        chars.next();
                    }
                }
                other => key.push(other),
            }
        }
        rest = &body[end + 1..];
    }
    let value = rest.split_whitespace().next()?.parse().ok()?;
    Some((name, labels, value))
}

/// Object-store counters of the broker at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct StoreCounters {
    /// `silt_object_store_requests_total{op="put"}`.
    pub puts: f64,
    /// `silt_object_store_requests_total{op="get"}`.
    pub gets: f64,
    /// `silt_object_store_bytes_total{op="put"}`.
    pub put_bytes: f64,
    /// `silt_object_store_bytes_total{op="get"}`.
    pub get_bytes: f64,
}

impl StoreCounters {
    /// Reads the counters from `/metrics` text; `None` if any is missing.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let requests = |op| metric_value(text, "silt_object_store_requests_total", &[("op", op)]);
        let bytes = |op| metric_value(text, "silt_object_store_bytes_total", &[("op", op)]);
        Some(Self {
            puts: requests("put")?,
            gets: requests("get")?,
            put_bytes: bytes("put")?,
            get_bytes: bytes("get")?,
        })
    }
}

/// `/proc` readings of the broker process at one moment.
#[derive(Debug, Clone, Copy)]
struct ProcReading {
    cpu_ticks: u64,
    rss_bytes: u64,
    hwm_bytes: Option<u64>,
}

fn read_proc(pid: u32) -> anyhow::Result<ProcReading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(ProcReading {
        cpu_ticks: parse_stat_cpu_ticks(&stat)
            .ok_or_else(|| anyhow::anyhow!("cannot parse /proc/{pid}/stat"))?,
        rss_bytes: parse_status_kib(&status, "VmRSS")
            .ok_or_else(|| anyhow::anyhow!("no VmRSS in /proc/{pid}/status"))?,
        hwm_bytes: parse_status_kib(&status, "VmHWM"),
    })
}

async fn scrape(http: &reqwest::Client, broker: &str) -> anyhow::Result<StoreCounters> {
    let text = http
        .get(format!("{broker}/metrics"))
        .timeout(Duration::from_secs(5))
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    StoreCounters::parse(&text)
        .ok_or_else(|| anyhow::anyhow!("{broker}/metrics has no silt_object_store_* counters"))
}

/// Broker readings taken before a run, plus the RSS sampler running during it.
#[derive(Debug)]
pub(crate) struct BrokerProbe {
    http: reqwest::Client,
    broker: String,
    pid: Option<u32>,
    proc_before: Option<anyhow::Result<ProcReading>>,
    store_before: anyhow::Result<StoreCounters>,
    peak_rss: Arc<AtomicU64>,
    sampler: Option<tokio::task::JoinHandle<()>>,
}

impl BrokerProbe {
    /// Takes the "before" readings and starts sampling RSS (if `pid` is given).
    pub(crate) async fn start(http: &reqwest::Client, broker: &str, pid: Option<u32>) -> Self {
        let store_before = scrape(http, broker).await;
        let proc_before = pid.map(read_proc);
        let peak_rss = Arc::new(AtomicU64::new(0));
        if let Some(Ok(reading)) = &proc_before {
            peak_rss.store(reading.rss_bytes, Ordering::Relaxed);
        }
        let sampler = pid.map(|pid| {
            let peak = Arc::clone(&peak_rss);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(RSS_SAMPLE_EVERY);
                loop {
                    tick.tick().await;
                    let status = tokio::fs::read_to_string(format!("/proc/{pid}/status")).await;
                    if let Some(rss) = status
                        .ok()
                        .and_then(|text| parse_status_kib(&text, "VmRSS"))
                    {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                }
            })
        });
        Self {
            http: http.clone(),
            broker: broker.to_owned(),
            pid,
            proc_before,
            store_before,
            peak_rss,
            sampler,
        }
    }

    /// Takes the "after" readings and reports the deltas. `workload_mib` (the MiB of record
    /// values the run moved) gives CPU per MiB.
    pub(crate) async fn finish(self, workload_mib: Option<f64>) -> Value {
        if let Some(sampler) = &self.sampler {
            sampler.abort();
        }
        let mut out = json!({"pid": self.pid, "clock_ticks_per_sec_assumed": CLOCK_TICKS_PER_SEC});
        match (self.pid, self.proc_before) {
            (Some(pid), Some(Ok(before))) => match read_proc(pid) {
                Ok(after) => {
                    let peak = self.peak_rss.fetch_max(after.rss_bytes, Ordering::Relaxed);
                    let peak = peak.max(after.rss_bytes);
                    let cpu = after.cpu_ticks.saturating_sub(before.cpu_ticks) as f64
                        / CLOCK_TICKS_PER_SEC;
                    out["cpu_seconds"] = json!(round3(cpu));
                    out["cpu_ms_per_mib"] = json!(
                        workload_mib
                            .filter(|mib| *mib > 0.0)
                            .map(|mib| round3(cpu * 1000.0 / mib))
                    );
                    out["rss_max_mib"] = json!(round3(peak as f64 / MIB));
                    out["rss_end_mib"] = json!(round3(after.rss_bytes as f64 / MIB));
                    out["vm_hwm_mib"] = json!(after.hwm_bytes.map(|b| round3(b as f64 / MIB)));
                }
                Err(error) => out["proc_error"] = json!(format!("{error:#}")),
            },
            (Some(_), Some(Err(error))) => out["proc_error"] = json!(format!("{error:#}")),
            _ => {}
        }
        let after = scrape(&self.http, &self.broker).await;
        match (self.store_before, after) {
            (Ok(before), Ok(after)) => {
                let puts = after.puts - before.puts;
                let gets = after.gets - before.gets;
                let put_bytes = after.put_bytes - before.put_bytes;
                let get_bytes = after.get_bytes - before.get_bytes;
                out["object_store"] = json!({
                    "puts": puts, "gets": gets,
                    "put_mib": round3(put_bytes / MIB), "get_mib": round3(get_bytes / MIB),
                    "puts_per_gib_written": (put_bytes > 0.0).then(|| round3(puts / (put_bytes / GIB))),
                    "gets_per_mib_read": (get_bytes > 0.0).then(|| round3(gets / (get_bytes / MIB))),
                });
            }
            (Err(error), _) | (_, Err(error)) => {
                out["metrics_error"] = json!(format!("{error:#}"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "4242 (silt (dev) x) S 1 4242 4242 0 -1 4194560 12345 0 3 0 \
        1500 250 0 0 20 0 12 0 987654 1234567890 45678 18446744073709551615 1 1 0 0 0 0 0 \
        4096 17638 0 0 0 17 1 0 0 0 0 0\n";

    const STATUS: &str = "Name:\tsilt\nUmask:\t0022\nState:\tS (sleeping)\n\
        VmPeak:\t 2345678 kB\nVmSize:\t 2345000 kB\nVmHWM:\t  204800 kB\n\
        VmRSS:\t  102400 kB\nRssAnon:\t   90000 kB\nThreads:\t12\n";

    const METRICS: &str = r#"# HELP silt_produce_requests_total Produce requests.
# TYPE silt_produce_requests_total counter
silt_produce_requests_total{outcome="ok"} 17
# HELP silt_object_store_requests_total Object-store requests by operation
# TYPE silt_object_store_requests_total counter
silt_object_store_requests_total{op="put"} 814
silt_object_store_requests_total{op="get"} 2158
silt_object_store_requests_total{op="head"} 3
silt_object_store_errors_total 0
silt_object_store_bytes_total{op="put"} 1190000000
silt_object_store_bytes_total{op="get"} 1.19e9 1700000000000
odd_metric{a="x,y=\"}\"",op="get"} 5
# EOF
"#;

    #[test]
    fn stat_cpu_ticks_count_from_the_last_paren() {
        assert_eq!(parse_stat_cpu_ticks(STAT), Some(1750));
        assert_eq!(parse_stat_cpu_ticks("1 (x) S 1 2"), None);
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn status_lines_are_in_bytes() {
        assert_eq!(parse_status_kib(STATUS, "VmRSS"), Some(102_400 * 1024));
        assert_eq!(parse_status_kib(STATUS, "VmHWM"), Some(204_800 * 1024));
        assert_eq!(parse_status_kib(STATUS, "VmSwap"), None);
        // A key is matched whole, not as a prefix of another.
        assert_eq!(parse_status_kib(STATUS, "Vm"), None);
    }

    #[test]
    fn metrics_by_name_and_label() {
        assert_eq!(
            metric_value(
                METRICS,
                "silt_object_store_requests_total",
                &[("op", "put")]
            ),
            Some(814.0)
        );
        assert_eq!(
            metric_value(METRICS, "silt_object_store_errors_total", &[]),
            Some(0.0)
        );
        assert_eq!(
            metric_value(
                METRICS,
                "silt_object_store_requests_total",
                &[("op", "list")]
            ),
            None
        );
        assert_eq!(
            metric_value(METRICS, "odd_metric", &[("a", "x,y=\"}\""), ("op", "get")]),
            Some(5.0)
        );
        let counters = StoreCounters::parse(METRICS).unwrap();
        assert_eq!(
            counters,
            StoreCounters {
                puts: 814.0,
                gets: 2158.0,
                put_bytes: 1.19e9,
                get_bytes: 1.19e9
            }
        );
        assert_eq!(StoreCounters::parse("silt_up 1\n"), None);
    }

    #[tokio::test]
    async fn probe_of_this_process_reports_cpu_and_rss() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::new();
        // Nothing listens on port 9 of localhost: the metrics error is reported, not fatal.
        let probe = BrokerProbe::start(&http, "http://127.0.0.1:9", Some(std::process::id())).await;
        let mut spin = 0u64;
        for i in 0..2_000_000u64 {
            spin = spin.wrapping_mul(31).wrapping_add(i);
        }
        assert_ne!(spin, 1);
        let out = probe.finish(Some(1.0)).await;
        assert!(out["cpu_seconds"].as_f64().is_some(), "{out}");
        assert!(
            out["rss_max_mib"].as_f64().unwrap_or_default() > 0.0,
            "{out}"
        );
        assert!(out["metrics_error"].is_string(), "{out}");
    }
}
