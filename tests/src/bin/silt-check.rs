//! `silt-check HISTORY.jsonl…`: checks histories written by the fault runner (or any tool
//! that writes the format documented in `silt_tests::checker`) and prints the summary and,
//! on a violation, the smallest counter-example. Exit status: 0 when every invariant holds,
//! 1 on a violation, 2 when a file cannot be read or parsed.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use silt_tests::checker::History;

/// Checks silt histories (JSON lines) against silt's invariants (docs/architecture.md#invariants).
#[derive(Debug, Parser)]
#[command(name = "silt-check", version)]
struct Args {
    /// History files (JSON lines; format in the silt_tests::checker module docs).
    #[arg(required = true)]
    histories: Vec<PathBuf>,
    /// Print only the summary line of each file, also on a violation.
    #[arg(long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut status = ExitCode::SUCCESS;
    for path in &args.histories {
        let history = match History::load(path) {
            Ok(history) => history,
            Err(error) => {
                eprintln!("silt-check: cannot read {}: {error}", path.display());
                return ExitCode::from(2);
            }
        };
        let report = history.check(&BTreeMap::new());
        let verdict = if report.ok() { "ok" } else { "VIOLATIONS" };
        if args.quiet || report.ok() {
            println!("{}: {verdict}; {}", path.display(), report.summary());
        } else {
            println!("{}: {verdict}\n{report}", path.display());
        }
        if !report.ok() {
            status = ExitCode::from(1);
        }
    }
    status
}
