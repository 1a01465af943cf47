//! [`Cluster`]: a multi-process silt cluster on 127.0.0.1 — 3 `silt metadata` Raft voters and
//! 3 stateless `silt broker`s — started through `infra/local-cluster.sh`, the same code path
//! a person uses, on ports the OS picked, in a temp dir, against a unique prefix of the shared
//! S3-compatible server (see [`super::s3_env`]). Brokers run with `--fault-injection` unless
//! told otherwise. The script makes a cluster secret (`cluster.secret` in the directory,
//! [`Cluster::secret`]) and every metadata node and broker runs with it, so requests to the
//! metadata routes must present it. Client authentication is on too unless
//! [`ClusterOptions::auth`] is false: the script makes a principals file with an `admin`
//! principal allowed everything, every broker runs with it, and [`Cluster::token`] is the
//! token every client of the harness sends ([`Cluster::client_config`],
//! [`Cluster::bearer`]); [`Cluster::add_principal`] adds another one (see `cluster/auth.rs`).
//!
//! Processes are numbered from 1, as the script numbers them (`meta-1`, `broker-2`). Process
//! control (kill -9, restart, SIGSTOP/SIGCONT, wiping a cache dir) is synchronous and may
//! block for seconds (a restart waits until the process is ready): call it from
//! `tokio::task::spawn_blocking` in async code. Dropping the cluster resumes paused
//! processes, runs `local-cluster.sh down` and SIGKILLs anything that survived it. Set
//! `SILT_KEEP_CLUSTER=1` to keep the directory (logs, data) after the run.
//!
//! With [`ClusterOptions::disk_size`], each process's data or cache directory is a small
//! tmpfs of its own ([`Cluster::fill_disk`], [`Cluster::free_disk`]), where mounting is
//! permitted.

use std::collections::HashSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use super::disks::Tmpfs;
use super::{find_silt_binary, http_client, try_s3_env};

mod auth;

/// A kind of cluster process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// A `silt metadata` Raft voter.
    Metadata,
    /// A stateless `silt broker`.
    Broker,
}

impl Role {
    /// The role as `local-cluster.sh` names it.
    pub fn script_name(self) -> &'static str {
        match self {
            Role::Metadata => "metadata",
            Role::Broker => "broker",
        }
    }

    fn dir_prefix(self) -> &'static str {
        match self {
            Role::Metadata => "meta",
            Role::Broker => "broker",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.script_name())
    }
}

/// How to start a cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// The object store; default a unique prefix in the shared test bucket.
    pub object_store: Option<String>,
    /// Extra broker flags (default `--fault-injection`).
    pub broker_args: String,
    /// Extra environment for every process, e.g. `SILT_WAL_LINGER`.
    pub env: Vec<(String, String)>,
    /// Metadata nodes (default 3).
    pub metadata_nodes: usize,
    /// Brokers (default 3).
    pub brokers: usize,
    /// Keep the cluster directory after the drop (also with `SILT_KEEP_CLUSTER=1`).
    pub keep_dir: bool,
    /// Give each process's data (metadata) or cache (broker) directory a tmpfs of this size
    /// (e.g. `"256m"`) of its own, so one can be filled; plain directories where mounting
    /// is not permitted (see [`Cluster::has_own_disks`]).
    pub disk_size: Option<String>,
    /// Client authentication on the brokers (default true: `SILT_CLUSTER_AUTH=on`, an
    /// `admin` principal whose token is [`Cluster::token`]); false for the rare test that
    /// needs open brokers.
    pub auth: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            object_store: None,
            broker_args: "--fault-injection".to_owned(),
            env: Vec::new(),
            metadata_nodes: 3,
            brokers: 3,
            keep_dir: false,
            disk_size: None,
            auth: true,
        }
    }
}

