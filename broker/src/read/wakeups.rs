//! [`Wakeups`]: one wake-up channel per partition that has long-polls waiting, fed by the
//! metadata service's change feed ([`MetadataClient::watch_changes`]).
//!
//! A long-poll at the high watermark [`Wakeups::subscribe`]s to its partition, reads the
//! partition (so nothing committed before it subscribed is missed), then waits on its
//! channel alone: it wakes when the feed reports its partition's high watermark past its
//! offset, its topic deleted, or a reset (the feed lost track: every waiter wakes once).
//! Commits to other partitions wake nobody. A channel exists only while a waiter holds
//! it, so memory is bounded by the live long-polls.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

use silt_metadata::MetadataClient;
use silt_metadata::types::{ChangeFeed, PartitionChange};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// How long one change-feed request waits on the metadata service.
const FEED_WAIT: Duration = Duration::from_secs(10);
/// Pause after a failed change-feed request.
const FEED_RETRY: Duration = Duration::from_millis(200);

/// `(topic id, partition)`.
type PartitionKey = (u64, u32);

/// What a partition's channel carries: what the feed said about it since the channel was
/// made, and how many resets it has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Signal {
    /// The highest high watermark reported (0: none yet).
    high_watermark: u64,
    /// Whether the topic was reported deleted.
    deleted: bool,
    /// Resets seen.
    resets: u64,
}

/// Why a waiter woke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wake {
    /// The partition's high watermark moved past the waiter's offset.
    Changed,
    /// The partition's topic was deleted.
    Deleted,
    /// The feed lost track of changes; anything may have changed.
    Reset,
}

impl Wake {
    /// The metric label.
    fn label(self) -> &'static str {
        match self {
            Wake::Changed => "changed",
            Wake::Deleted => "deleted",
            Wake::Reset => "reset",
        }
    }
}

/// The per-partition wake-up channels of one broker.
#[derive(Debug)]
pub(crate) struct Wakeups {
    /// The channels of partitions with waiters.
    channels: Mutex<HashMap<PartitionKey, watch::Sender<Signal>>>,
    /// Counts wake-ups and change-feed requests.
    metrics: Arc<Metrics>,
}

impl Wakeups {
    /// No channels yet.
    pub(crate) fn new(metrics: Arc<Metrics>) -> Arc<Self> {
        Arc::new(Wakeups {
            channels: Mutex::new(HashMap::new()),
            metrics,
        })
    }

    /// Locks the channel map (a poisoned lock is still used: every step under it is
    /// panic-free).
    fn channels(&self) -> MutexGuard<'_, HashMap<PartitionKey, watch::Sender<Signal>>> {
        self.channels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A waiter on `topic_id`/`partition`, woken only by what the feed reports from now on.
    pub(crate) fn subscribe(self: &Arc<Self>, topic_id: u64, partition: u32) -> Waiter {
        let key = (topic_id, partition);
        let mut channels = self.channels();
        let sender = channels
            .entry(key)
            .or_insert_with(|| watch::channel(Signal::default()).0);
        let receiver = sender.subscribe();
        let resets_seen = receiver.borrow().resets;
        Waiter {
            key,
            receiver,
            resets_seen,
            wakeups: Arc::clone(self),
        }
    }

    /// Passes one change-feed answer to the waiting partitions; returns the index to ask
    /// after next.
    pub(crate) fn apply(&self, feed: &ChangeFeed) -> u64 {
        match feed {
            ChangeFeed::Changes { changes, .. } => changes.iter().for_each(|c| self.changed(c)),
            ChangeFeed::Reset { .. } => self.reset_all(),
        }
        feed.applied()
    }

    /// Signals the waiters of one changed partition, if it has any.
    fn changed(&self, change: &PartitionChange) {
        let channels = self.channels();
        let Some(sender) = channels.get(&(change.topic_id, change.partition)) else {
            return;
        };
        sender.send_if_modified(|signal| {
            let before = *signal;
            signal.high_watermark = signal.high_watermark.max(change.high_watermark);
            signal.deleted |= change.deleted;
            *signal != before
        });
    }

    /// Wakes every waiter once.
    fn reset_all(&self) {
        for sender in self.channels().values() {
            sender.send_modify(|signal| signal.resets += 1);
        }
    }

    /// Drops `key`'s channel if the waiter letting go of it was its last.
    fn release(&self, key: PartitionKey) {
        let mut channels = self.channels();
        if channels.get(&key).is_some_and(|s| s.receiver_count() <= 1) {
            channels.remove(&key);
        }
    }

    /// Partitions with a channel now.
    #[cfg(test)]
    fn channel_count(&self) -> usize {
        self.channels().len()
    }
}

/// One long-poll's hold on its partition's channel; letting go drops the channel when no
/// other waiter holds it.
#[derive(Debug)]
pub(crate) struct Waiter {
    key: PartitionKey,
    receiver: watch::Receiver<Signal>,
    resets_seen: u64,
    wakeups: Arc<Wakeups>,
}

impl Waiter {
    /// The topic id this waiter listens to.
    pub(crate) fn topic_id(&self) -> u64 {
        self.key.0
    }

