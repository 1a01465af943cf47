//! One data directory, one process: a second `silt dev` on a data directory already in use
//! must refuse to start (it would recover, and commit, spool files the first one is still
//! uploading or has already failed), with a message naming the directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use silt_tests::harness::{Silt, SiltOptions, silt_binary, strip_test_env};

/// Starts `silt dev` on `data_dir` and waits (bounded) for it to exit; `None` if it is
/// still running at the deadline (then it is killed), else its success and stderr.
fn second_dev_exit(data_dir: &std::path::Path) -> Option<(bool, String)> {
    let mut command = Command::new(silt_binary());
    command
        .args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .env("SILT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    strip_test_env(&mut command);
    let mut child = command.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return Some((status.success(), stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

#[test]
fn a_second_silt_dev_on_a_data_dir_in_use_exits_naming_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let first = Silt::start(dir.path(), SiltOptions::default());
    let exit = second_dev_exit(dir.path());
    let (success, stderr) = exit.expect("the second silt dev kept running");
    assert!(!success, "the second silt dev exited 0: {stderr}");
    let wal = dir.path().join("wal").display().to_string();
    assert!(
        stderr.contains("in use by another silt process"),
        "{stderr}"
    );
    assert!(stderr.contains(&wal), "{stderr}");
    drop(first);
}
