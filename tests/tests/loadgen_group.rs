//! `silt-loadgen group` against a real `silt dev` with authentication (the mode's requests
//! carry `--token`): a short run must report every partition consumed without gaps or
//! duplicates, commits made, and each rebalance scenario (join, leave, vanish) measured
//! with a plausible number of moved partitions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use silt_tests::harness::{KillOnDrop, Silt, SiltOptions, loadgen_binary, principal};

/// The token of the principal loadgen runs as.
const TOKEN: &str = "silt_test-loadgen-group";

/// A `silt dev` whose one principal may do everything.
fn start(dir: &Path) -> Silt {
    let file = dir.join("principals.toml");
    let allow = ["admin:*", "produce:*", "consume:*"];
    std::fs::write(&file, principal("loadgen", TOKEN, &allow)).unwrap();
    let env = vec![(
        "SILT_AUTH_PRINCIPALS_FILE".to_owned(),
        file.display().to_string(),
    )];
    Silt::start(
        &dir.join("data"),
        SiltOptions {
            env,
            ..SiltOptions::default()
        },
    )
}

/// Runs `silt-loadgen group` briefly and answers its JSON summary.
fn run_group(silt: &Silt, out: &Path) -> Value {
    let mut command = std::process::Command::new(loadgen_binary());
    command
        .args(["--broker", &silt.url, "--token", TOKEN, "--json-out"])
        .arg(out)
        .args(["group", "--topic", "lg", "--records", "300"])
        .args(["--record-size", "64", "--commit-every", "100"])
        .args(["--commit-only", "20", "--rounds", "1"])
        // A session of 2 s with heartbeats every 250 ms: enough margin for a loaded machine.
        .args(["--session-timeout-ms", "2000", "--heartbeat-ms", "250"])
        .stdout(std::process::Stdio::null());
    let mut child = KillOnDrop(command.spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(240);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "silt-loadgen group did not finish"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "silt-loadgen group failed: {status}");
    let text = std::fs::read_to_string(out).unwrap();
    serde_json::from_str(text.lines().last().unwrap()).unwrap()
}

/// A whole-number figure of the summary.
fn int(summary: &Value, pointer: &str) -> u64 {
    summary
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("no {pointer} in {summary}"))
}

#[test]
fn loadgen_group_reports_commits_rebalances_and_a_clean_consume() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path());
    let summary = run_group(&silt, &dir.path().join("out.jsonl"));
    eprintln!("{summary:#}");
    assert_eq!(summary["mode"], "group");
    assert_eq!(int(&summary, "/partitions"), 12);
    assert_eq!(int(&summary, "/consume/records"), 12 * 300);
    assert!(int(&summary, "/consume/records_read") >= 12 * 300);
    assert_eq!(int(&summary, "/consume/gaps"), 0);
    assert_eq!(int(&summary, "/consume/duplicates_within_generation"), 0);
    assert!(int(&summary, "/commit/while_consuming/count") > 0);
    assert_eq!(int(&summary, "/commit/commit_only/count"), 20);
    // One round: a leave, a join, a vanish, a join. 12 partitions over 3 members: a
    // member leaving or joining moves exactly its 4 (sticky: the others keep theirs).
    for (scenario, count) in [("join", 2), ("leave", 1), ("vanish", 1)] {
        let figures = &summary["rebalance"][scenario];
        assert_eq!(int(figures, "/count"), count, "{scenario}: {figures}");
        let moved = figures["moved_partitions"].as_array().unwrap();
        assert!(
            moved.iter().all(|m| m.as_u64() == Some(4)),
            "{scenario}: {figures}"
        );
    }
    // A vanished member is removed only after its session timeout, counted from its last
    // heartbeat: at most one heartbeat period (250 ms) before it vanished.
    let vanish = summary["rebalance"]["vanish"]["p50_ms"].as_f64().unwrap();
    assert!(vanish >= 1750.0, "vanish took {vanish} ms");
    assert!(
        summary["markdown"]
            .as_str()
            .unwrap()
            .contains("rebalance, vanish")
    );
}
