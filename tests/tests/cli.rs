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

    let (ok, out, err) = silt(url, &["consume", "events", "--from-beginning"], None);
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
        &["consume", "events", "--from-beginning", "--format", "json"],
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
