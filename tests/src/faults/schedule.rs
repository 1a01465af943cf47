//! Seeded fault schedules: the same seed (and duration and cluster size) always gives the
//! same list of timed faults, so a failing run is rerun with `silt-faults --seed S`.
//!
//! Faults, each with its own length: `kill -9` of a broker and its restart (sometimes on a
//! wiped cache dir), `kill -9` of the metadata leader and its restart, SIGSTOP/SIGCONT of a
//! broker or a metadata node for longer than a broker lease (assumed 3 s: pauses last
//! 4–6 s), object-store error bursts (error rate 0.2–0.6 for 1–3 s), latency spikes (200–1500
//! ms extra per object-store request for 1–4 s) and a full cache disk (`spool_budget_bytes`
//! 1 for 1–3 s) on one broker; and two that take the metadata service away while producers
//! keep sending: an outage of a majority of the metadata nodes (the leader among them) for
//! 5–10 s (`silt-faults --outage-secs` makes it minutes for the long run), and a full
//! restart of every metadata node after 0.5–3 s down. Beside those, half the seeds get a
//! hostile principal (3–8 s, see [`super::intruder`]): clients without a token, with a wrong
//! one and as the principal `intruder` attack the workload's topic and producer ids. It is
//! drawn from a second stream of the seed, so adding it left every other fault of a seed
//! as it was, and it occupies no process. Likewise, from a third stream, half the seeds run
//! the exactly-once pipeline (`silt-exactly-once`, see [`super::pipeline`]) and get its
//! `kill -9`s ([`Fault::PipelineKill`], every 1.5–5 s, down 0–1 s); the pipeline is a
//! client, so these overlap anything.
//!
//! The generator keeps the cluster available except for those two: at most a minority of
//! the metadata nodes is down or paused at once (one of three), a metadata-wide fault never
//! overlaps another metadata fault, never every broker (at most all but one), and one
//! fault at a time per broker (two injected settings on one broker would overwrite each
//! other). A fault's slot includes a margin for its restart. The executor
//! ([`super::runner`]) enforces the same limits at run time, delaying a fault whose target
//! is still recovering.

use std::fmt;
use std::time::Duration;

