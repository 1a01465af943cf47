//! The `silt` command as a person uses it: topic admin, produce from stdin, consume to
//! stdout, against a running `silt dev`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use silt_tests::harness::{Silt, SiltOptions, silt_binary};

fn silt(url: &str, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
    let mut child = Command::new(silt_binary())
        .args(args)
        .env("SILT_BROKER", url)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn consume_waits_for_new_records_like_kafkas_console_consumer() {
    let dir = tempfile::tempdir().unwrap();
    let node = Silt::start(dir.path(), SiltOptions::default());
    let url = node.url.as_str();
    let (ok, out, err) = silt(url, &["topic", "create", "live", "--partitions", "2"], None);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = silt(url, &["produce", "live"], Some("old\n"));
    assert!(ok, "{err}");

    // No flags: starts at the end and waits; --max-messages ends it after the new record.
    let mut child = silt_tests::harness::KillOnDrop(
        Command::new(silt_binary())
            .args(["consume", "live", "--max-messages", "1"])
            .env("SILT_BROKER", url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Produce until the consumer has printed (it may have started after the first one).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        let (ok, _, err) = silt(url, &["produce", "live"], Some("new\n"));
        assert!(ok, "{err}");
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "consume never printed the new record"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(child.0.stdout.as_mut().unwrap(), &mut out).unwrap();
    assert!(status.success(), "{out}");
    assert_eq!(out, "new\n", "it printed the new record only, then stopped");

    // --timeout-ms ends a wait with nothing new; --exit-at-end stops at the end.
    let (ok, out, err) = silt(url, &["consume", "live", "--timeout-ms", "300"], None);
    assert!(ok && out.is_empty(), "{out}{err}");
    let (ok, out, err) = silt(
        url,
        &["consume", "live", "--from-beginning", "--exit-at-end"],
        None,
    );
    assert!(ok && out.lines().any(|l| l == "old"), "{out}{err}");
    let (ok, _, err) = silt(url, &["consume", "live", "--max-messages", "0"], None);
    assert!(!ok && err.contains("max-messages"), "{err}");
}

#[test]
fn topic_produce_consume_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let node = Silt::start(dir.path(), SiltOptions::default());
    let url = node.url.as_str();

    let (ok, out, err) = silt(
        url,
        &["topic", "create", "events", "--partitions", "3"],
        None,
    );
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("created topic events with 3 partitions"),
        "{out}"
    );

    let lines = "alpha\nbeta\nγάμμα ✓\n\nlast line\n";
    let (ok, out, err) = silt(url, &["produce", "events", "--partition", "1"], Some(lines));
    assert!(ok, "{out}{err}");
    assert!(err.contains("produced 5 of 5 records"), "{err}");

    let (ok, out, err) = silt(
        url,
        &["consume", "events", "--from-beginning", "--exit-at-end"],
        None,
    );
    assert!(ok, "{out}{err}");
    assert_eq!(out, lines);

    let (ok, out, err) = silt(
        url,
        &["produce", "events", "--key-separator", "=", "--json"],
        Some("\"k\"={\"n\":1}\n"),
    );
    assert!(ok, "{out}{err}");
    let (ok, out, _) = silt(
        url,
        &[
            "consume",
            "events",
            "--from-beginning",
            "--exit-at-end",
            "--format",
            "json",
        ],
        None,
    );
    assert!(ok);
    assert!(
        out.contains(r#""key":"k""#) && out.contains(r#""value":{"n":1}"#),
        "{out}"
    );

    let (ok, out, _) = silt(url, &["topic", "list"], None);
    assert!(ok && out.contains("events") && out.contains('6'), "{out}");
    let (ok, out, _) = silt(url, &["topic", "describe", "events"], None);
    assert!(ok && out.contains("\"high_watermark\""), "{out}");

    let (ok, _, err) = silt(url, &["produce", "events", "--json"], Some("not json\n"));
    assert!(!ok && err.contains("line 1"), "{err}");
    let (ok, _, err) = silt(url, &["topic", "describe", "missing"], None);
    assert!(!ok && err.contains("topic_not_found"), "{err}");

    let (ok, out, err) = silt(url, &["topic", "delete", "events"], None);
    assert!(ok, "{out}{err}");
    let (ok, out, _) = silt(url, &["topic", "list"], None);
    assert!(ok && !out.contains("events"), "{out}");
}

/// The row of `table` (the output of `silt group describe`/`list`) whose first column
/// is `first`, split into columns.
fn row<'t>(table: &'t str, first: &str) -> Vec<&'t str> {
    table
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|columns| columns.first() == Some(&first))
        .unwrap_or_else(|| panic!("no row {first:?} in:\n{table}"))
}

