//! [`Silt`]: one `silt dev` process on a port the OS picked, in a temp dir; killed on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Path of the `silt` binary built by this cargo invocation (override with `SILT_BIN`).
pub fn silt_binary() -> PathBuf {
    match find_silt_binary() {
        Ok(path) => path,
        Err(message) => panic!("{message}"),
    }
}

/// Like [`silt_binary`], but an error names where it looked instead of panicking.
pub fn find_silt_binary() -> Result<PathBuf, String> {
    if let Ok(path) = std::env::var("SILT_BIN") {
        return Ok(PathBuf::from(path));
    }
    find_built_binary("silt", "silt-broker", "SILT_BIN")
}

/// Path of the `silt-loadgen` binary built by this cargo invocation (override with
/// `SILT_LOADGEN_BIN`).
pub fn loadgen_binary() -> PathBuf {
    let found = match std::env::var("SILT_LOADGEN_BIN") {
        Ok(path) => Ok(PathBuf::from(path)),
        Err(_) => find_built_binary("silt-loadgen", "silt-loadgen", "SILT_LOADGEN_BIN"),
    };
    found.unwrap_or_else(|message| panic!("{message}"))
}

/// Path of the SDK example `name` built by this cargo invocation (`cargo build --examples
/// -p silt-sdk`; `scripts/test.sh` builds them).
pub fn example_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let candidates = [
        dir.join("examples").join(name),
        dir.join("../examples").join(name),
    ];
    match candidates.iter().find(|path| path.is_file()) {
        Some(path) => path.clone(),
        None => panic!(
            "no example {name} at {}: build it first (cargo build --examples -p silt-sdk)",
            candidates[1].display()
        ),
    }
}

/// Path of the `silt-exactly-once` binary (the SDK's exactly-once pipeline example built
/// by this crate; override with `SILT_EXACTLY_ONCE_BIN`).
pub fn exactly_once_binary() -> PathBuf {
    let found = match std::env::var("SILT_EXACTLY_ONCE_BIN") {
        Ok(path) => Ok(PathBuf::from(path)),
        Err(_) => find_built_binary("silt-exactly-once", "silt-tests", "SILT_EXACTLY_ONCE_BIN"),
    };
    found.unwrap_or_else(|message| panic!("{message}"))
}

/// The binary `name` of package `package` in this cargo invocation's target directory,
/// or an error naming where it looked and `variable`, which overrides it.
fn find_built_binary(name: &str, package: &str, variable: &str) -> Result<PathBuf, String> {
    // A test executable lives in <target>/<profile>/deps/, a binary of this crate (such as
    // silt-faults) in <target>/<profile>/: the binaries are next to the latter.
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let candidates = [
        dir.join(name),
        dir.parent().map(|p| p.join(name)).unwrap_or_default(),
    ];
    candidates
        .iter()
        .find(|path| path.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "no {name} binary at {}: build it first (cargo build -p {package}) or set {variable}",
                candidates[1].display()
            )
        })
}

/// Removes the variables of the test suite's own settings (`SILT_FAULT*`, `SILT_KEEP_CLUSTER`) from a child's
/// environment: silt refuses to start on a `SILT_` variable it does not know.
pub fn strip_test_env(command: &mut Command) {
    for (name, _) in std::env::vars_os() {
        if name
            .to_str()
            .is_some_and(|n| n.starts_with("SILT_FAULT") || n == "SILT_KEEP_CLUSTER")
        {
            command.env_remove(name);
        }
    }
}

/// How to start a node.
#[derive(Debug, Clone, Default)]
pub struct SiltOptions {
    /// `--object-store`; default the node's local directory.
    pub object_store: Option<String>,
    /// Extra environment, e.g. `SILT_WAL_LINGER` or `SILT_FAILPOINTS`.
    pub env: Vec<(String, String)>,
}

/// A running `silt dev`.
pub struct Silt {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    /// Its data directory.
    pub data_dir: PathBuf,
    options: SiltOptions,
    output: mpsc::Receiver<String>,
}

impl Silt {
    /// Starts `silt dev` on `data_dir` and waits (bounded) until it prints its address.
    pub fn start(data_dir: &Path, options: SiltOptions) -> Silt {
        let mut command = Command::new(silt_binary());
        command
            .arg("dev")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(data_dir)
            .env("SILT_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        strip_test_env(&mut command);
        if let Some(url) = &options.object_store {
            command.arg("--object-store").arg(url);
        }
        for (key, value) in &options.env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("cannot spawn silt");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let tx_err = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx_err.send(format!("[stderr] {line}"));
            }
        });
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        let url = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix("silt dev listening on ") {
                        break rest
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!(
                        "silt did not start within 60 s; output:\n{}",
                        seen.join("\n")
                    );
                }
            }
        };
        Silt {
            child: Some(child),
            url,
            data_dir: data_dir.to_path_buf(),
            options,
            output: rx,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// `kill -9`, and wait for the exit.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait (bounded) for a clean exit; returns whether it exited with 0.
    pub fn terminate(&mut self) -> bool {
        let Some(mut child) = self.child.take() else {
            return false;
        };
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.success();
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (bounded) for the process to exit by itself; returns whether it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> bool {
        let Some(child) = self.child.as_mut() else {
            return true;
        };
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                self.child = None;
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Starts a new process on the same data dir and options (after a kill or exit).
    pub fn restart(&mut self, extra_env: Vec<(String, String)>) {
        self.kill9();
        let mut options = self.options.clone();
        options.env = extra_env;
        *self = Silt::start(&self.data_dir.clone(), options);
    }

    /// Lines the process printed so far.
    pub fn output(&self) -> Vec<String> {
        self.output.try_iter().collect()
    }
}

impl Drop for Silt {
    fn drop(&mut self) {
        self.kill9();
    }
}
