//! `silt-loadgen`: drives a silt broker over HTTP, or the object store directly, and
//! reports throughput, latency and what the broker spent doing it.
//!
//! - `produce`: bulk produce, `--concurrency` requests in flight, each with
//!   `--records-per-request` records of `--record-size` bytes, for `--seconds`;
//! - `latency`: one record in flight at a time; produce-acknowledgement latency;
//! - `consume`: catch-up read of every partition from `--from-offset` with one reader per
//!   partition, up to `--concurrency` at once;
//! - `e2e`: produce→consume latency of one small record every `--interval-ms`;
//! - `eos`: exactly-once produce (records plus an offset commit) against the same produce
//!   without the commit;
//! - `group`: a consumer group's costs: offset-commit latency, the time of a rebalance
//!   (join, graceful leave, a member vanishing) until every member reads again, and
//!   consumption without duplicates or gaps (see `group.rs`);
//! - `baseline`: the object store's own PUT/GET limits with silt's client stack
//!   (no broker needed).
//!
//! Around every mode the broker's CPU and RSS (`--broker-pid`) and object-store counters
//! (`/metrics`) are read and reported as deltas under `broker`. Each mode prints a JSON
//! summary and a Markdown row for `bench/RESULTS.md`; `--json-out FILE` appends the JSON
//! as one line to FILE.

mod baseline;
mod broker_stats;
mod eos;
mod group;
mod report;
mod workload;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::Value;

/// Load generator for silt.
#[derive(Debug, Parser)]
#[command(name = "silt-loadgen", version)]
struct Cli {
    /// Broker URL.
    #[arg(
        long,
        env = "SILT_BROKER",
        default_value = "http://127.0.0.1:7070",
        global = true
    )]
    broker: String,
    /// Bearer token for a broker with a principals file (sent on every request).
    #[arg(long, env = "SILT_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// PEM file of the CA that signed an https:// broker's certificate (the only root
    /// trusted then).
    #[arg(long, env = "SILT_CA_FILE", global = true)]
    ca_file: Option<PathBuf>,
    /// PID of the broker process, for its CPU time and RSS (read from /proc).
    #[arg(long, global = true)]
    broker_pid: Option<u32>,
    /// Also append the JSON summary, as one line, to this file.
    #[arg(long, global = true)]
    json_out: Option<PathBuf>,
    #[command(subcommand)]
    command: Mode,
}

