//! `silt restore`: rebuilds a metadata data directory from the newest metadata backup in a
//! cluster's bucket (`broker/src/backup/`), for `silt dev` or for one `silt metadata`
//! node. Reads the bucket only; writes only into an empty directory.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use silt_bookie::clock::Clock;
use silt_bookie::store::{ObjectStoreHandle, open_store};
use silt_metadata::backup::{self, BackupInfo, RestoreTarget};

use super::RestoreArgs;
use crate::backup::objects::{self, Listed};
use crate::gc::marker;

/// The node id of `silt dev`'s embedded metadata node.
const DEV_NODE_ID: u64 = 1;

/// Runs `silt restore`.
pub(crate) async fn run(args: RestoreArgs) -> anyhow::Result<()> {
    let target = target(&args)?;
    let store = open(&args.object_store)?;
    let cluster_id = cluster_id(&store, &args.object_store).await?;
    let (chosen, file, passed) = newest_backup(&store, &args.object_store, &cluster_id).await?;
    for skipped in &passed {
        eprintln!("warning: passed over {skipped} (delete it)");
    }
    let path = chosen.path.to_string();
    let info = backup::restore(&file, Some(&cluster_id), &target).await;
    let info = info.with_context(|| format!("cannot restore from {path}"))?;
    println!("{}", summary(&args, &chosen, &info, &target));
    Ok(())
}

/// Where the restore writes, and as which voter: `silt dev`'s `DIR/metadata` as node 1,
/// or `DIR` itself as the `--node ID=HOST:PORT` of `silt metadata`.
fn target(args: &RestoreArgs) -> anyhow::Result<RestoreTarget> {
    let Some(node) = &args.node else {
        return Ok(RestoreTarget {
            data_dir: args.data_dir.join("metadata"),
            node_id: DEV_NODE_ID,
            addr: String::new(),
        });
    };
    let (id, addr) = node
        .split_once('=')
        .with_context(|| format!("--node {node:?} is not ID=HOST:PORT"))?;
    let node_id = id
        .trim()
        .parse()
        .with_context(|| format!("--node {node:?}: {id:?} is not a node id"))?;
    check_host_port(addr.trim()).with_context(|| format!("--node {node:?}"))?;
    let data_dir = args.data_dir.clone();
    let addr = addr.trim().to_owned();
    Ok(RestoreTarget {
        data_dir,
        node_id,
        addr,
    })
}

/// Refuses anything but `HOST:PORT` with a host of letters, digits, `.`, `-` (or an IPv6
/// address in brackets) and a port from 1 to 65535.
fn check_host_port(addr: &str) -> anyhow::Result<()> {
    let (host, port) = addr
        .rsplit_once(':')
        .with_context(|| format!("{addr:?} is not HOST:PORT"))?;
    let bracketed = host.starts_with('[') && host.ends_with(']') && host.len() > 2;
    let plain = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !(bracketed || plain) {
        bail!("{host:?} in {addr:?} is not a host name or address");
    }
    match port.parse::<u16>() {
        Ok(port) if port > 0 => Ok(()),
        _ => bail!("{port:?} in {addr:?} is not a port (1 to 65535)"),
    }
}

/// Opens the object store at `url`; a local directory must exist (restore creates nothing
/// in the bucket).
fn open(url: &str) -> anyhow::Result<ObjectStoreHandle> {
    if let Some(dir) = local_dir(url)
        && !dir.is_dir()
    {
        bail!("--object-store {url}: {} is not a directory", dir.display());
    }
    open_store(url).with_context(|| format!("cannot open object store {url}"))
}

/// The directory of a local object store URL (a path or `file://`), if it is one.
fn local_dir(url: &str) -> Option<PathBuf> {
    match url.strip_prefix("file://") {
        Some(path) => Some(PathBuf::from(path)),
        None => (!url.contains("://")).then(|| PathBuf::from(url)),
    }
}

/// The cluster id the bucket's marker names; refuses a bucket without one.
async fn cluster_id(store: &ObjectStoreHandle, url: &str) -> anyhow::Result<String> {
    let found = marker::read(store).await;
    let found = found.with_context(|| format!("cannot read the cluster marker at {url}"))?;
    found.with_context(|| {
        format!(
            "no silt cluster at {url}: there is no cluster marker ({}); check the bucket and prefix",
            marker::marker_path(&store.prefix)
        )
    })
}

/// The newest backup that decodes and is of `cluster_id`, its bytes, and what was passed
/// over on the way (newer objects that are broken or another cluster's); refuses a bucket
/// with none.
async fn newest_backup(
    store: &ObjectStoreHandle,
    url: &str,
    cluster_id: &str,
) -> anyhow::Result<(Listed, bytes::Bytes, Vec<String>)> {
    let listed = objects::list(store).await;
    let listed = listed.with_context(|| format!("cannot list the backups at {url}"))?;
    if listed.is_empty() {
        bail!(
            "cluster {cluster_id} at {url} has no metadata backup under {}/: a running broker uploads one every backup.interval (is it 0s?) and at a clean shutdown",
            objects::root(&store.prefix)
        );
    }
    let mut passed = Vec::new();
    for backup in listed.into_iter().rev() {
        let bytes = read(store, &backup.path).await?;
        match backup::inspect(&bytes) {
            Ok(info) if info.cluster_id.as_deref().is_none_or(|id| id == cluster_id) => {
                return Ok((backup, bytes, passed));
            }
            Ok(info) => passed.push(format!(
                "{}: a backup of cluster {}",
                backup.path,
                info.cluster_id.unwrap_or_default()
            )),
            Err(error) => passed.push(format!("{}: {error}", backup.path)),
        }
    }
    bail!(
        "no usable backup of cluster {cluster_id} at {url}: {}",
        passed.join("; ")
    )
}

/// The bytes of the object at `path`.
async fn read(store: &ObjectStoreHandle, path: &ObjectPath) -> anyhow::Result<bytes::Bytes> {
    let got = store.store.get(path).await;
    let got = got.with_context(|| format!("cannot read {path}"))?;
    got.bytes()
        .await
        .with_context(|| format!("cannot read {path}"))
}

/// What was restored, and how to start it.
fn summary(
    args: &RestoreArgs,
    chosen: &Listed,
    info: &BackupInfo,
    target: &RestoreTarget,
) -> String {
    let cluster = info.cluster_id.as_deref().unwrap_or("(no id)");
    let dir = target.data_dir.display();
    let start = start_command(args, &target.data_dir, target);
    let now_ms = silt_bookie::clock::SystemClock.now_ms();
    let age_s = now_ms.saturating_sub(chosen.written_ms).max(0) / 1000;
    format!(
        "restored cluster {cluster} from {} (log index {}: {} topics, {} partitions; written {age_s} s ago, {} bytes) into {dir}\nrecords committed after that backup was taken are not in it\nstart it with: {start}",
        chosen.path, info.index, info.topics, info.partitions, chosen.size
    )
}

/// The command that serves the restored directory.
fn start_command(args: &RestoreArgs, data_dir: &Path, target: &RestoreTarget) -> String {
    let store = &args.object_store;
    match &args.node {
        None => format!(
            "silt dev --data-dir {} --object-store {store}",
            args.data_dir.display()
        ),
        Some(_) => format!(
            "silt metadata --id {id} --listen {addr} --peers {id}={addr} --data-dir {}",
            data_dir.display(),
            id = target.node_id,
            addr = target.addr
        ),
    }
}
