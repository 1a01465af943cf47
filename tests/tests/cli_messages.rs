//! What a new user reads from `silt`: the help, and the messages of common mistakes (a
//! partition the topic lacks, no broker running) in plain words, each cause once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};

use silt_tests::harness::{Silt, SiltOptions, silt_binary};

fn silt(broker: &str, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(silt_binary())
        .args(args)
        .env("SILT_BROKER", broker)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn help_says_what_silt_is_and_what_each_command_does() {
    let (ok, out, err) = silt("http://127.0.0.1:1", &["--help"]);
    assert!(ok, "{err}");
    assert!(out.contains("message log like Apache Kafka"), "{out}");
    assert!(out.contains("object storage"), "{out}");
    for (command, says) in [
        ("dev", "on this machine"),
        ("broker", "cluster"),
        ("metadata", "metadata service"),
        ("topic", "topics"),
        ("produce", "Append records"),
        ("consume", "Print a topic's records"),
    ] {
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{command} ")))
            .unwrap_or_else(|| panic!("no line for {command} in\n{out}"));
        assert!(line.contains(says), "{line}");
    }
}

#[test]
fn an_unreachable_broker_is_reported_once_per_cause() {
    // Port 1 on loopback: nothing listens there.
    let (ok, _, err) = silt("http://127.0.0.1:1", &["topic", "list"]);
    assert!(!ok);
    let message = err.trim();
    assert!(message.starts_with("error: transport error"), "{message}");
    let causes: Vec<&str> = message.split(": ").collect();
    for (i, cause) in causes.iter().enumerate() {
        assert!(
            !causes[i + 1..].contains(cause),
            "{cause:?} repeats in {message}"
        );
    }
    assert_eq!(message.matches("127.0.0.1:1").count(), 1, "{message}");
}

#[test]
fn consuming_a_partition_the_topic_lacks_names_the_partitions_it_has() {
    let dir = tempfile::tempdir().unwrap();
    let node = Silt::start(dir.path(), SiltOptions::default());
    let url = node.url.as_str();
    let (ok, out, err) = silt(url, &["topic", "create", "three", "--partitions", "3"]);
    assert!(ok, "{out}{err}");
    let (ok, _, err) = silt(url, &["consume", "three", "--partition", "9"]);
    assert!(!ok);
    assert!(
        err.contains(r#"topic "three" has no partition 9: it has 3 partitions, 0 to 2"#),
        "{err}"
    );
    assert!(!err.contains("Some("), "{err}");
}