#[derive(Debug, Subcommand)]
enum Mode {
    /// Bulk produce throughput.
    Produce {
        /// Topic (created if missing).
        #[arg(long, default_value = "loadgen")]
        topic: String,
        /// Partitions when creating the topic.
        #[arg(long, default_value_t = 8)]
        partitions: u32,
        /// Value bytes per record.
        #[arg(long, default_value_t = 1024)]
        record_size: usize,
        /// Records per request.
        #[arg(long, default_value_t = 500)]
        records_per_request: usize,
        /// Requests in flight.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// Run time in seconds.
        #[arg(long, default_value_t = 20)]
        seconds: u64,
        /// Request body: `json` (values as JSON strings) or `binary`
        /// (application/x-silt-records, values as raw bytes).
        #[arg(long, default_value = "json", value_parser = ["json", "binary"])]
        format: String,
        /// Client: `http` (raw requests, one pre-built body) or `sdk` (silt_sdk::Producer
        /// per in-flight slot, batching records itself; JSON only).
        #[arg(long, default_value = "http", value_parser = ["http", "sdk"])]
        client: String,
    },
    /// Single-record produce latency, one in flight.
    Latency {
        /// Topic (created if missing).
        #[arg(long, default_value = "loadgen-latency")]
        topic: String,
        /// Value bytes.
        #[arg(long, default_value_t = 1024)]
        record_size: usize,
        /// Records to send.
        #[arg(long, default_value_t = 500)]
        count: u64,
    },
    /// Catch-up consume throughput up to the high watermarks seen at the start.
    Consume {
        /// Topic.
        #[arg(long, default_value = "loadgen")]
        topic: String,
        /// Partition readers at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Bytes per fetch.
        #[arg(long, default_value_t = 8 << 20)]
        max_bytes: u64,
        /// Offset to start every partition at (its start offset if later).
        #[arg(long, default_value_t = 0)]
        from_offset: u64,
    },
    /// Produce→consume latency: one small record every interval, a long-polling consumer.
    E2e {
        /// Topic (created with 1 partition if missing; partition 0 is used).
        #[arg(long, default_value = "loadgen-e2e")]
        topic: String,
        /// Records to send.
        #[arg(long, default_value_t = 1000)]
        count: u64,
        /// Milliseconds between sends.
        #[arg(long, default_value_t = 10)]
        interval_ms: u64,
        /// Bytes of each value's JSON text (padded up to this).
        #[arg(long, default_value_t = 128)]
        record_size: usize,
        /// Produce requests in flight at most (sends keep to the schedule below this).
        #[arg(long, default_value_t = 64)]
        max_in_flight: usize,
        /// Seconds the consumer waits for missing records after the last acknowledgement.
        #[arg(long, default_value_t = 10)]
        drain_seconds: u64,
    },
    /// Exactly-once produce (records + an offset commit) against the same idempotent
    /// produce without the commit, one request in flight, alternating.
    Eos {
        /// Topic prefix: `<topic>-in`, `<topic>-out` and group `<topic>-group`.
        #[arg(long, default_value = "loadgen-eos")]
        topic: String,
        /// Value bytes per record.
        #[arg(long, default_value_t = 1024)]
        record_size: usize,
        /// Records per request.
        #[arg(long, default_value_t = 10)]
        records_per_request: usize,
        /// Requests of each kind.
        #[arg(long, default_value_t = 500)]
        count: u64,
    },
    /// Consumer-group costs: commit latency, rebalance time (a member joining, leaving,
    /// vanishing), records/s, duplicates and gaps.
    ///
    /// Fills a topic, then `--members` members (sticky assignor, one task each:
    /// heartbeat, fetch, commit) read it in one stable generation, committing every
    /// `--commit-every`; one member then commits `--commit-only` times back to back; then
    /// `--rounds` rounds of rebalances: a member leaves (DELETE), one joins, one vanishes
    /// (stops heartbeating; removed after `--session-timeout-ms`), one joins. Each rebalance
    /// is timed from the event to the moment every partition is assigned once in one new
    /// generation that every member works in and every member has fetched from each of its
    /// partitions; `moved_partitions` counts partitions with a new owner. Events are
    /// spread over the heartbeat period (members hear of a rebalance at their next
    /// heartbeat), so a join or leave takes about half a period on average. Duplicates are
    /// offsets read twice within one generation; gaps are offsets no member read.
    Group {
        /// Topic (created if missing, filled further if not); the group is
        /// `<topic>-group-<ULID>`, new each run, and reads the whole topic.
        #[arg(long, default_value = "loadgen-group")]
        topic: String,
        /// Partitions when creating the topic.
        #[arg(long, default_value_t = 12)]
        partitions: u32,
        /// Members in the group (the join scenario starts from one fewer).
        #[arg(long, default_value_t = 3)]
        members: usize,
        /// Records written to each partition before the members start.
        #[arg(long, default_value_t = 5000)]
        records: u64,
        /// Value bytes per record.
        #[arg(long, default_value_t = 256)]
        record_size: usize,
        /// When a member commits: `N` records read since its last commit, or `Nms` after
        /// its last commit; it also commits whenever it has caught up.
        #[arg(long, default_value = "1000", value_parser = group::parse_commit_every)]
        commit_every: group::CommitEvery,
        /// Commits of one member back to back, after the consume phase.
        #[arg(long, default_value_t = 200)]
        commit_only: u64,
        /// Rebalance rounds (each: leave, join, vanish, join).
        #[arg(long, default_value_t = 3)]
        rounds: u32,
        /// Members' session timeout (1000 to 300000): bounds the vanish scenario.
        #[arg(long, default_value_t = 6000)]
        session_timeout_ms: u64,
        /// Heartbeat interval (default: a third of the session timeout).
        #[arg(long)]
        heartbeat_ms: Option<u64>,
    },
    /// Object-store limits with silt's own client (no broker involved).
    Baseline {
        /// Object store URL, as `silt --object-store` (AWS_* environment as silt).
        #[arg(long, env = "SILT_OBJECT_STORE")]
        object_store: String,
        /// Object size of the PUT-throughput phase (silt's segment size).
        #[arg(long, default_value_t = 8 << 20)]
        segment_bytes: usize,
        /// Object size of the second PUT-throughput phase (what the first bench sealed).
        #[arg(long, default_value_t = 3 << 19)]
        small_segment_bytes: usize,
        /// Seconds per timed phase.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Requests in flight: sets both --put-in-flight and --get-in-flight.
        #[arg(long)]
        in_flight: Option<usize>,
        /// PUTs in flight in the PUT-throughput phases.
        #[arg(long, default_value_t = 4)]
        put_in_flight: usize,
        /// GETs in flight in the parallel GET phase.
        #[arg(long, default_value_t = 8)]
        get_in_flight: usize,
        /// Bytes per ranged GET.
        #[arg(long, default_value_t = 1 << 20)]
        range_bytes: usize,
        /// Object size of the small-PUT latency phase.
        #[arg(long, default_value_t = 1024)]
        tiny_bytes: usize,
        /// PUTs in the small-PUT latency phase (one in flight).
        #[arg(long, default_value_t = 300)]
        tiny_count: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .default_headers(auth_headers(cli.token.as_deref())?);
    if let Some(path) = &cli.ca_file {
        http = http.tls_certs_only(ca_certificates(path)?);
    }
    let http = http.build()?;
    let broker = cli.broker.trim_end_matches('/').to_owned();
    let probe = broker_stats::BrokerProbe::start(&http, &broker, cli.broker_pid).await;
    let target = workload::Target {
        broker: broker.clone(),
        token: cli.token.clone(),
        ca_file: cli.ca_file.clone(),
    };
    let summary = run(&http, &target, cli.command).await;
    let mut summary = match summary {
        Ok(summary) => summary,
        Err(error) => {
            probe.finish(None).await;
            return Err(error);
        }
    };
    let workload_mib = summary.get("workload_mib").and_then(Value::as_f64);
    summary["broker"] = probe.finish(workload_mib).await;
    report::emit(&summary, cli.json_out.as_deref())
}

/// The CA certificates of `--ca-file`.
fn ca_certificates(path: &std::path::Path) -> anyhow::Result<Vec<reqwest::Certificate>> {
    let pem = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("cannot read --ca-file {}: {e}", path.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)?;
    anyhow::ensure!(
        !certs.is_empty(),
        "no PEM certificate in --ca-file {}",
        path.display()
    );
    Ok(certs)
}

/// `Authorization: Bearer <token>` for every request, when a token was given.
fn auth_headers(token: Option<&str>) -> anyhow::Result<reqwest::header::HeaderMap> {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(token) = token {
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| anyhow::anyhow!("--token must be printable ASCII"))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
    }
    Ok(headers)
}