    /// Waits until the feed reports the partition's high watermark past `offset`, its
    /// topic deleted, or a reset not seen yet (each reset wakes a waiter once). Returns at
    /// once if that happened already since [`Wakeups::subscribe`].
    pub(crate) async fn past(&mut self, offset: u64) -> Wake {
        let resets_seen = self.resets_seen;
        let woken = self
            .receiver
            .wait_for(|s| s.high_watermark > offset || s.deleted || s.resets != resets_seen);
        // The sender lives while this waiter does (it holds the map's entry), so an error
        // cannot happen; were it to, waking is the safe answer.
        let signal = woken.await.map(|signal| *signal).unwrap_or_default();
        self.resets_seen = signal.resets;
        let wake = wake_of(signal, offset);
        self.wakeups.metrics.long_poll_woken(wake.label());
        wake
    }
}

/// Why `signal` woke a waiter at `offset`.
fn wake_of(signal: Signal, offset: u64) -> Wake {
    if signal.deleted {
        Wake::Deleted
    } else if signal.high_watermark > offset {
        Wake::Changed
    } else {
        Wake::Reset
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.wakeups.release(self.key);
    }
}

/// Starts following the change feed into `wakeups`; the task ends once `wakeups` is
/// dropped.
pub(crate) fn spawn_feed(
    metadata: Arc<dyn MetadataClient>,
    wakeups: &Arc<Wakeups>,
) -> JoinHandle<()> {
    tokio::spawn(feed_loop(metadata, Arc::downgrade(wakeups)))
}

/// Asks the change feed for what changed after the last answer, and passes each answer
/// on, until `wakeups` is gone.
async fn feed_loop(metadata: Arc<dyn MetadataClient>, wakeups: Weak<Wakeups>) {
    let mut after = 0;
    loop {
        let answer = metadata.watch_changes(after, FEED_WAIT).await;
        let Some(wakeups) = wakeups.upgrade() else {
            return;
        };
        wakeups.metrics.metadata_request("watch_changes");
        match answer {
            Ok(feed) => after = wakeups.apply(&feed),
            Err(error) => {
                tracing::debug!(%error, "the metadata change feed failed; retrying");
                drop(wakeups);
                tokio::time::sleep(FEED_RETRY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    use super::*;

    fn wakeups() -> Arc<Wakeups> {
        Wakeups::new(Arc::new(Metrics::default()))
    }

    fn changes(list: &[(u64, u32, u64, bool)]) -> ChangeFeed {
        let changes = list
            .iter()
            .map(
                |&(topic_id, partition, high_watermark, deleted)| PartitionChange {
                    index: 9,
                    topic_id,
                    partition,
                    high_watermark,
                    deleted,
                },
            )
            .collect();
        ChangeFeed::Changes {
            applied: 9,
            changes,
        }
    }

    /// Whether `wait` is still pending after everything runnable ran.
    async fn pending(wait: impl Future<Output = Wake>) -> bool {
        tokio::select! {
            biased;
            _ = wait => false,
            () = tokio::task::yield_now() => true,
        }
    }

    #[tokio::test]
    async fn a_change_reported_after_subscribing_is_never_lost() {
        let wakeups = wakeups();
        let mut waiter = wakeups.subscribe(1, 0);
        // Reported before the waiter starts waiting (between its read and its wait).
        wakeups.apply(&changes(&[(1, 0, 5, false)]));
        assert_eq!(waiter.past(4).await, Wake::Changed);
        assert!(pending(waiter.past(5)).await, "the hw is not past offset 5");
    }

    #[tokio::test]
    async fn only_the_changed_partition_wakes() {
        let wakeups = wakeups();
        let mut zero = wakeups.subscribe(1, 0);
        let mut one = wakeups.subscribe(1, 1);
        let mut other_topic = wakeups.subscribe(2, 0);
        wakeups.apply(&changes(&[(1, 1, 3, false), (3, 0, 8, false)]));
        assert!(pending(zero.past(0)).await);
        assert!(pending(other_topic.past(0)).await);
        assert_eq!(one.past(2).await, Wake::Changed);
        assert!(
            pending(one.past(3)).await,
            "a change up to the offset does not wake"
        );
    }

    #[tokio::test]
    async fn a_delete_wakes_and_a_reset_wakes_every_waiter_once() {
        let wakeups = wakeups();
        let mut deleted = wakeups.subscribe(1, 0);
        let mut idle = wakeups.subscribe(2, 0);
        wakeups.apply(&changes(&[(1, 0, 0, true)]));
        assert_eq!(deleted.past(7).await, Wake::Deleted);
        assert!(pending(idle.past(0)).await);
        let after = wakeups.apply(&ChangeFeed::Reset { applied: 12 });
        assert_eq!(after, 12);
        assert_eq!(idle.past(0).await, Wake::Reset);
        assert!(pending(idle.past(0)).await, "one reset wakes a waiter once");
    }

    #[tokio::test]
    async fn a_channel_lives_only_while_a_waiter_holds_it() {
        let wakeups = wakeups();
        let first = wakeups.subscribe(1, 0);
        let second = wakeups.subscribe(1, 0);
        let third = wakeups.subscribe(1, 1);
        assert_eq!(wakeups.channel_count(), 2);
        drop(first);
        assert_eq!(wakeups.channel_count(), 2, "another waiter still holds it");
        drop(second);
        drop(third);
        assert_eq!(wakeups.channel_count(), 0);
        // Changes of partitions nobody waits on make no channel.
        wakeups.apply(&changes(&[(1, 0, 4, false)]));
        assert_eq!(wakeups.channel_count(), 0);
        // A new waiter starts from nothing: the change above does not wake it.
        let mut fresh = wakeups.subscribe(1, 0);
        assert!(pending(fresh.past(4)).await);
    }
}