#[test]
fn consume_with_a_group_commits_what_it_printed_and_group_commands_show_lag() {
    let dir = tempfile::tempdir().unwrap();
    let node = Silt::start(dir.path(), SiltOptions::default());
    let url = node.url.as_str();
    let (ok, out, err) = silt(url, &["topic", "create", "jobs"], None);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = silt(url, &["produce", "jobs"], Some("a\nb\nc\nd\ne\n"));
    assert!(ok, "{err}");

    // Prints three, commits exactly those (the rest of its batch is left for later).
    let consume = ["consume", "jobs", "--group", "app", "--from-beginning"];
    let (ok, out, err) = silt(
        url,
        &[&consume[..], &["--max-messages", "3"]].concat(),
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(out, "a\nb\nc\n");
    let (ok, described, err) = silt(url, &["group", "describe", "app"], None);
    assert!(ok, "{err}");
    assert_eq!(row(&described, "jobs"), ["jobs", "0", "3", "2", "-"]);
    let (ok, listed, err) = silt(url, &["group", "list"], None);
    assert!(ok, "{err}");
    assert_eq!(row(&listed, "app"), ["app", "empty", "2", "0", "2"]);

    // The next run goes on from the committed offset.
    let (ok, out, err) = silt(
        url,
        &[&consume[..], &["--max-messages", "2"]].concat(),
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(out, "d\ne\n");

    // Reset: to earliest; a bad offset is refused, naming it, and changes nothing.
    let (ok, out, err) = silt(url, &["group", "reset", "app", "--to", "earliest"], None);
    assert!(ok, "{err}");
    assert_eq!(row(&out, "jobs"), ["jobs", "0", "0", "5", "-"]);
    let (ok, _, err) = silt(url, &["group", "reset", "app", "--offset", "9"], None);
    assert!(
        !ok && err.contains("offset_out_of_range") && err.contains('9'),
        "{err}"
    );
    let (_, described, _) = silt(url, &["group", "describe", "app"], None);
    assert_eq!(row(&described, "jobs"), ["jobs", "0", "0", "5", "-"]);
    let (ok, _, err) = silt(url, &["group", "reset", "app"], None);
    assert!(!ok && err.contains("--to"), "{err}");

    let (ok, out, err) = silt(url, &["group", "delete", "app"], None);
    assert!(ok && out.contains("deleted group app"), "{out}{err}");
    let (_, listed, _) = silt(url, &["group", "list"], None);
    assert!(!listed.contains("app"), "{listed}");
}

#[test]
fn ctrl_c_ends_a_group_consume_with_a_commit_and_a_leave() {
    let dir = tempfile::tempdir().unwrap();
    let node = Silt::start(dir.path(), SiltOptions::default());
    let url = node.url.as_str();
    let (ok, out, err) = silt(url, &["topic", "create", "tasks"], None);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = silt(url, &["produce", "tasks"], Some("x\ny\n"));
    assert!(ok, "{err}");
    let mut child = silt_tests::harness::KillOnDrop(
        Command::new(silt_binary())
            .args(["consume", "tasks", "--group", "ops", "--from-beginning"])
            .env("SILT_BROKER", url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut lines =
        std::io::BufRead::lines(std::io::BufReader::new(child.0.stdout.take().unwrap()));
    let printed: Vec<String> = (0..2).map(|_| lines.next().unwrap().unwrap()).collect();
    assert_eq!(printed, ["x", "y"]);
    let pid = child.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.0.wait().unwrap();
    assert!(status.success(), "{status}");
    // It committed what it printed and left: no member, nothing behind.
    let (ok, listed, err) = silt(url, &["group", "list"], None);
    assert!(ok, "{err}");
    assert_eq!(row(&listed, "ops"), ["ops", "empty", "2", "0", "0"]);
}

#[test]
fn topic_alter_changes_retention_on_a_live_topic_and_refuses_bad_values() {
    let dir = tempfile::tempdir().unwrap();
    let node = Silt::start(dir.path(), SiltOptions::default());
    let url = node.url.as_str();
    let (ok, out, err) = silt(
        url,
        &["topic", "create", "kept", "--retention-ms", "-1"],
        None,
    );
    assert!(ok, "{out}{err}");
    let (ok, out, err) = silt(
        url,
        &["topic", "alter", "kept", "--retention-ms", "600000"],
        None,
    );
    assert!(ok, "{out}{err}");
    assert!(out.contains("retention_ms 600000"), "{out}");
    let (ok, out, _) = silt(url, &["topic", "describe", "kept"], None);
    assert!(ok && out.contains("\"retention_ms\": 600000"), "{out}");

    // Back to the cluster default (no bound here); the other setting is kept.
    let args = ["topic", "alter", "kept", "--retention-bytes", "4096"];
    assert!(silt(url, &args, None).0);
    let args = ["topic", "alter", "kept", "--retention-ms", "default"];
    let (ok, out, err) = silt(url, &args, None);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("retention_ms unbounded, retention_bytes 4096"),
        "{out}"
    );

    let (ok, _, err) = silt(
        url,
        &["topic", "alter", "kept", "--retention-ms", "-5"],
        None,
    );
    assert!(!ok && err.contains("-5"), "{err}");
    let (ok, _, err) = silt(
        url,
        &["topic", "alter", "kept", "--retention-ms", "soon"],
        None,
    );
    assert!(!ok && err.contains("soon"), "{err}");
    let (ok, _, err) = silt(
        url,
        &["topic", "alter", "nope", "--retention-ms", "1000"],
        None,
    );
    assert!(!ok && err.contains("not found"), "{err}");
    let (ok, _, err) = silt(url, &["topic", "alter", "kept"], None);
    assert!(!ok && err.contains("nothing to change"), "{err}");
    let (_, out, _) = silt(url, &["topic", "describe", "kept"], None);
    assert!(
        out.contains("\"retention_bytes\": 4096"),
        "unchanged by refusals: {out}"
    );
}