async fn run(
    http: &reqwest::Client,
    target: &workload::Target,
    mode: Mode,
) -> anyhow::Result<Value> {
    let broker = target.broker.as_str();
    match mode {
        Mode::Produce {
            topic,
            partitions,
            record_size,
            records_per_request,
            concurrency,
            seconds,
            format,
            client,
        } => {
            workload::ensure_topic(http, broker, &topic, partitions).await?;
            let shape = workload::BulkShape {
                record_size,
                records_per_request,
                concurrency,
                binary: format == "binary",
            };
            if client == "sdk" {
                workload::produce_sdk(target, &topic, shape, Duration::from_secs(seconds)).await
            } else {
                workload::produce(http, broker, &topic, shape, Duration::from_secs(seconds)).await
            }
        }
        Mode::Latency {
            topic,
            record_size,
            count,
        } => {
            workload::ensure_topic(http, broker, &topic, 1).await?;
            workload::latency(http, broker, &topic, record_size, count).await
        }
        Mode::Consume {
            topic,
            concurrency,
            max_bytes,
            from_offset,
        } => workload::consume(http, broker, &topic, concurrency, max_bytes, from_offset).await,
        Mode::E2e {
            topic,
            count,
            interval_ms,
            record_size,
            max_in_flight,
            drain_seconds,
        } => {
            workload::ensure_topic(http, broker, &topic, 1).await?;
            let options = workload::E2eOptions {
                count,
                interval: Duration::from_millis(interval_ms),
                record_size,
                max_in_flight,
                drain: Duration::from_secs(drain_seconds),
            };
            workload::e2e(http, broker, &topic, options).await
        }
        Mode::Eos {
            topic,
            record_size,
            records_per_request,
            count,
        } => {
            let shape = eos::EosShape {
                record_size,
                records: records_per_request,
                count,
            };
            eos::eos_ab(http, broker, &topic, shape).await
        }
        Mode::Group {
            topic,
            partitions,
            members,
            records,
            record_size,
            commit_every,
            commit_only,
            rounds,
            session_timeout_ms,
            heartbeat_ms,
        } => {
            let shape = group::GroupShape {
                topic,
                partitions,
                members,
                records,
                record_size,
                commit_every,
                commit_only,
                rounds,
                session_timeout_ms,
                heartbeat_ms,
            };
            group::group(http, broker, shape).await
        }
        Mode::Baseline {
            object_store,
            segment_bytes,
            small_segment_bytes,
            seconds,
            in_flight,
            put_in_flight,
            get_in_flight,
            range_bytes,
            tiny_bytes,
            tiny_count,
        } => {
            let options = baseline::BaselineOptions {
                url: object_store,
                segment_bytes,
                small_segment_bytes,
                seconds: Duration::from_secs(seconds),
                put_in_flight: in_flight.unwrap_or(put_in_flight),
                get_in_flight: in_flight.unwrap_or(get_in_flight),
                range_bytes: range_bytes.max(1),
                tiny_bytes,
                tiny_count,
            };
            baseline::baseline(&options).await
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn cli_is_consistent_and_keeps_the_bench_flags() {
        Cli::command().debug_assert();
        for args in [
            &[
                "silt-loadgen",
                "--broker",
                "http://x",
                "latency",
                "--count",
                "500",
            ][..],
            &[
                "silt-loadgen",
                "produce",
                "--partitions",
                "8",
                "--record-size",
                "1024",
                "--records-per-request",
                "500",
                "--concurrency",
                "16",
                "--seconds",
                "3",
            ],
            &[
                "silt-loadgen",
                "consume",
                "--concurrency",
                "8",
                "--from-offset",
                "10",
            ],
            &[
                "silt-loadgen",
                "e2e",
                "--count",
                "10",
                "--interval-ms",
                "5",
                "--json-out",
                "f",
            ],
            &[
                "silt-loadgen",
                "--broker-pid",
                "1",
                "baseline",
                "--object-store",
                "s3://b/p",
                "--in-flight",
                "2",
            ],
            &[
                "silt-loadgen",
                "group",
                "--members",
                "3",
                "--commit-every",
                "200ms",
                "--session-timeout-ms",
                "1000",
                "--rounds",
                "1",
            ],
        ] {
            Cli::try_parse_from(args).unwrap();
        }
    }
}