/// A running cluster (see the module documentation).
#[derive(Debug)]
pub struct Cluster {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    script: PathBuf,
    metadata_ports: Vec<u16>,
    broker_ports: Vec<u16>,
    env: Vec<(String, String)>,
    object_store: String,
    pids: Mutex<HashSet<u32>>,
    paused: Mutex<HashSet<(Role, usize)>>,
    http: reqwest::Client,
    keep: bool,
    /// The processes' own disks, by (role, index), when mounted.
    disks: Vec<((Role, usize), Tmpfs)>,
    /// The `admin` principal's token (read after `up`); None with authentication off.
    token: Option<String>,
    /// Whether the brokers authenticate clients ([`ClusterOptions::auth`]).
    auth: bool,
}

/// Bound on one `local-cluster.sh` command (it has its own, shorter, per-process timeouts).
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(240);
/// Seconds the script waits for one process to become ready.
const START_TIMEOUT_SECS: &str = "90";
/// Seconds between SIGTERM and SIGKILL when the cluster is torn down.
const STOP_TIMEOUT_SECS: &str = "5";

/// The path of `infra/local-cluster.sh` (override with `SILT_CLUSTER_SCRIPT`).
pub(super) fn cluster_script() -> PathBuf {
    if let Ok(path) = std::env::var("SILT_CLUSTER_SCRIPT") {
        return PathBuf::from(path);
    }
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("infra")
        .join("local-cluster.sh")
}

