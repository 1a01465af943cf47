//! `silt-faults`: runs seeded fault schedules against a fresh local cluster each
//! (`infra/local-cluster.sh`), with producers and consumers running throughout, and checks
//! every history. One line per seed; a failure prints its smallest counter-example, the
//! schedule and the history file. Exit status 1 when any seed failed, 2 on bad usage.
//!
//! It needs the `silt` binary (next to this one, or `SILT_BIN`) and the S3-compatible server
//! of the test suite (`AWS_*` and `SILT_TEST_S3_BUCKET`): `tests/run-faults.sh` sets both up.
//!
//! ```text
//! silt-faults --seed 42                      # one schedule (rerun a failure)
//! silt-faults --seeds 100 --first-seed 1000  # seeds 1000..1099
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use silt_tests::faults::{OutageLength, RunConfig, RunOutcome, Schedule, SplitMix64, run};

/// Runs seeded fault schedules on a local silt cluster and checks every history.
#[derive(Debug, Parser)]
#[command(name = "silt-faults", version)]
struct Args {
    /// Run this one seed.
    #[arg(long, conflicts_with_all = ["seeds", "first_seed"])]
    seed: Option<u64>,
    /// Run this many seeds in a row (default 1).
    #[arg(long)]
    seeds: Option<u64>,
    /// The first of `--seeds` (default: random, printed).
    #[arg(long)]
    first_seed: Option<u64>,
    /// Seconds of workload under faults per seed.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Where history files go (default: <tmp>/silt-faults); only failures' are kept unless
    /// --keep-histories.
    #[arg(long)]
    history_dir: Option<PathBuf>,
    /// Keep the history of passing seeds too.
    #[arg(long)]
    keep_histories: bool,
    /// Stop at the first failing seed.
    #[arg(long)]
    fail_fast: bool,
    /// Print the schedule and each fault as it is applied.
    #[arg(long, short)]
    verbose: bool,
    /// Length of a metadata outage (a majority down), as MIN-MAX seconds; the default 5-10
    /// keeps a seed short, the long run uses minutes (e.g. 60-180 with --duration 240).
    #[arg(long, value_parser = parse_outage)]
    outage_secs: Option<OutageLength>,
    /// Print the seeds' schedules and exit, without running anything.
    #[arg(long)]
    print_schedules: bool,
    /// Break the exactly-once pipeline on purpose (records and offsets in two requests:
    /// at least once), to see the check report its duplicates; never for a real run.
    #[arg(long)]
    pipeline_separate_commit: bool,
}

/// `--print-schedules`: each seed's schedule, as a run would draw it (a cluster of 3
/// metadata nodes and 3 brokers).
fn print_schedules(args: &Args) {
    let seeds = match (args.seed, args.seeds) {
        (Some(seed), _) => seed..seed + 1,
        (None, count) => {
            let first = args.first_seed.unwrap_or(0);
            first..first + count.unwrap_or(1)
        }
    };
    let duration = Duration::from_secs(args.duration);
    let outage = args.outage_secs.unwrap_or_default();
    for seed in seeds {
        print!(
            "{}",
            Schedule::generate_with(seed, duration, (3, 3), outage)
        );
    }
}

/// `MIN-MAX` seconds (or one number) into an outage length.
fn parse_outage(text: &str) -> Result<OutageLength, String> {
    let (low, high) = text.split_once('-').unwrap_or((text, text));
    let secs = |part: &str| {
        part.trim()
            .parse::<u64>()
            .map_err(|_| format!("{text:?} is not MIN-MAX seconds"))
    };
    let (min, max) = (secs(low)?, secs(high)?);
    if min == 0 || min > max {
        return Err(format!("{text:?}: need 0 < MIN <= MAX"));
    }
    Ok(OutageLength {
        min_ms: min * 1000,
        max_ms: max * 1000,
    })
}

/// Sums over the seeds that ran to the end, for the last line of a run.
#[derive(Debug, Default)]
struct Totals {
    seeds: usize,
    faults: usize,
    acknowledged: usize,
    indeterminate: usize,
    attacks_refused: u64,
    attack_windows: usize,
    pipeline_seeds: usize,
    transformed: usize,
    pipeline_kills: usize,
    pipeline_restarts: usize,
}

impl Totals {
    /// Adds one seed's outcome.
    fn add(&mut self, outcome: &RunOutcome) {
        self.seeds += 1;
        self.faults += outcome.faults_applied;
        self.acknowledged += outcome.acknowledged;
        self.indeterminate += outcome.indeterminate;
        self.attacks_refused += outcome.attacks.refused;
        self.attack_windows += usize::from(outcome.attacks.refused > 0);
        if let Some(pipeline) = &outcome.pipeline {
            self.pipeline_seeds += 1;
            self.transformed += pipeline.transformed;
            self.pipeline_kills += pipeline.kills;
            self.pipeline_restarts += pipeline.restarts;
        }
    }

    /// `total: 20 seeds, …, 3 failed`
    fn line(&self, failed: usize) -> String {
        format!(
            "total: {} seeds, {} faults, {} acknowledged, {} indeterminate, {} attacks refused in {} seeds with a hostile principal, {} records transformed, {} pipeline kills, {} pipeline restarts in {} seeds with the pipeline, {failed} failed",
            self.seeds,
            self.faults,
            self.acknowledged,
            self.indeterminate,
            self.attacks_refused,
            self.attack_windows,
            self.transformed,
            self.pipeline_kills,
            self.pipeline_restarts,
            self.pipeline_seeds
        )
    }
}

fn random_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    SplitMix64::new(nanos ^ u64::from(std::process::id())).next_u64() % 1_000_000_000
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if args.print_schedules {
        print_schedules(&args);
        return ExitCode::SUCCESS;
    }
    if std::env::var("AWS_ENDPOINT_URL").is_err() || std::env::var("SILT_TEST_S3_BUCKET").is_err() {
        eprintln!(
            "silt-faults needs the S3-compatible server of the test suite (AWS_ENDPOINT_URL, \
             SILT_TEST_S3_BUCKET): run it through tests/run-faults.sh"
        );
        return ExitCode::from(2);
    }
    let seeds: Vec<u64> = match (args.seed, args.seeds) {
        (Some(seed), _) => vec![seed],
        (None, count) => {
            let first = args.first_seed.unwrap_or_else(random_seed);
            let count = count.unwrap_or(1);
            println!("seeds {first}..{}", first + count);
            (first..first + count).collect()
        }
    };
    let history_dir = args
        .history_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join("silt-faults"));
    let mut failed = Vec::new();
    let mut totals = Totals::default();
    for seed in seeds {
        let config = RunConfig {
            duration: Duration::from_secs(args.duration),
            history_dir: Some(history_dir.clone()),
            keep_passing_histories: args.keep_histories,
            verbose: args.verbose,
            outage: args.outage_secs.unwrap_or_default(),
            pipeline_separate_commit: args.pipeline_separate_commit,
            ..RunConfig::new(seed)
        };
        match run(config).await {
            Ok(outcome) if outcome.ok() => {
                totals.add(&outcome);
                println!("{}", outcome.line());
            }
            Ok(outcome) => {
                totals.add(&outcome);
                println!("{outcome}");
                failed.push(seed);
            }
            Err(error) => {
                println!("seed {seed}: ERROR: {error:#}\nrerun: silt-faults --seed {seed}");
                failed.push(seed);
            }
        }
        if args.fail_fast && !failed.is_empty() {
            break;
        }
    }
    println!("{}", totals.line(failed.len()));
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        println!("failed seeds: {failed:?}");
        ExitCode::from(1)
    }
}
