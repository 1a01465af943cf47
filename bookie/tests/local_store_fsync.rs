//! A segment PUT to a `file://` store is durable when it returns: the object's bytes and
//! the directory entry that names it are fsynced before the PUT's future completes.
//!
//! Observed from the outside with `strace -f -y` (which prints the path behind every file
//! descriptor): the test re-runs itself as a child under strace; the child opens the store
//! with [`open_store`], uploads one segment with [`upload_segment`], then makes a marker
//! directory. In the trace, the staged file must be fsynced, linked to the segment's name,
//! and the segment's directory fsynced, all before the marker. Linux only; skipped (with a
//! message) where strace is not installed or cannot trace.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

use std::path::Path as FsPath;
use std::process::Command;

use bytes::Bytes;
use object_store::path::Path;
use silt_bookie::store::open_store;
use silt_bookie::store::paths::segment_path;
use silt_bookie::upload::upload_segment;
use ulid::Ulid;

/// Set in the child: the store directory to write into.
const CHILD_DIR: &str = "SILT_FSYNC_PROBE_DIR";
/// The directory the child makes once the PUT has returned.
const MARKER: &str = "put-returned-marker";
const TEST_NAME: &str = "a_file_segment_put_is_fsynced_with_its_directory_before_it_returns";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_segment_put_is_fsynced_with_its_directory_before_it_returns() {
    if let Ok(dir) = std::env::var(CHILD_DIR) {
        return child(FsPath::new(&dir)).await;
    }
    if !Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|out| out.status.success())
    {
        eprintln!("SKIPPED: strace is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("store");
    let trace_file = dir.path().join("trace.txt");
    let output = Command::new("strace")
        .args(["-f", "-y", "-qq", "-o"])
        .arg(&trace_file)
        .args([
            "-e",
            "trace=fsync,fdatasync,link,linkat,rename,renameat,renameat2,mkdir,mkdirat",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", TEST_NAME, "--nocapture", "--test-threads", "1"])
        .env(CHILD_DIR, &store_dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() && stderr.contains("ptrace") {
        eprintln!("SKIPPED: strace cannot trace here: {stderr}");
        return;
    }
    assert!(
        output.status.success(),
        "child failed: {stderr}\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
    let trace = std::fs::read_to_string(&trace_file).unwrap();
    let object = std::fs::read_dir(store_dir.join("segments"))
        .unwrap()
        .flat_map(|spread| std::fs::read_dir(spread.unwrap().path()).unwrap())
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|ext| ext == "seg"))
        .expect("the segment object exists");
    let object = object.to_str().unwrap().to_owned();
    let parent = FsPath::new(&object).parent().unwrap().to_str().unwrap();
    let staged = format!("{object}#");
    let lines: Vec<&str> = trace.lines().collect();
    let position = |what: &str, matches: &dyn Fn(&str) -> bool| {
        lines
            .iter()
            .position(|line| matches(line))
            .unwrap_or_else(|| panic!("no {what} in the trace:\n{trace}"))
    };
    let is_fsync_of = |line: &str, path: &str| {
        (line.contains("fsync(") || line.contains("fdatasync("))
            && line.contains(&format!("<{path}>"))
            && !line.contains("= -1")
    };
    let file_synced = position("fsync of the staged object", &|line| {
        (line.contains("fsync(") || line.contains("fdatasync("))
            && line.contains(&format!("<{staged}"))
            && !line.contains("= -1")
    });
    let linked = position("link or rename to the object's name", &|line| {
        (line.contains("link") || line.contains("rename"))
            && line.contains(&format!("\"{object}\""))
            && !line.contains("= -1")
    });
    let dir_synced = lines
        .iter()
        .enumerate()
        .skip(linked)
        .find(|(_, line)| is_fsync_of(line, parent))
        .map(|(index, _)| index)
        .unwrap_or_else(|| panic!("no fsync of {parent} after the link in the trace:\n{trace}"));
    let returned = position("marker", &|line| line.contains(MARKER));
    assert!(
        file_synced < linked && linked < dir_synced && dir_synced < returned,
        "order: file fsync {file_synced}, link {linked}, dir fsync {dir_synced}, return \
         {returned}:\n{trace}"
    );
}

/// The traced side: one segment PUT through the `file://` store, then the marker.
async fn child(dir: &FsPath) {
    let handle = open_store(&format!("file://{}", dir.display())).unwrap();
    let path = segment_path(&Path::default(), Ulid::from_parts(1_700_000_000_000, 7));
    upload_segment(&handle, &path, Bytes::from(vec![7u8; 64 << 10]))
        .await
        .unwrap();
    std::fs::create_dir(dir.join(MARKER)).unwrap();
}