fn free_ports(count: usize) -> Result<Vec<u16>> {
    // Hold every listener until all are bound so the OS hands out distinct ports.
    let listeners = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("cannot bind a port on 127.0.0.1")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

fn join_ports(ports: &[u16]) -> String {
    ports
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `kill -SIGNAL pid` through the `kill` command (no libc in this crate).
fn signal(pid: u32, signal: &str) -> Result<()> {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("cannot run kill")?;
    if !status.success() {
        bail!("kill -{signal} {pid} failed ({status})");
    }
    Ok(())
}

/// The state letter of a live process (`R`, `S`, `T`…) whose command line names `dir`; None
/// when the pid is gone, a zombie, or another program (a reused pid).
fn process_state(pid: u32, dir: &Path) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let state = stat.rsplit_once(") ")?.1.chars().next()?;
    if matches!(state, 'Z' | 'X' | 'x') {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
    let marker = format!("{}/", dir.display());
    cmdline.contains(&marker).then_some(state)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// The output of one script command.
struct ScriptOutput {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Cluster {
    /// Starts a cluster (`local-cluster.sh up`) with the default options; `name` labels
    /// the temp dir and the object-store prefix.
    pub fn up(name: &str) -> Result<Cluster> {
        Cluster::up_with(name, ClusterOptions::default())
    }

    /// Starts a cluster (retrying with other ports if one was taken meanwhile).
    pub fn up_with(name: &str, options: ClusterOptions) -> Result<Cluster> {
        let object_store = match &options.object_store {
            Some(url) => url.clone(),
            None => try_s3_env().map_err(|e| anyhow!(e))?.url_for(name),
        };
        let mut last_error = None;
        for _attempt in 0..3 {
            let mut cluster = Cluster::prepare(name, &options, &object_store)?;
            match cluster.bring_up() {
                Ok(()) => return Ok(cluster),
                Err(error) => {
                    let retry = format!("{error:#}").contains("already in use");
                    // Keep the directory of a failed start for the error message only.
                    let diagnostics = cluster.diagnostics(30);
                    cluster.keep = cluster.keep && !retry;
                    drop(cluster);
                    if !retry {
                        return Err(error.context(diagnostics));
                    }
                    last_error = Some(error);
                }
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow!("the cluster did not start")))
    }

    fn prepare(name: &str, options: &ClusterOptions, object_store: &str) -> Result<Cluster> {
        let bin = find_silt_binary().map_err(|e| anyhow!(e))?;
        let dir = tempfile::Builder::new()
            .prefix(&format!("silt-cluster-{name}-"))
            .tempdir()
            .context("cannot create a temp dir")?;
        let path = dir.path().canonicalize().context("temp dir")?;
        let ports = free_ports(options.metadata_nodes + options.brokers)?;
        let (metadata_ports, broker_ports) = ports.split_at(options.metadata_nodes);
        let mut env = vec![
            ("SILT_CLUSTER_DIR".to_owned(), path.display().to_string()),
            ("SILT_BIN".to_owned(), bin.display().to_string()),
            ("SILT_METADATA_PORTS".to_owned(), join_ports(metadata_ports)),
            ("SILT_BROKER_PORTS".to_owned(), join_ports(broker_ports)),
            (
                "SILT_CLUSTER_OBJECT_STORE".to_owned(),
                object_store.to_owned(),
            ),
            ("SILT_BROKER_ARGS".to_owned(), options.broker_args.clone()),
            (
                "SILT_CLUSTER_START_TIMEOUT".to_owned(),
                START_TIMEOUT_SECS.to_owned(),
            ),
            (
                "SILT_CLUSTER_STOP_TIMEOUT".to_owned(),
                STOP_TIMEOUT_SECS.to_owned(),
            ),
            (
                "SILT_CLUSTER_AUTH".to_owned(),
                if options.auth { "on" } else { "off" }.to_owned(),
            ),
        ];
        env.extend(options.env.iter().cloned());
        let keep = options.keep_dir || std::env::var("SILT_KEEP_CLUSTER").is_ok_and(|v| v == "1");
        let disks = match &options.disk_size {
            Some(size) => mount_disks(&path, options, size),
            None => Vec::new(),
        };
        Ok(Cluster {
            disks,
            dir: Some(dir),
            path,
            script: cluster_script(),
            metadata_ports: metadata_ports.to_vec(),
            broker_ports: broker_ports.to_vec(),
            env,
            object_store: object_store.to_owned(),
            pids: Mutex::new(HashSet::new()),
            paused: Mutex::new(HashSet::new()),
            http: http_client(),
            keep,
            token: None,
            auth: options.auth,
        })
    }

    fn bring_up(&mut self) -> Result<()> {
        let output = self.script(&["up"])?;
        if !output.success {
            bail!(
                "local-cluster.sh up failed:\n{}{}",
                output.stdout,
                output.stderr
            );
        }
        let urls: Vec<&str> = output.stdout.lines().collect();
        if urls != self.broker_urls() {
            bail!(
                "local-cluster.sh up printed {urls:?}, expected {:?}",
                self.broker_urls()
            );
        }
        self.remember_pids();
        self.token = self.read_token()?;
        Ok(())
    }

    /// Runs `local-cluster.sh ARGS` with this cluster's settings, bounded in time.
    fn script(&self, args: &[&str]) -> Result<ScriptOutput> {
        self.script_with(args, &[])
    }

    /// [`Cluster::script`] with `extra` environment on top of the cluster's.
    fn script_with(&self, args: &[&str], extra: &[(&str, &str)]) -> Result<ScriptOutput> {
        let mut command = Command::new("bash");
        command
            .arg(&self.script)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command.envs(extra.iter().copied());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot run {}", self.script.display()))?;
        let mut stdout = child.stdout.take();
        let mut stderr = child.stderr.take();
        let out = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(pipe) = stdout.as_mut() {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        });
        let err = std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(pipe) = stderr.as_mut() {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        });
        let deadline = Instant::now() + SCRIPT_TIMEOUT;
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break Some(status);
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stdout = out.join().unwrap_or_default();
        let stderr = err.join().unwrap_or_default();
        match status {
            Some(status) => Ok(ScriptOutput {
                success: status.success(),
                stdout,
                stderr,
            }),
            None => bail!(
                "local-cluster.sh {} did not finish within {SCRIPT_TIMEOUT:?}:\n{stdout}{stderr}",
                args.join(" ")
            ),
        }
    }

    /// The cluster directory (`meta-N/`, `broker-N/`, `cluster.env`).
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The object-store URL the brokers use.
    pub fn object_store(&self) -> &str {
        &self.object_store
    }

    /// How many processes of `role` the cluster has.
    pub fn size(&self, role: Role) -> usize {
        match role {
            Role::Metadata => self.metadata_ports.len(),
            Role::Broker => self.broker_ports.len(),
        }
    }

    /// `http://127.0.0.1:PORT` of broker `i` (1-based).
    pub fn broker_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.broker_ports[i - 1])
    }

    /// Every broker's URL, broker 1 first.
    pub fn broker_urls(&self) -> Vec<String> {
        (1..=self.broker_ports.len())
            .map(|i| self.broker_url(i))
            .collect()
    }

    /// `http://127.0.0.1:PORT` of metadata node `i` (1-based).
    pub fn metadata_url(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.metadata_ports[i - 1])
    }

    /// Every metadata node's URL, node 1 first.
    pub fn metadata_urls(&self) -> Vec<String> {
        (1..=self.metadata_ports.len())
            .map(|i| self.metadata_url(i))
            .collect()
    }

    /// The directory of one process.
    pub fn process_dir(&self, role: Role, i: usize) -> PathBuf {
        self.path.join(format!("{}-{i}", role.dir_prefix()))
    }

    fn check_index(&self, role: Role, i: usize) -> Result<()> {
        if i == 0 || i > self.size(role) {
            bail!(
                "no {role} {i}: the cluster has {} ({role}s are numbered from 1)",
                self.size(role)
            );
        }
        Ok(())
    }

    /// The pid of a live process of ours (None when it is down).
    pub fn pid(&self, role: Role, i: usize) -> Option<u32> {
        let dir = self.process_dir(role, i);
        let pid: u32 = std::fs::read_to_string(dir.join("pid"))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        process_state(pid, &dir).map(|_| pid)
    }

    /// Whether the process runs (paused counts as running).
    pub fn is_alive(&self, role: Role, i: usize) -> bool {
        self.pid(role, i).is_some()
    }

    /// Whether the process is stopped by SIGSTOP.
    pub fn is_paused(&self, role: Role, i: usize) -> bool {
        let dir = self.process_dir(role, i);
        self.pid(role, i)
            .and_then(|pid| process_state(pid, &dir))
            .is_some_and(|state| state == 'T')
    }

    fn remember_pids(&self) {
        let mut pids = self.pids.lock().unwrap_or_else(|e| e.into_inner());
        for role in [Role::Metadata, Role::Broker] {
            for i in 1..=self.size(role) {
                if let Some(pid) = self.pid(role, i) {
                    pids.insert(pid);
                }
            }
        }
    }

    fn forget_paused(&self, role: Role, i: usize) {
        self.paused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(role, i));
    }

    /// `kill -9` one process and waits until it is gone. Returns whether it was running.
    pub fn kill9(&self, role: Role, i: usize) -> Result<bool> {
        self.check_index(role, i)?;
        let Some(pid) = self.pid(role, i) else {
            return Ok(false);
        };
        signal(pid, "KILL")?;
        self.forget_paused(role, i);
        let dir = self.process_dir(role, i);
        let deadline = Instant::now() + Duration::from_secs(10);
        while process_state(pid, &dir).is_some() {
            if Instant::now() > deadline {
                bail!("{role} {i} (pid {pid}) still runs 10 s after kill -9");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        Ok(true)
    }

    /// (Re)starts one process with its original command line (`local-cluster.sh start`) and
    /// waits until it is ready (/healthz for metadata, /readyz for a broker).
    pub fn start(&self, role: Role, i: usize) -> Result<()> {
        self.start_waiting_for(role, i, "ready", &[])
    }

    /// [`Cluster::start`] with `extra` environment for this process only (on top of the
    /// cluster's), e.g. `SILT_FAILPOINTS`; a later plain `start` drops it again.
    pub fn start_with_env(&self, role: Role, i: usize, extra: &[(&str, &str)]) -> Result<()> {
        self.start_waiting_for(role, i, "ready", extra)
    }

    /// Whether the process is stopped (SIGSTOP: by [`Cluster::pause`], or by itself at a
    /// `name:stop` fail point).
    pub fn is_stopped(&self, role: Role, i: usize) -> bool {
        let dir = self.process_dir(role, i);
        self.pid(role, i)
            .and_then(|pid| process_state(pid, &dir))
            .is_some_and(|state| state == 'T')
    }

    /// [`Cluster::start`], but a broker counts as started once it serves `/healthz`, ready
    /// or not: during a metadata outage a broker runs but is not ready.
    pub fn start_alive(&self, role: Role, i: usize) -> Result<()> {
        self.start_waiting_for(role, i, "alive", &[])
    }

    fn start_waiting_for(
        &self,
        role: Role,
        i: usize,
        wait_for: &str,
        extra: &[(&str, &str)],
    ) -> Result<()> {
        self.check_index(role, i)?;
        let index = i.to_string();
        let args = ["start", role.script_name(), &index];
        let mut env = vec![("SILT_CLUSTER_WAIT_FOR", wait_for)];
        env.extend_from_slice(extra);
        let output = self.script_with(&args, &env)?;
        if !output.success {
            bail!(
                "local-cluster.sh start {role} {i} failed:\n{}{}\n---- {role} {i} log ----\n{}",
                output.stdout,
                output.stderr,
                tail(&self.process_dir(role, i).join("log"), 30)
            );
        }
        self.remember_pids();
        Ok(())
    }

    /// Stops one process cleanly (`local-cluster.sh stop`: SIGTERM, then SIGKILL).
    pub fn stop(&self, role: Role, i: usize) -> Result<()> {
        self.check_index(role, i)?;
        let index = i.to_string();
        let output = self.script(&["stop", role.script_name(), &index])?;
        self.forget_paused(role, i);
        if !output.success {
            bail!(
                "local-cluster.sh stop {role} {i} failed:\n{}",
                output.stderr
            );
        }
        Ok(())
    }

    /// Deletes broker `i`'s cache directory (write-ahead spool and read cache) while it is
    /// down, as if it came back on a new machine.
    pub fn wipe_cache(&self, i: usize) -> Result<()> {
        self.check_index(Role::Broker, i)?;
        if let Some(pid) = self.pid(Role::Broker, i) {
            bail!("broker {i} runs (pid {pid}): stop it before wiping its cache");
        }
        if let Some(disk) = self.disk(Role::Broker, i) {
            return disk.wipe();
        }
        let cache = self.process_dir(Role::Broker, i).join("cache");
        match std::fs::remove_dir_all(&cache) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {}", cache.display())),
        }
        std::fs::create_dir_all(&cache)
            .with_context(|| format!("cannot create {}", cache.display()))
    }

    /// Whether the process answers `/healthz` with 200 within 2 s (a metadata node whose
    /// storage failed for good answers 503).
    pub async fn healthy(&self, role: Role, i: usize) -> bool {
        let url = match role {
            Role::Metadata => self.metadata_url(i),
            Role::Broker => self.broker_url(i),
        };
        let answer = self
            .http
            .get(format!("{url}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        answer.is_ok_and(|r| r.status().is_success())
    }

    /// Whether the processes have disks of their own ([`ClusterOptions::disk_size`], and
    /// mounting was permitted).
    pub fn has_own_disks(&self) -> bool {
        !self.disks.is_empty()
    }

    fn disk(&self, role: Role, i: usize) -> Option<&Tmpfs> {
        self.disks
            .iter()
            .find(|(key, _)| *key == (role, i))
            .map(|(_, disk)| disk)
    }

    /// Fills the disk under one process's data or cache directory (its next write fails
    /// with `ENOSPC`); returns the bytes it took. An error without disks of their own.
    pub fn fill_disk(&self, role: Role, i: usize) -> Result<u64> {
        self.check_index(role, i)?;
        self.disk(role, i)
            .ok_or_else(|| anyhow!("{role} {i} has no disk of its own"))?
            .fill()
    }

    /// Frees what [`Cluster::fill_disk`] took.
    pub fn free_disk(&self, role: Role, i: usize) -> Result<()> {
        self.check_index(role, i)?;
        self.disk(role, i).map_or(Ok(()), Tmpfs::free)
    }

    /// SIGSTOP: the process stops answering but keeps its sockets and state.
    pub fn pause(&self, role: Role, i: usize) -> Result<()> {
        self.check_index(role, i)?;
        let pid = self
            .pid(role, i)
            .ok_or_else(|| anyhow!("{role} {i} is not running"))?;
        signal(pid, "STOP")?;
        self.paused
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((role, i));
        Ok(())
    }

    /// SIGCONT after [`Cluster::pause`].
    pub fn resume(&self, role: Role, i: usize) -> Result<()> {
        self.check_index(role, i)?;
        let pid = self
            .pid(role, i)
            .ok_or_else(|| anyhow!("{role} {i} is not running"))?;
        signal(pid, "CONT")?;
        self.forget_paused(role, i);
        Ok(())
    }

    /// The cluster secret file `local-cluster.sh up` made: every metadata node and broker
    /// runs with it.
    pub fn secret_file(&self) -> PathBuf {
        self.path.join("cluster.secret")
    }

    /// The cluster secret (the bearer token the metadata routes require).
    pub fn secret(&self) -> Result<String> {
        let file = self.secret_file();
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        Ok(text.trim().to_owned())
    }

    /// GET /meta/v1/status of metadata node `i` (presenting the cluster secret).
    pub async fn metadata_status(&self, i: usize) -> Result<Value> {
        self.check_index(Role::Metadata, i)?;
        let url = format!("{}/meta/v1/status", self.metadata_url(i));
        let response = self
            .http
            .get(&url)
            .bearer_auth(self.secret()?)
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("GET {url}: {status}");
        }
        response
            .json()
            .await
            .with_context(|| format!("GET {url}: undecodable body"))
    }

    /// The metadata leader (1-based node id): the leader named in the highest term any
    /// answering node reports. Paused nodes are not asked.
    pub async fn metadata_leader(&self) -> Option<usize> {
        let mut best: Option<(u64, usize)> = None;
        for i in 1..=self.size(Role::Metadata) {
            if self.is_paused(Role::Metadata, i) || !self.is_alive(Role::Metadata, i) {
                continue;
            }
            let Ok(status) = self.metadata_status(i).await else {
                continue;
            };
            let term = status["term"].as_u64().unwrap_or(0);
            let leader = if status["state"] == "Leader" {
                status["node_id"].as_u64()
            } else {
                status["leader_id"].as_u64()
            };
            if let Some(leader) = leader.and_then(|l| usize::try_from(l).ok())
                && best.is_none_or(|(t, _)| term > t)
            {
                best = Some((term, leader));
            }
        }
        best.map(|(_, leader)| leader)
    }

    /// Waits (bounded) until some metadata node names a leader.
    pub async fn wait_for_leader(&self, timeout: Duration) -> Result<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(leader) = self.metadata_leader().await {
                return Ok(leader);
            }
            if Instant::now() > deadline {
                bail!("no metadata leader within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Whether broker `i` answers /readyz with 200.
    pub async fn broker_ready(&self, i: usize) -> bool {
        let url = format!("{}/readyz", self.broker_url(i));
        matches!(
            self.http.get(&url).timeout(Duration::from_secs(2)).send().await,
            Ok(response) if response.status().is_success()
        )
    }

    /// `PUT /v1/admin/faults` on broker `i` (object-store fault injection; see the broker's
    /// `--fault-injection`), e.g. `{"error_rate": 0.3}`.
    pub async fn set_faults(&self, i: usize, faults: &Value) -> Result<()> {
        self.check_index(Role::Broker, i)?;
        let url = format!("{}/v1/admin/faults", self.broker_url(i));
        let response = self
            .bearer(self.http.put(&url))
            .json(faults)
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .with_context(|| format!("PUT {url}"))?;
        let status = response.status();
        if !status.is_success() {
            let body = response.text().await.unwrap_or_default();
            bail!("PUT {url} {faults}: {status} {body}");
        }
        Ok(())
    }

    /// `DELETE /v1/admin/faults` on broker `i`.
    pub async fn clear_faults(&self, i: usize) -> Result<()> {
        self.check_index(Role::Broker, i)?;
        let url = format!("{}/v1/admin/faults", self.broker_url(i));
        let response = self
            .bearer(self.http.delete(&url))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .with_context(|| format!("DELETE {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("DELETE {url}: {status}");
        }
        Ok(())
    }

    /// What `local-cluster.sh status` prints.
    pub fn status(&self) -> Result<String> {
        let output = self.script(&["status"])?;
        Ok(format!("{}{}", output.stdout, output.stderr))
    }

    /// The last `lines` lines of one process's log.
    pub fn log_tail(&self, role: Role, i: usize, lines: usize) -> String {
        tail(&self.process_dir(role, i).join("log"), lines)
    }

    /// The status and the end of every process's log, for a failure message.
    pub fn diagnostics(&self, lines: usize) -> String {
        let mut out = format!("cluster directory: {}\n", self.path.display());
        if let Ok(status) = self.status() {
            out.push_str(&status);
        }
        for role in [Role::Metadata, Role::Broker] {
            for i in 1..=self.size(role) {
                out.push_str(&format!(
                    "---- {role} {i} log (last {lines} lines) ----\n{}\n",
                    self.log_tail(role, i, lines)
                ));
            }
        }
        out
    }

    fn pids_to_check(&self) -> Vec<(u32, PathBuf)> {
        let mut out = Vec::new();
        let known = self.pids.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for role in [Role::Metadata, Role::Broker] {
            for i in 1..=self.size(role) {
                let dir = self.process_dir(role, i);
                let from_file = std::fs::read_to_string(dir.join("pid"))
                    .ok()
                    .and_then(|p| p.trim().parse::<u32>().ok());
                for pid in known.iter().copied().chain(from_file) {
                    if process_state(pid, &dir).is_some() {
                        out.push((pid, dir.clone()));
                    }
                }
            }
        }
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A stopped process cannot act on SIGTERM: resume everything first.
        for (pid, _) in self.pids_to_check() {
            let _ = signal(pid, "CONT");
        }
        if let Err(error) = self.script(&["down"]).and_then(|output| {
            if output.success {
                Ok(())
            } else {
                Err(anyhow!("{}", output.stderr))
            }
        }) {
            eprintln!("local-cluster.sh down failed: {error:#}");
        }
        for (pid, dir) in self.pids_to_check() {
            eprintln!(
                "pid {pid} ({}) survived local-cluster.sh down: SIGKILL",
                dir.display()
            );
            let _ = signal(pid, "KILL");
        }
        // Unmounted before the temp dir goes (their content goes with them).
        self.disks.clear();
        if self.keep
            && let Some(dir) = self.dir.take()
        {
            let kept = dir.keep();
            eprintln!("kept the cluster directory {}", kept.display());
        }
    }
}

/// Mounts a tmpfs of `size` on every process's data (metadata) or cache (broker)
/// directory under `path`; none at all if mounting is not permitted.
fn mount_disks(path: &Path, options: &ClusterOptions, size: &str) -> Vec<((Role, usize), Tmpfs)> {
    let processes = (1..=options.metadata_nodes)
        .map(|i| (Role::Metadata, i, "data"))
        .chain((1..=options.brokers).map(|i| (Role::Broker, i, "cache")));
    let mut disks = Vec::new();
    for (role, i, sub) in processes {
        let dir = path.join(format!("{}-{i}", role.dir_prefix())).join(sub);
        match Tmpfs::mount(&dir, size) {
            Some(disk) => disks.push(((role, i), disk)),
            None => {
                eprintln!(
                    "cannot mount a tmpfs on {}: the processes share the machine's disk",
                    dir.display()
                );
                return Vec::new();
            }
        }
    }
    disks
}