use crate::harness::Role;

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny, fast, well-mixed deterministic generator.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, n)` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift; the bias is below 2^-64 * n, irrelevant here.
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `[low, high]`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high.saturating_sub(low) + 1)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A duration uniform in `[low_ms, high_ms]` milliseconds.
    pub fn millis(&mut self, low_ms: u64, high_ms: u64) -> Duration {
        Duration::from_millis(self.between(low_ms, high_ms))
    }
}

/// One fault. Brokers and metadata nodes are numbered from 1.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// `kill -9` a broker, keep it down for `down`, wipe its cache dir if asked, restart it.
    KillBroker {
        /// Broker.
        broker: usize,
        /// How long it stays down.
        down: Duration,
        /// Whether its cache dir (spool and read cache) is deleted before the restart.
        wipe_cache: bool,
    },
    /// `kill -9` the node that leads the metadata service at that moment, restart it after
    /// `down`.
    KillMetadataLeader {
        /// How long it stays down.
        down: Duration,
    },
    /// SIGSTOP a broker, SIGCONT after `pause`.
    PauseBroker {
        /// Broker.
        broker: usize,
        /// How long it stays stopped.
        pause: Duration,
    },
    /// SIGSTOP a metadata node (the leader of that moment when `node` is None), SIGCONT after
    /// `pause`.
    PauseMetadata {
        /// Node, or None for the current leader.
        node: Option<usize>,
        /// How long it stays stopped.
        pause: Duration,
    },
    /// Object-store requests of one broker fail at `error_rate` (a 500), answer 503
    /// SlowDown at `slowdown_rate`, hang until the broker's timeout at `hang_rate`, or are
    /// applied but answered with an error (a lost response) at `lost_response_rate`, for
    /// `length`.
    ObjectStoreErrors {
        /// Broker.
        broker: usize,
        /// Probability that one object-store request fails.
        error_rate: f64,
        /// Probability of a 503 SlowDown.
        slowdown_rate: f64,
        /// Probability that a request hangs.
        hang_rate: f64,
        /// Probability that a PUT lands but its answer is lost.
        lost_response_rate: f64,
        /// How long.
        length: Duration,
    },
    /// Object-store requests of one broker take `extra_latency_ms` longer for `length`.
    LatencySpike {
        /// Broker.
        broker: usize,
        /// Added to each object-store request.
        extra_latency_ms: u64,
        /// How long.
        length: Duration,
    },
    /// One broker's cache disk is full (`spool_budget_bytes` 1): produce answers 503
    /// `overloaded` for `length`.
    FullDisk {
        /// Broker.
        broker: usize,
        /// How long.
        length: Duration,
    },
    /// `kill -9` a majority of the metadata nodes, the leader of that moment among them, and
    /// restart them after `down`: nothing can commit meanwhile.
    MetadataOutage {
        /// How long the majority stays down.
        down: Duration,
    },
    /// `kill -9` every metadata node and restart them all after `down`.
    RestartMetadataCluster {
        /// How long every node stays down.
        down: Duration,
    },
    /// A hostile principal for `length`: clients without a token, with a wrong token and as
    /// the principal `intruder` (rights on its own topic only) attack the workload's topic
    /// and producer ids on every broker in turn; every attempt must be refused.
    HostilePrincipal {
        /// How long the attacks last.
        length: Duration,
    },
    /// `kill -9` the exactly-once pipeline process and restart it after `down` (on the next
    /// broker, resuming its producer id and group).
    PipelineKill {
        /// How long it stays down.
        down: Duration,
    },
    /// Fill the real file system under one process's data (metadata) or cache (broker)
    /// directory, and free it after `length`. A process that exited or fails `/healthz`
    /// afterwards (a metadata node stops for good on a failed log write) is restarted, as
    /// its supervisor would. Needs disks of their own (a tmpfs each); skipped otherwise.
    FillDisk {
        /// Whose disk.
        role: Role,
        /// Which process of that role.
        node: usize,
        /// How long it stays full.
        length: Duration,
    },
}

/// What a fault occupies while it lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// One broker; `down` when it stops answering (killed or paused).
    Broker {
        /// Broker.
        broker: usize,
        /// Killed or paused (counts against "never all brokers").
        down: bool,
    },
    /// One metadata node (counts against "at most a minority").
    Metadata,
    /// No process: a client-side fault that overlaps anything.
    Clients,
}

impl Fault {
    /// How long the fault lasts (before its recovery begins).
    pub fn length(&self) -> Duration {
        match self {
            Fault::KillBroker { down, .. }
            | Fault::KillMetadataLeader { down }
            | Fault::MetadataOutage { down }
            | Fault::RestartMetadataCluster { down }
            | Fault::PipelineKill { down } => *down,
            Fault::PauseBroker { pause, .. } | Fault::PauseMetadata { pause, .. } => *pause,
            Fault::ObjectStoreErrors { length, .. }
            | Fault::LatencySpike { length, .. }
            | Fault::FullDisk { length, .. }
            | Fault::FillDisk { length, .. }
            | Fault::HostilePrincipal { length } => *length,
        }
    }

    /// What it occupies.
    pub fn target(&self) -> Target {
        match self {
            Fault::KillBroker { broker, .. } | Fault::PauseBroker { broker, .. } => {
                Target::Broker {
                    broker: *broker,
                    down: true,
                }
            }
            Fault::ObjectStoreErrors { broker, .. }
            | Fault::LatencySpike { broker, .. }
            | Fault::FullDisk { broker, .. }
            | Fault::FillDisk {
                role: Role::Broker,
                node: broker,
                ..
            } => Target::Broker {
                broker: *broker,
                down: false,
            },
            Fault::KillMetadataLeader { .. }
            | Fault::PauseMetadata { .. }
            | Fault::MetadataOutage { .. }
            | Fault::RestartMetadataCluster { .. }
            | Fault::FillDisk {
                role: Role::Metadata,
                ..
            } => Target::Metadata,
            Fault::HostilePrincipal { .. } | Fault::PipelineKill { .. } => Target::Clients,
        }
    }

    /// Time the target needs after the fault's length before another fault may hit it (a
    /// restart takes a few seconds).
    pub fn recovery_margin(&self) -> Duration {
        match self {
            Fault::KillBroker { .. }
            | Fault::KillMetadataLeader { .. }
            | Fault::FillDisk {
                role: Role::Metadata,
                ..
            } => Duration::from_secs(3),
            // Every node restarts and a leader is elected before the next metadata fault.
            Fault::MetadataOutage { .. } | Fault::RestartMetadataCluster { .. } => {
                Duration::from_secs(5)
            }
            Fault::PauseBroker { .. } | Fault::PauseMetadata { .. } => Duration::from_secs(1),
            _ => Duration::from_millis(200),
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |d: &Duration| format!("{:.1} s", d.as_secs_f64());
        match self {
            Fault::KillBroker {
                broker,
                down,
                wipe_cache,
            } => write!(
                f,
                "kill -9 broker {broker}, down {}{}",
                secs(down),
                if *wipe_cache { ", cache dir wiped" } else { "" }
            ),
            Fault::KillMetadataLeader { down } => {
                write!(f, "kill -9 the metadata leader, down {}", secs(down))
            }
            Fault::PauseBroker { broker, pause } => {
                write!(f, "SIGSTOP broker {broker} for {}", secs(pause))
            }
            Fault::PauseMetadata { node: None, pause } => {
                write!(f, "SIGSTOP the metadata leader for {}", secs(pause))
            }
            Fault::PauseMetadata {
                node: Some(node),
                pause,
            } => write!(f, "SIGSTOP metadata node {node} for {}", secs(pause)),
            Fault::ObjectStoreErrors {
                broker,
                error_rate,
                slowdown_rate,
                hang_rate,
                lost_response_rate,
                length,
            } => write!(
                f,
                "object-store errors at rate {error_rate:.2} (SlowDown {slowdown_rate:.2}, hangs {hang_rate:.2}, lost responses {lost_response_rate:.2}) on broker {broker} for {}",
                secs(length)
            ),
            Fault::LatencySpike {
                broker,
                extra_latency_ms,
                length,
            } => write!(
                f,
                "object-store latency +{extra_latency_ms} ms on broker {broker} for {}",
                secs(length)
            ),
            Fault::FullDisk { broker, length } => {
                write!(f, "full cache disk on broker {broker} for {}", secs(length))
            }
            Fault::MetadataOutage { down } => write!(
                f,
                "kill -9 a majority of the metadata nodes (the leader among them), down {}",
                secs(down)
            ),
            Fault::RestartMetadataCluster { down } => write!(
                f,
                "kill -9 every metadata node, restart them all after {}",
                secs(down)
            ),
            Fault::FillDisk { role, node, length } => {
                write!(f, "fill the disk of {role} {node} for {}", secs(length))
            }
            Fault::HostilePrincipal { length } => write!(
                f,
                "hostile principal (no token, a wrong token, `intruder`) attacks the workload for {}",
                secs(length)
            ),
            Fault::PipelineKill { down } => {
                write!(f, "kill -9 the exactly-once pipeline, down {}", secs(down))
            }
        }
    }
}

/// A fault and when it starts, from the beginning of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledFault {
    /// Start time.
    pub at: Duration,
    /// The fault.
    pub fault: Fault,
}

/// A seeded list of faults.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    /// The seed it came from.
    pub seed: u64,
    /// How long the workload runs under faults; everything is healed after that.
    pub duration: Duration,
    /// Faults by start time.
    pub faults: Vec<ScheduledFault>,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "seed {}: {} faults over {} s",
            self.seed,
            self.faults.len(),
            self.duration.as_secs()
        )?;
        for scheduled in &self.faults {
            writeln!(
                f,
                "  t={:>5.1}s {}",
                scheduled.at.as_secs_f64(),
                scheduled.fault
            )?;
        }
        Ok(())
    }
}

/// The kinds, with their weights in the draw.
const KINDS: &[(u8, u64)] = &[
    (0, 3),  // kill broker
    (1, 2),  // kill metadata leader
    (2, 2),  // pause broker
    (3, 2),  // pause metadata node
    (4, 2),  // object-store errors
    (5, 2),  // latency spike
    (6, 1),  // full disk
    (7, 1),  // metadata outage (a majority down)
    (8, 1),  // full restart of the metadata cluster
    (9, 1),  // a broker's cache disk fills and frees
    (10, 1), // a metadata node's disk fills and frees
];

/// How long a [`Fault::MetadataOutage`] lasts: 5–10 s by default, minutes for the long run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutageLength {
    /// Shortest, in milliseconds.
    pub min_ms: u64,
    /// Longest, in milliseconds.
    pub max_ms: u64,
}

impl Default for OutageLength {
    fn default() -> Self {
        OutageLength {
            min_ms: 5_000,
            max_ms: 10_000,
        }
    }
}

fn draw(
    rng: &mut SplitMix64,
    brokers: usize,
    metadata_nodes: usize,
    outage: OutageLength,
) -> Fault {
    let total: u64 = KINDS.iter().map(|(_, w)| w).sum();
    let mut pick = rng.below(total);
    let mut kind = 0;
    for (k, weight) in KINDS {
        if pick < *weight {
            kind = *k;
            break;
        }
        pick -= weight;
    }
    let broker = 1 + rng.below(brokers as u64) as usize;
    match kind {
        0 => Fault::KillBroker {
            broker,
            down: rng.millis(500, 3000),
            wipe_cache: rng.chance(0.3),
        },
        1 => Fault::KillMetadataLeader {
            down: rng.millis(1000, 4000),
        },
        2 => Fault::PauseBroker {
            broker,
            pause: rng.millis(4000, 6000),
        },
        3 => {
            let node = if rng.chance(0.5) {
                None
            } else {
                Some(1 + rng.below(metadata_nodes as u64) as usize)
            };
            Fault::PauseMetadata {
                node,
                pause: rng.millis(4000, 6000),
            }
        }
        4 => Fault::ObjectStoreErrors {
            broker,
            error_rate: 0.2 + 0.4 * rng.unit(),
            slowdown_rate: 0.2 * rng.unit(),
            hang_rate: if rng.chance(0.3) { 0.05 } else { 0.0 },
            lost_response_rate: if rng.chance(0.5) { 0.1 } else { 0.0 },
            length: rng.millis(1000, 3000),
        },
        5 => Fault::LatencySpike {
            broker,
            extra_latency_ms: rng.between(200, 1500),
            length: rng.millis(1000, 4000),
        },
        6 => Fault::FullDisk {
            broker,
            length: rng.millis(1000, 3000),
        },
        7 => Fault::MetadataOutage {
            down: rng.millis(outage.min_ms, outage.max_ms),
        },
        9 => Fault::FillDisk {
            role: Role::Broker,
            node: broker,
            length: rng.millis(1000, 4000),
        },
        10 => Fault::FillDisk {
            role: Role::Metadata,
            node: 1 + rng.below(metadata_nodes as u64) as usize,
            length: rng.millis(1000, 4000),
        },
        _ => Fault::RestartMetadataCluster {
            down: rng.millis(500, 3000),
        },
    }
}

impl Schedule {
    /// The schedule of `seed` for a workload of `duration` on a cluster of `brokers` brokers
    /// and `metadata_nodes` metadata nodes. Faults start between 1 s and `duration` − 2 s.
    pub fn generate(seed: u64, duration: Duration, brokers: usize, metadata_nodes: usize) -> Self {
        Self::generate_with(
            seed,
            duration,
            (brokers, metadata_nodes),
            OutageLength::default(),
        )
    }

    /// [`Schedule::generate`] with metadata outages of `outage` length.
    pub fn generate_with(
        seed: u64,
        duration: Duration,
        (brokers, metadata_nodes): (usize, usize),
        outage: OutageLength,
    ) -> Self {
        let mut rng = SplitMix64::new(seed);
        let max_metadata_down = metadata_nodes.saturating_sub(1) / 2;
        let max_brokers_down = brokers.saturating_sub(1);
        // (start, end including the recovery margin, target) of every accepted fault
        let mut taken: Vec<(Duration, Duration, Target)> = Vec::new();
        let mut faults = Vec::new();
        let last_start = duration.saturating_sub(Duration::from_secs(2));
        let mut at = rng.millis(1000, 2500);
        while at < last_start {
            for _try in 0..6 {
                let fault = draw(&mut rng, brokers, metadata_nodes, outage);
                let end = at + fault.length() + fault.recovery_margin();
                let overlapping: Vec<Target> = taken
                    .iter()
                    .filter(|(start, stop, _)| *start < end && at < *stop)
                    .map(|(_, _, target)| *target)
                    .collect();
                let allowed = match fault.target() {
                    Target::Metadata => {
                        overlapping
                            .iter()
                            .filter(|t| **t == Target::Metadata)
                            .count()
                            < max_metadata_down
                    }
                    Target::Clients => true,
                    Target::Broker { broker, down } => {
                        let busy = overlapping
                            .iter()
                            .any(|t| matches!(t, Target::Broker { broker: b, .. } if *b == broker));
                        let brokers_down = overlapping
                            .iter()
                            .filter(|t| matches!(t, Target::Broker { down: true, .. }))
                            .count();
                        !busy && (!down || brokers_down < max_brokers_down)
                    }
                };
                if allowed {
                    taken.push((at, end, fault.target()));
                    faults.push(ScheduledFault { at, fault });
                    break;
                }
            }
            at += rng.millis(300, 2500);
        }
        faults.extend(hostile_principal(seed, duration));
        faults.extend(pipeline_kills(seed, duration));
        faults.sort_by_key(|scheduled| scheduled.at);
        Schedule {
            seed,
            duration,
            faults,
        }
    }
}

/// Mixed into the seed for the hostile principal's own stream of draws.
const HOSTILE_STREAM: u64 = 0x686f_7374_696c_6521;

/// The hostile principal of `seed`, in half the seeds: 3–8 s, starting between 1 s and
/// `duration` − 2 s. Its own stream, so the other faults of a seed do not depend on it.
fn hostile_principal(seed: u64, duration: Duration) -> Option<ScheduledFault> {
    let mut rng = SplitMix64::new(seed ^ HOSTILE_STREAM);
    let last_start = duration.saturating_sub(Duration::from_secs(2)).as_millis() as u64;
    if !rng.chance(0.5) || last_start <= 1000 {
        return None;
    }
    Some(ScheduledFault {
        at: rng.millis(1000, last_start - 1),
        fault: Fault::HostilePrincipal {
            length: rng.millis(3000, 8000),
        },
    })
}

/// Mixed into the seed for the exactly-once pipeline's own stream of draws.
const PIPELINE_STREAM: u64 = 0x7069_7065_6c69_6e65;

/// The pipeline kills of `seed`, in half the seeds: the first 1.5–4 s in, then every
/// 1.5–5 s until `duration` − 2 s, each down 0–1 s (at least one kill when the pipeline is
/// drawn). Its own stream, so the other faults of a seed do not depend on it.
fn pipeline_kills(seed: u64, duration: Duration) -> Vec<ScheduledFault> {
    let mut rng = SplitMix64::new(seed ^ PIPELINE_STREAM);
    let last_start = duration.saturating_sub(Duration::from_secs(2));
    let mut kills = Vec::new();
    if !rng.chance(0.5) {
        return kills;
    }
    let mut at = rng
        .millis(1500, 4000)
        .min(last_start.saturating_sub(Duration::from_millis(1)));
    while at < last_start {
        let fault = Fault::PipelineKill {
            down: rng.millis(0, 1000),
        };
        kills.push(ScheduledFault { at, fault });
        at += rng.millis(1500, 5000);
    }
    kills
}

impl Schedule {
    /// Whether the exactly-once pipeline runs in this schedule (it has pipeline kills).
    pub fn has_pipeline(&self) -> bool {
        self.faults
            .iter()
            .any(|s| matches!(s.fault, Fault::PipelineKill { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_output() {
        // First outputs for seed 1234567 of the reference implementation (Vigna's splitmix64.c).
        let mut rng = SplitMix64::new(1234567);
        assert_eq!(rng.next_u64(), 6457827717110365317);
        assert_eq!(rng.next_u64(), 3203168211198807973);
        assert_eq!(rng.next_u64(), 9817491932198370423);
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let a = Schedule::generate(42, Duration::from_secs(20), 3, 3);
        let b = Schedule::generate(42, Duration::from_secs(20), 3, 3);
        let c = Schedule::generate(43, Duration::from_secs(20), 3, 3);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(!a.faults.is_empty());
    }

    #[test]
    fn a_hostile_principal_comes_in_about_half_the_seeds() {
        let mut with = 0;
        for seed in 0..500 {
            let schedule = Schedule::generate(seed, Duration::from_secs(20), 3, 3);
            for scheduled in &schedule.faults {
                if let Fault::HostilePrincipal { length } = scheduled.fault {
                    with += 1;
                    assert!((3..=8).contains(&length.as_secs()), "{schedule}");
                    assert!(scheduled.at < Duration::from_secs(18), "{schedule}");
                }
            }
        }
        assert!((200..=300).contains(&with), "{with} of 500 seeds");
    }

    #[test]
    fn the_pipeline_comes_in_about_half_the_seeds_with_kills_throughout() {
        let mut with = 0;
        for seed in 0..500 {
            let schedule = Schedule::generate(seed, Duration::from_secs(20), 3, 3);
            let kills: Vec<&ScheduledFault> = schedule
                .faults
                .iter()
                .filter(|s| matches!(s.fault, Fault::PipelineKill { .. }))
                .collect();
            with += usize::from(schedule.has_pipeline());
            for kill in &kills {
                assert!(kill.at < Duration::from_secs(18), "{schedule}");
                assert!(kill.fault.length() <= Duration::from_secs(1), "{schedule}");
            }
            assert!(kills.is_empty() || kills.len() >= 3, "{schedule}");
        }
        assert!((200..=300).contains(&with), "{with} of 500 seeds");
    }

    #[test]
    fn schedules_keep_a_metadata_majority_and_a_broker_up() {
        let mut kinds = std::collections::HashSet::new();
        for seed in 0..500 {
            let schedule = Schedule::generate(seed, Duration::from_secs(60), 3, 3);
            for (i, a) in schedule.faults.iter().enumerate() {
                kinds.insert(std::mem::discriminant(&a.fault));
                assert!(a.at >= Duration::from_secs(1), "{schedule}");
                assert!(a.at < Duration::from_secs(58), "{schedule}");
                let end = |s: &ScheduledFault| s.at + s.fault.length() + s.fault.recovery_margin();
                let during: Vec<&ScheduledFault> = schedule.faults[..i]
                    .iter()
                    .filter(|b| b.at < end(a) && a.at < end(b))
                    .collect();
                let metadata = during
                    .iter()
                    .filter(|b| b.fault.target() == Target::Metadata)
                    .count();
                if a.fault.target() == Target::Metadata {
                    assert_eq!(metadata, 0, "two metadata faults at once: {schedule}");
                }
                if let Target::Broker { broker, down } = a.fault.target() {
                    for b in &during {
                        assert!(
                            !matches!(b.fault.target(), Target::Broker { broker: x, .. } if x == broker),
                            "two faults on broker {broker} at once: {schedule}"
                        );
                    }
                    let down_now = during
                        .iter()
                        .filter(|b| matches!(b.fault.target(), Target::Broker { down: true, .. }))
                        .count();
                    assert!(!down || down_now < 2, "every broker down: {schedule}");
                }
                match &a.fault {
                    Fault::PauseBroker { pause, .. } | Fault::PauseMetadata { pause, .. } => {
                        assert!(
                            *pause >= Duration::from_secs(4) && *pause <= Duration::from_secs(6)
                        );
                    }
                    Fault::ObjectStoreErrors { error_rate, .. } => {
                        assert!((0.2..=0.6).contains(error_rate));
                    }
                    Fault::LatencySpike {
                        extra_latency_ms, ..
                    } => assert!((200..=1500).contains(extra_latency_ms)),
                    _ => {}
                }
            }
        }
        assert_eq!(kinds.len(), 12, "every kind of fault is drawn");
    }
}
