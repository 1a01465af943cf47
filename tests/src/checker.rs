//! The invariant checker: given a history of every operation's invocation and result (what
//! producers sent and were told, what readers saw), it proves silt's invariants (`docs/architecture.md#invariants`):
//!
//! 1. every acknowledged record is read back, at the offset it was acknowledged with, with
//!    identical content, exactly once (`lost`, `wrong_offset`, `conflicting_acks`,
//!    `content_mismatch`, `duplicate`);
//! 2. offsets in a partition are dense and increasing from the partition's start up to the
//!    high watermark of the final read (`gap`);
//! 3. each producer's records in a partition keep the producer's order (`order_broken`):
//!    for an idempotent producer (and any producer never declared) among every record that
//!    appears, for a plain producer among its acknowledged records (a plain producer's
//!    indeterminate send may still be in flight when it sends the next one);
//! 4. nothing is read that was never sent (`never_sent`);
//! 5. a send that definitely failed never appears (`failed_present`); an indeterminate one
//!    (timed out, connection lost, retries exhausted) appears at most once (`duplicate`), and
//!    no record appears twice at all, so idempotent producers (and plain ones, which only
//!    retry what was certainly not applied) never duplicate across retries;
//! 6. what tailing readers saw during the run is what the final read finds: the same record
//!    at the same offset, never a record the final read does not have (`unstable_read`),
//!    and each reader's offsets in a partition advance one by one (`reader_gap`), except
//!    that a reader told the start moved past it (416 `offset_out_of_range`, a `reset`
//!    event) resumes at the new start, which must not be past the final read's start.
//!
//! Retention may move a partition's start: an acknowledged record below the final read's
//! start is not `lost`, and what tailing readers saw below it is still checked against what
//! was sent and acknowledged (`never_sent`, `content_mismatch`, `failed_present`,
//! `wrong_offset`, `duplicate`, and two readers disagreeing at an offset: `unstable_read`).
//!
//! A separate check ([`check_transform`]) proves an exactly-once pipeline's output: OUT
//! holds f(a) for every record a of IN exactly once, in order per partition.
//!
//! Records are identified by a unique id the test puts in each record (any string). On a
//! violation the [`Report`] gives a summary, every violation ordered by (partition, offset),
//! and the smallest counter-example: the first violation with the part of the history that
//! shows it (the record's invocation and results, every read of it, the final read around
//! that offset, and the faults applied meanwhile).
//!
//! # History file format (JSON lines)
//!
//! One JSON object per line, written by the fault runner ([`History::write_jsonl`]) and read
//! by `silt-check` ([`History::read_jsonl`]). `time_ms` is milliseconds since the history
//! began; events appear in the order they happened. Each object has a `type`:
//!
//! | `type` | fields | meaning |
//! |---|---|---|
//! | `meta` | `key`, `value` (any JSON) | run settings (seed, duration…); not checked |
//! | `producer` | `process`, `idempotent` | declares a producer; undeclared ones are checked as idempotent (strict order) |
//! | `invoke` | `time_ms`, `process`, `id`, `sequence`, `content` | a record handed to producer `process`; `sequence` is its position in that producer's send order, `content` a fingerprint of key, value and headers |
//! | `ok` | `time_ms`, `id`, `partition`, `offset` | the record was acknowledged there |
//! | `fail` | `time_ms`, `id`, `error` | the send failed and certainly wrote nothing |
//! | `info` | `time_ms`, `id`, `error` | the send failed with an unknown outcome (indeterminate); an `invoke` with no result counts the same |
//! | `read` | `time_ms`, `process`, `partition`, `offset`, `id` (string or null), `content` | a record a reader got; `process` `"final"` is the final full read, any other name a reader tailing during the run |
//! | `final` | `partition`, `start_offset`, `high_watermark` | the final read covered `[start_offset, high_watermark)` of the partition |
//! | `reset` | `time_ms`, `process`, `partition`, `offset` | tailing reader `process` was told the start moved past its position and resumes at `offset` (its next read there must be at `offset`) |
//! | `fault` | `time_ms`, `description` | a fault applied or healed; not checked, shown in counter-examples |
//!
//! The final read must start after every producer and tailing reader stopped recording, so
//! every acknowledged offset is below its high watermark and everything a tailing reader saw
//! was committed before it. Example:
//!
//! ```text
//! {"type":"meta","key":"seed","value":42}
//! {"type":"producer","process":"idem-0","idempotent":true}
//! {"type":"invoke","time_ms":12,"process":"idem-0","id":"idem-0-0","sequence":0,"content":"{…}"}
//! {"type":"ok","time_ms":19,"id":"idem-0-0","partition":2,"offset":0}
//! {"type":"fault","time_ms":3050,"description":"kill -9 broker 2"}
//! {"type":"read","time_ms":21,"process":"consumer-0","partition":2,"offset":0,"id":"idem-0-0","content":"{…}"}
//! {"type":"final","partition":2,"start_offset":0,"high_watermark":1}
//! {"type":"read","time_ms":25012,"process":"final","partition":2,"offset":0,"id":"idem-0-0","content":"{…}"}
//! ```

mod transform;

pub use transform::{PartitionRecords, check_transform};

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// The reader name of the final full read.
pub const FINAL_READER: &str = "final";

/// A record as the test knows it: its unique id, its producer and the producer's sequence
/// number, and a fingerprint of its content (key, value, headers as the test encodes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Unique id.
    pub id: String,
    /// Producer name.
    pub producer: String,
    /// Position in that producer's send order.
    pub sequence: u64,
    /// Content fingerprint.
    pub content: String,
}

/// One record as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read {
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: u64,
    /// The unique id extracted from the record (None if the record carries none).
    pub id: Option<String>,
    /// Content fingerprint computed the same way as [`Sent::content`].
    pub content: String,
}

/// One line of a history file (see the module documentation for the format).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// Run settings; not checked.
    Meta {
        /// Setting name.
        key: String,
        /// Its value.
        value: serde_json::Value,
    },
    /// Declares a producer and whether it is idempotent.
    Producer {
        /// Producer name.
        process: String,
        /// Idempotent producers are held to order among every record that appears.
        idempotent: bool,
    },
    /// A record handed to a producer.
    Invoke {
        /// Milliseconds since the history began.
        time_ms: u64,
        /// Producer name.
        process: String,
        /// The record's unique id.
        id: String,
        /// Position in the producer's send order.
        sequence: u64,
        /// Content fingerprint.
        content: String,
    },
    /// The record was acknowledged at `partition`/`offset`.
    #[serde(rename = "ok")]
    Ack {
        /// Milliseconds since the history began.
        time_ms: u64,
        /// The record's id.
        id: String,
        /// Partition.
        partition: u32,
        /// Offset.
        offset: u64,
    },
    /// The send failed and certainly wrote nothing.
    Fail {
        /// Milliseconds since the history began.
        time_ms: u64,
        /// The record's id.
        id: String,
        /// The error.
        error: String,
    },
    /// The send failed with an unknown outcome.
    Info {
        /// Milliseconds since the history began.
        time_ms: u64,
        /// The record's id.
        id: String,
        /// The error.
        error: String,
    },
    /// A record a reader got.
    Read {
        /// Milliseconds since the history began.
        time_ms: u64,
        /// Reader name; [`FINAL_READER`] for the final full read.
        process: String,
        /// Partition.
        partition: u32,
        /// Offset.
        offset: u64,
        /// The id found in the record, if any.
        id: Option<String>,
        /// Content fingerprint.
        content: String,
    },
    /// The range the final read covered.
    Final {
        /// Partition.
        partition: u32,
        /// First offset of the partition.
        start_offset: u64,
        /// High watermark when the final read began.
        high_watermark: u64,
    },
    /// A tailing reader was told the start moved past its position (416
    /// `offset_out_of_range`) and resumes at `offset`.
    Reset {
        /// Milliseconds since the history began.
        time_ms: u64,
        /// Reader name.
        process: String,
        /// Partition.
        partition: u32,
        /// The offset the reader resumes at (the new start it was told).
        offset: u64,
    },
    /// A fault applied or healed; not checked.
    Fault {
        /// Milliseconds since the history began.
        time_ms: u64,
        /// What happened.
        description: String,
    },
}

/// A history: every invocation, result, read and fault, in order.
#[derive(Debug)]
pub struct History {
    origin: Instant,
    events: Vec<Event>,
    acknowledged: usize,
}

impl Default for History {
    fn default() -> Self {
        History {
            origin: Instant::now(),
            events: Vec::new(),
            acknowledged: 0,
        }
    }
}

/// The kinds of violation the checker reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ViolationKind {
    /// An acknowledged record is not read back.
    Lost,
    /// An acknowledged record is read back, but not at its acknowledged offset.
    WrongOffset,
    /// Two records were acknowledged at the same offset, or one record at two offsets.
    ConflictingAcks,
    /// A record appears more than once.
    Duplicate,
    /// Offsets of a partition are not dense from its start to its high watermark.
    Gap,
    /// A record was read that no producer sent.
    NeverSent,
    /// A record's content differs from what was sent.
    ContentMismatch,
    /// A producer's records in a partition are out of its send order.
    OrderBroken,
    /// A record whose send definitely failed was read.
    FailedPresent,
    /// A tailing reader saw something the final read does not have at that offset.
    UnstableRead,
    /// A tailing reader's offsets in a partition skipped or went back.
    ReaderGap,
}

impl ViolationKind {
    /// Every kind.
    pub const ALL: &'static [ViolationKind] = &[
        ViolationKind::Lost,
        ViolationKind::WrongOffset,
        ViolationKind::ConflictingAcks,
        ViolationKind::Duplicate,
        ViolationKind::Gap,
        ViolationKind::NeverSent,
        ViolationKind::ContentMismatch,
        ViolationKind::OrderBroken,
        ViolationKind::FailedPresent,
        ViolationKind::UnstableRead,
        ViolationKind::ReaderGap,
    ];

    /// The snake_case name used in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            ViolationKind::Lost => "lost",
            ViolationKind::WrongOffset => "wrong_offset",
            ViolationKind::ConflictingAcks => "conflicting_acks",
            ViolationKind::Duplicate => "duplicate",
            ViolationKind::Gap => "gap",
            ViolationKind::NeverSent => "never_sent",
            ViolationKind::ContentMismatch => "content_mismatch",
            ViolationKind::OrderBroken => "order_broken",
            ViolationKind::FailedPresent => "failed_present",
            ViolationKind::UnstableRead => "unstable_read",
            ViolationKind::ReaderGap => "reader_gap",
        }
    }
}

impl fmt::Display for ViolationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One violation, placed at the partition and offset where it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What rule broke.
    pub kind: ViolationKind,
    /// Partition.
    pub partition: u32,
    /// Offset.
    pub offset: u64,
    /// Record ids involved.
    pub ids: Vec<String>,
    /// A sentence naming everything involved.
    pub message: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.kind, self.message)
    }
}

/// The verdict.
#[derive(Debug, Default)]
pub struct Report {
    /// Records sent (invocations).
    pub sent: usize,
    /// Records acknowledged.
    pub acknowledged: usize,
    /// Sends that definitely failed.
    pub failed: usize,
    /// Sends with an unknown outcome (an `info` result or none at all).
    pub indeterminate: usize,
    /// Records read by the final read.
    pub read: usize,
    /// Records read by tailing readers during the run.
    pub observed: usize,
    /// Sent but unacknowledged records that were read anyway (allowed: outcome unknown).
    pub unacknowledged_but_present: usize,
    /// Violation messages, smallest (by partition, offset) first.
    pub violations: Vec<String>,
    /// The same violations with their kind and position.
    pub details: Vec<Violation>,
    /// The smallest counter-example with the history that shows it.
    pub counter_example: Option<String>,
}

impl Report {
    /// Whether every invariant held.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// Whether some violation is of `kind`.
    pub fn has(&self, kind: ViolationKind) -> bool {
        self.details.iter().any(|v| v.kind == kind)
    }

    /// One line: the counts.
    pub fn summary(&self) -> String {
        format!(
            "checker: {} sent, {} acknowledged, {} failed, {} indeterminate, {} read, {} observed by tailing readers, {} unacknowledged-but-present, {} violations",
            self.sent,
            self.acknowledged,
            self.failed,
            self.indeterminate,
            self.read,
            self.observed,
            self.unacknowledged_but_present,
            self.violations.len()
        )
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary())?;
        if self.details.is_empty() {
            return Ok(());
        }
        let mut by_kind: BTreeMap<ViolationKind, usize> = BTreeMap::new();
        for violation in &self.details {
            *by_kind.entry(violation.kind).or_default() += 1;
        }
        let kinds: Vec<String> = by_kind
            .iter()
            .map(|(kind, count)| format!("{kind} {count}"))
            .collect();
        writeln!(f, "violations by kind: {}", kinds.join(", "))?;
        if let Some(example) = &self.counter_example {
            write!(f, "smallest counter-example: {example}")?;
        }
        for more in self.details.iter().skip(1).take(9) {
            writeln!(f, "  also: {more}")?;
        }
        if self.details.len() > 10 {
            writeln!(f, "  … and {} more", self.details.len() - 10)?;
        }
        Ok(())
    }
}

impl History {
    /// Milliseconds since this history began.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Appends a raw event.
    pub fn record(&mut self, event: Event) {
        if matches!(event, Event::Ack { .. }) {
            self.acknowledged += 1;
        }
        self.events.push(event);
    }

    /// Every event so far, in order.
    pub fn events(&self) -> &[Event] {
        &self.events
    }

    /// Records a run setting.
    pub fn meta(&mut self, key: &str, value: serde_json::Value) {
        self.record(Event::Meta {
            key: key.to_owned(),
            value,
        });
    }

    /// Declares a producer: idempotent ones are held to their order among every record that
    /// appears, plain ones among their acknowledged records.
    pub fn producer(&mut self, process: &str, idempotent: bool) {
        self.record(Event::Producer {
            process: process.to_owned(),
            idempotent,
        });
    }

    /// Records an invocation: the record is about to be sent.
    pub fn sent(&mut self, record: Sent) {
        let time_ms = self.now_ms();
        self.record(Event::Invoke {
            time_ms,
            process: record.producer,
            id: record.id,
            sequence: record.sequence,
            content: record.content,
        });
    }

    /// Records an acknowledgement.
    pub fn acknowledged(&mut self, id: &str, partition: u32, offset: u64) {
        let time_ms = self.now_ms();
        self.record(Event::Ack {
            time_ms,
            id: id.to_owned(),
            partition,
            offset,
        });
    }

    /// Records a send that certainly wrote nothing.
    pub fn failed(&mut self, id: &str, error: &str) {
        let time_ms = self.now_ms();
        self.record(Event::Fail {
            time_ms,
            id: id.to_owned(),
            error: error.to_owned(),
        });
    }

    /// Records a send whose outcome is unknown.
    pub fn indeterminate(&mut self, id: &str, error: &str) {
        let time_ms = self.now_ms();
        self.record(Event::Info {
            time_ms,
            id: id.to_owned(),
            error: error.to_owned(),
        });
    }

    /// How many acknowledgements were recorded.
    pub fn acknowledged_count(&self) -> usize {
        self.acknowledged
    }

    /// Records a read of the final full read.
    pub fn read(&mut self, read: Read) {
        self.observed(FINAL_READER, read);
    }

    /// Records a read by `process` (a tailing reader, or [`FINAL_READER`]).
    pub fn observed(&mut self, process: &str, read: Read) {
        let time_ms = self.now_ms();
        self.record(Event::Read {
            time_ms,
            process: process.to_owned(),
            partition: read.partition,
            offset: read.offset,
            id: read.id,
            content: read.content,
        });
    }

    /// Records that tailing reader `process` was told the start of `partition` moved past
    /// its position and resumes at `offset`.
    pub fn reset(&mut self, process: &str, partition: u32, offset: u64) {
        let time_ms = self.now_ms();
        self.record(Event::Reset {
            time_ms,
            process: process.to_owned(),
            partition,
            offset,
        });
    }

    /// Records the range the final read covers for a partition.
    pub fn final_range(&mut self, partition: u32, start_offset: u64, high_watermark: u64) {
        self.record(Event::Final {
            partition,
            start_offset,
            high_watermark,
        });
    }

    /// Records a fault applied or healed.
    pub fn fault(&mut self, description: &str) {
        let time_ms = self.now_ms();
        self.record(Event::Fault {
            time_ms,
            description: description.to_owned(),
        });
    }

    /// Writes the history as JSON lines.
    pub fn write_jsonl(&self, out: &mut impl Write) -> std::io::Result<()> {
        for event in &self.events {
            serde_json::to_writer(&mut *out, event)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Writes the history as JSON lines to a file.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path)?);
        self.write_jsonl(&mut file)
    }

    /// Reads a JSON-lines history; blank lines are skipped. The error names the line.
    pub fn read_jsonl(input: impl BufRead) -> Result<History, String> {
        let mut history = History::default();
        for (number, line) in input.lines().enumerate() {
            let line = line.map_err(|e| format!("line {}: {e}", number + 1))?;
            if line.trim().is_empty() {
                continue;
            }
            let event: Event =
                serde_json::from_str(&line).map_err(|e| format!("line {}: {e}", number + 1))?;
            history.record(event);
        }
        Ok(history)
    }

    /// Reads a JSON-lines history file.
    pub fn load(path: &Path) -> Result<History, String> {
        let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
        History::read_jsonl(std::io::BufReader::new(file))
    }

    /// Checks every invariant. `starts` gives partitions' start offsets (0 without
    /// retention) for histories without `final` events; a `final` event wins.
    pub fn check(&self, starts: &BTreeMap<u32, u64>) -> Report {
        Checker::new(self, starts).run()
    }
}

/// What happened to one sent record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Pending,
    Acked,
    Failed,
    Indeterminate,
}

struct Invocation<'a> {
    process: &'a str,
    sequence: u64,
    content: &'a str,
}

struct ReadRef<'a> {
    process: &'a str,
    partition: u32,
    offset: u64,
    id: Option<&'a str>,
    content: &'a str,
}

/// One event of a tailing reader, in history order.
enum Tail<'a> {
    /// A record it got.
    Read(ReadRef<'a>),
    /// It was told the start moved and resumes at `offset`.
    Reset {
        process: &'a str,
        partition: u32,
        offset: u64,
    },
}

/// Where a tailing reader's next read in a partition must be: after its last read, or at
/// the offset a reset named.
#[derive(Clone, Copy)]
enum NextRead {
    After(u64),
    ResetTo(u64),
}

/// What the final read found: (partition, offset) → (id, content).
type FinalAt<'a> = HashMap<(u32, u64), (Option<&'a str>, &'a str)>;

/// What tailing readers saw below the final start: (partition, offset) → (id, content, reader).
type TrimmedSeen<'a> = HashMap<(u32, u64), (Option<&'a str>, &'a str, &'a str)>;

/// (producer, partition) → (offset, sequence, id) of the records its order is checked on.
type OrderLines<'a> = BTreeMap<(&'a str, u32), Vec<(u64, u64, &'a str)>>;

struct Checker<'a> {
    history: &'a History,
    idempotent: HashMap<&'a str, bool>,
    invocations: HashMap<&'a str, Invocation<'a>>,
    invocation_order: Vec<&'a str>,
    outcomes: HashMap<&'a str, Outcome>,
    acks: Vec<(&'a str, u32, u64)>,
    /// The first acknowledgement of each record.
    acked_as: HashMap<&'a str, (u32, u64)>,
    /// The first record acknowledged at each place.
    acked_at: HashMap<(u32, u64), &'a str>,
    final_reads: BTreeMap<u32, Vec<ReadRef<'a>>>,
    tail: Vec<Tail<'a>>,
    ranges: BTreeMap<u32, (u64, Option<u64>)>,
    violations: Vec<Violation>,
}

impl<'a> Checker<'a> {
    fn new(history: &'a History, starts: &BTreeMap<u32, u64>) -> Self {
        let mut checker = Checker {
            history,
            idempotent: HashMap::new(),
            invocations: HashMap::new(),
            invocation_order: Vec::new(),
            outcomes: HashMap::new(),
            acks: Vec::new(),
            acked_as: HashMap::new(),
            acked_at: HashMap::new(),
            final_reads: BTreeMap::new(),
            tail: Vec::new(),
            ranges: starts
                .iter()
                .map(|(partition, start)| (*partition, (*start, None)))
                .collect(),
            violations: Vec::new(),
        };
        for event in &history.events {
            checker.index(event);
        }
        checker
    }

    fn index(&mut self, event: &'a Event) {
        match event {
            Event::Meta { .. } | Event::Fault { .. } => {}
            Event::Producer {
                process,
                idempotent,
            } => {
                self.idempotent.insert(process, *idempotent);
            }
            Event::Invoke {
                process,
                id,
                sequence,
                content,
                ..
            } => {
                if self
                    .invocations
                    .insert(
                        id,
                        Invocation {
                            process,
                            sequence: *sequence,
                            content,
                        },
                    )
                    .is_none()
                {
                    self.invocation_order.push(id);
                }
                self.outcomes.entry(id).or_insert(Outcome::Pending);
            }
            Event::Ack {
                id,
                partition,
                offset,
                ..
            } => {
                self.acks.push((id, *partition, *offset));
                self.acked_as.entry(id).or_insert((*partition, *offset));
                self.acked_at.entry((*partition, *offset)).or_insert(id);
                self.outcomes.insert(id, Outcome::Acked);
            }
            Event::Fail { id, .. } => {
                let outcome = self.outcomes.entry(id).or_insert(Outcome::Pending);
                if *outcome != Outcome::Acked {
                    *outcome = Outcome::Failed;
                }
            }
            Event::Info { id, .. } => {
                let outcome = self.outcomes.entry(id).or_insert(Outcome::Pending);
                if *outcome != Outcome::Acked {
                    *outcome = Outcome::Indeterminate;
                }
            }
            Event::Read {
                process,
                partition,
                offset,
                id,
                content,
                ..
            } => {
                let read = ReadRef {
                    process,
                    partition: *partition,
                    offset: *offset,
                    id: id.as_deref(),
                    content,
                };
                if process == FINAL_READER {
                    self.final_reads.entry(*partition).or_default().push(read);
                } else {
                    self.tail.push(Tail::Read(read));
                }
            }
            Event::Reset {
                process,
                partition,
                offset,
                ..
            } => self.tail.push(Tail::Reset {
                process,
                partition: *partition,
                offset: *offset,
            }),
            Event::Final {
                partition,
                start_offset,
                high_watermark,
            } => {
                self.ranges
                    .insert(*partition, (*start_offset, Some(*high_watermark)));
            }
        }
    }

    fn violation(
        &mut self,
        kind: ViolationKind,
        partition: u32,
        offset: u64,
        ids: &[&str],
        message: String,
    ) {
        self.violations.push(Violation {
            kind,
            partition,
            offset,
            ids: ids.iter().map(|id| (*id).to_owned()).collect(),
            message,
        });
    }

    fn describe(&self, id: &str) -> String {
        let Some(invocation) = self.invocations.get(id) else {
            return format!("{id:?}");
        };
        let kind = match self.idempotent.get(invocation.process) {
            Some(true) => "idempotent ",
            Some(false) => "plain ",
            None => "",
        };
        let outcome = match self.outcomes.get(id) {
            Some(Outcome::Acked) => "acknowledged",
            Some(Outcome::Failed) => "failed",
            Some(Outcome::Indeterminate) => "indeterminate",
            Some(Outcome::Pending) | None => "never answered",
        };
        format!(
            "{id:?} ({outcome}, {kind}producer {} sequence {})",
            invocation.process, invocation.sequence
        )
    }

    fn run(mut self) -> Report {
        // Where each id was found by the final read, and what is at each offset.
        let mut positions: HashMap<&'a str, Vec<(u32, u64)>> = HashMap::new();
        let mut at: FinalAt<'a> = HashMap::new();
        let mut read_count = 0;
        let mut partitions: Vec<u32> = self.final_reads.keys().copied().collect();
        partitions.extend(self.ranges.keys().copied());
        partitions.sort_unstable();
        partitions.dedup();
        let mut final_reads = std::mem::take(&mut self.final_reads);
        for partition in &partitions {
            let partition = *partition;
            let (start, high_watermark) = self.ranges.get(&partition).copied().unwrap_or((0, None));
            let reads = final_reads.entry(partition).or_default();
            reads.sort_by_key(|r| r.offset);
            let mut expected = start;
            let mut previous: Option<&ReadRef<'a>> = None;
            for read in reads.iter() {
                if let Some(previous) = previous
                    && previous.offset == read.offset
                {
                    // The same offset read twice by the final read: fine if identical.
                    if previous.id != read.id || previous.content != read.content {
                        let ids: Vec<&str> = previous.id.into_iter().chain(read.id).collect();
                        self.violation(
                            ViolationKind::UnstableRead,
                            partition,
                            read.offset,
                            &ids,
                            format!(
                                "partition {partition} offset {}: the final read got two different records ({:?} and {:?})",
                                read.offset, previous.id, read.id
                            ),
                        );
                    }
                    continue;
                }
                previous = Some(read);
                read_count += 1;
                if read.offset != expected {
                    let what = if read.offset > expected {
                        format!("offsets {expected}..{} missing", read.offset)
                    } else {
                        format!("offset {} below the start {start}", read.offset)
                    };
                    self.violation(
                        ViolationKind::Gap,
                        partition,
                        read.offset.min(expected),
                        &[],
                        format!(
                            "partition {partition}: offsets not dense: expected {expected}, read {} ({what})",
                            read.offset
                        ),
                    );
                }
                expected = expected.max(read.offset + 1);
                at.insert((partition, read.offset), (read.id, read.content));
                self.check_final_record(partition, read, &mut positions);
            }
            if let Some(high_watermark) = high_watermark
                && expected < high_watermark
            {
                self.violation(
                    ViolationKind::Gap,
                    partition,
                    expected,
                    &[],
                    format!(
                        "partition {partition}: offsets not dense: offsets {expected}..{high_watermark} below the high watermark {high_watermark} were not read"
                    ),
                );
            }
        }
        self.final_reads = final_reads;
        self.check_acks(&positions, &at);
        self.check_order(&positions);
        self.check_tail_reads(&at, &positions);

        let mut present: HashSet<&str> = positions.keys().copied().collect();
        present.retain(|id| self.outcomes.get(id) != Some(&Outcome::Acked));
        let mut details = std::mem::take(&mut self.violations);
        details.sort_by(|a, b| {
            (a.partition, a.offset, a.kind, &a.message).cmp(&(
                b.partition,
                b.offset,
                b.kind,
                &b.message,
            ))
        });
        let counter_example = details
            .first()
            .map(|first| self.counter_example(first, &at));
        let count = |wanted: &[Outcome]| {
            self.invocation_order
                .iter()
                .filter(|id| wanted.contains(self.outcomes.get(*id).unwrap_or(&Outcome::Pending)))
                .count()
        };
        Report {
            sent: self.invocations.len(),
            acknowledged: self.history.acknowledged,
            failed: count(&[Outcome::Failed]),
            indeterminate: count(&[Outcome::Indeterminate, Outcome::Pending]),
            read: read_count,
            observed: self
                .tail
                .iter()
                .filter(|t| matches!(t, Tail::Read(_)))
                .count(),
            unacknowledged_but_present: present.len(),
            violations: details.iter().map(|v| v.message.clone()).collect(),
            details,
            counter_example,
        }
    }

    fn check_final_record(
        &mut self,
        partition: u32,
        read: &ReadRef<'a>,
        positions: &mut HashMap<&'a str, Vec<(u32, u64)>>,
    ) {
        let offset = read.offset;
        let Some(id) = read.id else {
            self.violation(
                ViolationKind::NeverSent,
                partition,
                offset,
                &[],
                format!("partition {partition} offset {offset}: a record no test sent (no id)"),
            );
            return;
        };
        match self.invocations.get(id) {
            None => self.violation(
                ViolationKind::NeverSent,
                partition,
                offset,
                &[id],
                format!("partition {partition} offset {offset}: record {id:?} was never sent"),
            ),
            Some(sent) if sent.content != read.content => {
                let described = self.describe(id);
                self.violation(
                    ViolationKind::ContentMismatch,
                    partition,
                    offset,
                    &[id],
                    format!(
                        "partition {partition} offset {offset}: record {described} content differs from what was sent: sent {}, read {}",
                        sent.content, read.content
                    ),
                );
            }
            Some(_) => {}
        }
        if self.outcomes.get(id) == Some(&Outcome::Failed) {
            let described = self.describe(id);
            self.violation(
                ViolationKind::FailedPresent,
                partition,
                offset,
                &[id],
                format!(
                    "partition {partition} offset {offset}: record {described} appears although its send definitely failed"
                ),
            );
        }
        let seen = positions.entry(id).or_default();
        if let Some(&(first_partition, first_offset)) = seen.first() {
            let described = self.describe(id);
            self.violation(
                ViolationKind::Duplicate,
                partition,
                offset,
                &[id],
                format!(
                    "record {described} read twice: partition {first_partition} offset {first_offset} and partition {partition} offset {offset}"
                ),
            );
        }
        seen.push((partition, offset));
    }

    fn check_acks(&mut self, positions: &HashMap<&'a str, Vec<(u32, u64)>>, at: &FinalAt<'a>) {
        let mut acked_at: HashMap<(u32, u64), &'a str> = HashMap::new();
        let mut acked_as: HashMap<&'a str, (u32, u64)> = HashMap::new();
        let acks = self.acks.clone();
        for (id, partition, offset) in acks {
            if let Some(other) = acked_at.insert((partition, offset), id)
                && other != id
            {
                self.violation(
                    ViolationKind::ConflictingAcks,
                    partition,
                    offset,
                    &[other, id],
                    format!(
                        "partition {partition} offset {offset} was acknowledged for two records: {other:?} and {id:?}"
                    ),
                );
            }
            if let Some(first) = acked_as.insert(id, (partition, offset))
                && first != (partition, offset)
            {
                self.violation(
                    ViolationKind::ConflictingAcks,
                    partition,
                    offset,
                    &[id],
                    format!(
                        "record {id:?} was acknowledged twice: partition {} offset {} and partition {partition} offset {offset}",
                        first.0, first.1
                    ),
                );
                continue;
            }
            let found = positions.get(id).map(Vec::as_slice).unwrap_or_default();
            if found.contains(&(partition, offset)) {
                continue;
            }
            let described = self.describe(id);
            if let Some(&(p, o)) = found.first() {
                let holder = at.get(&(partition, offset)).and_then(|(holder, _)| *holder);
                self.violation(
                    ViolationKind::WrongOffset,
                    partition,
                    offset,
                    &[id],
                    format!(
                        "record {described} was acknowledged at partition {partition} offset {offset} but read at partition {p} offset {o}; offset {offset} holds {holder:?}"
                    ),
                );
            } else if let Some((holder, _)) = at.get(&(partition, offset)) {
                self.violation(
                    ViolationKind::Lost,
                    partition,
                    offset,
                    &[id],
                    format!(
                        "partition {partition} offset {offset} was acknowledged for {described} but holds {holder:?}; the acknowledged record is lost"
                    ),
                );
            } else if offset < self.start_of(partition) {
                // Trimmed by retention before the final read: what readers saw there is
                // checked with the tail reads.
            } else {
                let beyond = match self.ranges.get(&partition) {
                    Some((_, Some(high_watermark))) if offset >= *high_watermark => {
                        format!(" (at or beyond the final high watermark {high_watermark})")
                    }
                    _ => String::new(),
                };
                self.violation(
                    ViolationKind::Lost,
                    partition,
                    offset,
                    &[id],
                    format!(
                        "acknowledged record {described} at partition {partition} offset {offset} is missing{beyond}"
                    ),
                );
            }
        }
    }

    fn check_order(&mut self, positions: &HashMap<&'a str, Vec<(u32, u64)>>) {
        // (producer, partition) -> (offset, sequence, id) of the records that count.
        let mut lines: OrderLines<'a> = BTreeMap::new();
        for id in &self.invocation_order {
            let Some(invocation) = self.invocations.get(id) else {
                continue;
            };
            let strict = self
                .idempotent
                .get(invocation.process)
                .copied()
                .unwrap_or(true);
            if !strict && self.outcomes.get(id) != Some(&Outcome::Acked) {
                continue;
            }
            if let Some(&(partition, offset)) = positions.get(id).and_then(|p| p.first()) {
                lines
                    .entry((invocation.process, partition))
                    .or_default()
                    .push((offset, invocation.sequence, id));
            }
        }
        for ((producer, partition), mut line) in lines {
            line.sort_unstable();
            for pair in line.windows(2) {
                let (offset, sequence, id) = pair[0];
                let (next_offset, next_sequence, next_id) = pair[1];
                if sequence > next_sequence {
                    self.violation(
                        ViolationKind::OrderBroken,
                        partition,
                        next_offset,
                        &[id, next_id],
                        format!(
                            "producer {producer} order broken in partition {partition}: sequence {sequence} ({id:?}) at offset {offset} before sequence {next_sequence} ({next_id:?}) at offset {next_offset}"
                        ),
                    );
                }
            }
        }
    }

    /// The first offset of `partition` the final read covers (0 when unknown).
    fn start_of(&self, partition: u32) -> u64 {
        self.ranges.get(&partition).map_or(0, |(start, _)| *start)
    }

    fn check_tail_reads(
        &mut self,
        at: &FinalAt<'a>,
        positions: &HashMap<&'a str, Vec<(u32, u64)>>,
    ) {
        let mut next: HashMap<(&'a str, u32), NextRead> = HashMap::new();
        let mut reported: HashSet<(&'a str, u32, u64)> = HashSet::new();
        let mut trimmed: TrimmedSeen<'a> = HashMap::new();
        let tail = std::mem::take(&mut self.tail);
        for event in &tail {
            match event {
                Tail::Reset {
                    process,
                    partition,
                    offset,
                } => {
                    self.check_reset(process, *partition, *offset);
                    next.insert((process, *partition), NextRead::ResetTo(*offset));
                }
                Tail::Read(read) => {
                    self.check_reader_order(&mut next, read);
                    if !reported.insert((read.process, read.partition, read.offset)) {
                        continue;
                    }
                    if read.offset < self.start_of(read.partition) {
                        self.check_trimmed_read(read, positions, &mut trimmed);
                    } else {
                        self.check_tail_read(read, at);
                    }
                }
            }
        }
        self.tail = tail;
    }

    /// A reset past the final start skipped records the log still has.
    fn check_reset(&mut self, process: &str, partition: u32, offset: u64) {
        let start = self.start_of(partition);
        if offset > start {
            self.violation(
                ViolationKind::ReaderGap,
                partition,
                offset,
                &[],
                format!(
                    "reader {process} in partition {partition}: reset to offset {offset}, past the final start {start}: it skipped records the log still has"
                ),
            );
        }
    }

    /// Each reader's offsets in a partition advance one by one, or restart where a reset said.
    fn check_reader_order(
        &mut self,
        next: &mut HashMap<(&'a str, u32), NextRead>,
        read: &ReadRef<'a>,
    ) {
        let key = (read.process, read.partition);
        let previous = next.insert(key, NextRead::After(read.offset));
        let what = match previous {
            Some(NextRead::After(last)) if read.offset != last + 1 => {
                format!("after offset {last}")
            }
            Some(NextRead::ResetTo(reset)) if read.offset != reset => {
                format!("after a reset to offset {reset}")
            }
            _ => return,
        };
        self.violation(
            ViolationKind::ReaderGap,
            read.partition,
            read.offset,
            &read.id.into_iter().collect::<Vec<_>>(),
            format!(
                "reader {} in partition {}: offset {} came {what}",
                read.process, read.partition, read.offset
            ),
        );
    }

    /// A tailing read at or above the final start: the final read has the same record there.
    fn check_tail_read(&mut self, read: &ReadRef<'a>, at: &FinalAt<'a>) {
        let partition = read.partition;
        let offset = read.offset;
        match at.get(&(partition, offset)) {
            Some((id, content)) if *id == read.id && *content == read.content => {}
            Some((id, _)) => {
                let ids: Vec<&str> = read.id.into_iter().chain(*id).collect();
                let what = if *id == read.id {
                    "with different content".to_owned()
                } else {
                    format!("but the final read has {id:?}")
                };
                self.violation(
                    ViolationKind::UnstableRead,
                    partition,
                    offset,
                    &ids,
                    format!(
                        "reader {} saw {:?} at partition {partition} offset {offset} {what}",
                        read.process, read.id
                    ),
                );
            }
            None => {
                let ids: Vec<&str> = read.id.into_iter().collect();
                let high_watermark = match self.ranges.get(&partition) {
                    Some((_, Some(high_watermark))) => format!("{high_watermark}"),
                    _ => "unknown".to_owned(),
                };
                self.violation(
                    ViolationKind::UnstableRead,
                    partition,
                    offset,
                    &ids,
                    format!(
                        "reader {} saw {:?} at partition {partition} offset {offset}, which the final read does not have (final high watermark {high_watermark}): a record once visible was lost",
                        read.process, read.id
                    ),
                );
            }
        }
    }

    /// A tailing read below the final start (retention trimmed it since): checked against
    /// what was sent and acknowledged, the final read and the other readers.
    fn check_trimmed_read(
        &mut self,
        read: &ReadRef<'a>,
        positions: &HashMap<&'a str, Vec<(u32, u64)>>,
        trimmed: &mut TrimmedSeen<'a>,
    ) {
        let (partition, offset) = (read.partition, read.offset);
        let place = format!("partition {partition} offset {offset} (below the final start)");
        if let Some((id, content, reader)) = trimmed.get(&(partition, offset)).copied()
            && (id != read.id || content != read.content)
        {
            let ids: Vec<&str> = read.id.into_iter().chain(id).collect();
            self.violation(
                ViolationKind::UnstableRead,
                partition,
                offset,
                &ids,
                format!(
                    "readers {reader} and {} saw different records at {place}: {id:?} and {:?}",
                    read.process, read.id
                ),
            );
        }
        trimmed
            .entry((partition, offset))
            .or_insert((read.id, read.content, read.process));
        let Some(id) = read.id else {
            let message = format!(
                "reader {} saw a record no test sent (no id) at {place}",
                read.process
            );
            return self.violation(ViolationKind::NeverSent, partition, offset, &[], message);
        };
        self.check_trimmed_content(read, id, &place);
        self.check_trimmed_ack(read, id, &place);
        if let Some(&(p, o)) = positions.get(id).and_then(|found| found.first()) {
            let described = self.describe(id);
            self.violation(
                ViolationKind::Duplicate,
                partition,
                offset,
                &[id],
                format!("record {described} read twice: at {place} and by the final read at partition {p} offset {o}"),
            );
        }
    }

    /// The record a reader saw below the final start was sent, as read, and not failed.
    fn check_trimmed_content(&mut self, read: &ReadRef<'a>, id: &'a str, place: &str) {
        let (partition, offset) = (read.partition, read.offset);
        match self.invocations.get(id) {
            None => {
                let message = format!(
                    "reader {} saw record {id:?} at {place}, which was never sent",
                    read.process
                );
                self.violation(ViolationKind::NeverSent, partition, offset, &[id], message);
            }
            Some(sent) if sent.content != read.content => {
                let message = format!(
                    "record {} at {place} content differs from what was sent: sent {}, read {}",
                    self.describe(id),
                    sent.content,
                    read.content
                );
                self.violation(
                    ViolationKind::ContentMismatch,
                    partition,
                    offset,
                    &[id],
                    message,
                );
            }
            Some(_) => {}
        }
        if self.outcomes.get(id) == Some(&Outcome::Failed) {
            let message = format!(
                "record {} appears at {place} although its send definitely failed",
                self.describe(id)
            );
            self.violation(
                ViolationKind::FailedPresent,
                partition,
                offset,
                &[id],
                message,
            );
        }
    }

    /// The record a reader saw below the final start is where it was acknowledged, and no
    /// other record was acknowledged there.
    fn check_trimmed_ack(&mut self, read: &ReadRef<'a>, id: &'a str, place: &str) {
        let (partition, offset) = (read.partition, read.offset);
        let acked_as = self.acked_as.get(id).copied();
        if let Some((p, o)) = acked_as.filter(|place| *place != (partition, offset)) {
            let message = format!(
                "record {} was acknowledged at partition {p} offset {o} but read at {place}",
                self.describe(id)
            );
            self.violation(ViolationKind::WrongOffset, p, o, &[id], message);
        }
        let holder = self.acked_at.get(&(partition, offset)).copied();
        if let Some(holder) = holder.filter(|holder| *holder != id) {
            let message = format!(
                "{place} was acknowledged for {} but reader {} saw {id:?} there; the acknowledged record is lost",
                self.describe(holder),
                read.process
            );
            self.violation(
                ViolationKind::Lost,
                partition,
                offset,
                &[holder, id],
                message,
            );
        }
    }

    /// The violation with the part of the history that shows it.
    fn counter_example(&self, violation: &Violation, at: &FinalAt<'a>) -> String {
        let mut out = format!("{violation}\n");
        let ids: HashSet<&str> = violation.ids.iter().map(String::as_str).collect();
        let mut first_ms: Option<u64> = None;
        let mut last_ms: Option<u64> = None;
        let mut note = |time_ms: u64| {
            first_ms = Some(first_ms.map_or(time_ms, |t| t.min(time_ms)));
            last_ms = Some(last_ms.map_or(time_ms, |t| t.max(time_ms)));
        };
        out.push_str("  history of the records involved:\n");
        let mut lines = 0;
        for event in &self.history.events {
            let (time_ms, id) = match event {
                Event::Invoke { time_ms, id, .. }
                | Event::Ack { time_ms, id, .. }
                | Event::Fail { time_ms, id, .. }
                | Event::Info { time_ms, id, .. } => (*time_ms, Some(id.as_str())),
                Event::Read { time_ms, id, .. } => (*time_ms, id.as_deref()),
                _ => continue,
            };
            let relevant = match event {
                Event::Read {
                    partition, offset, ..
                } => {
                    id.is_some_and(|id| ids.contains(id))
                        || (*partition == violation.partition && *offset == violation.offset)
                }
                _ => id.is_some_and(|id| ids.contains(id)),
            };
            if !relevant {
                continue;
            }
            // The final read happens after everything; it would stretch the fault window
            // over the whole run.
            if !matches!(event, Event::Read { process, .. } if process == FINAL_READER) {
                note(time_ms);
            }
            lines += 1;
            if lines <= 20 {
                let text = serde_json::to_string(event).unwrap_or_default();
                out.push_str(&format!("    {text}\n"));
            }
        }
        if lines > 20 {
            out.push_str(&format!("    … {} more events\n", lines - 20));
        }
        if lines == 0 {
            out.push_str("    (none)\n");
        }
        let partition = violation.partition;
        let low = violation.offset.saturating_sub(2);
        let neighbourhood: Vec<String> = (low..=violation.offset + 2)
            .map(|offset| match at.get(&(partition, offset)) {
                Some((id, _)) => format!("{offset}: {id:?}"),
                None => format!("{offset}: -"),
            })
            .collect();
        let range = match self.ranges.get(&partition) {
            Some((start, Some(high_watermark))) => {
                format!(" (start {start}, high watermark {high_watermark})")
            }
            Some((start, None)) => format!(" (start {start})"),
            None => String::new(),
        };
        out.push_str(&format!(
            "  final read of partition {partition} around offset {}{range}: {}\n",
            violation.offset,
            neighbourhood.join(", ")
        ));
        let faults: Vec<String> = self
            .history
            .events
            .iter()
            .filter_map(|event| match event {
                Event::Fault {
                    time_ms,
                    description,
                } => Some((*time_ms, description)),
                _ => None,
            })
            .filter(|(time_ms, _)| match (first_ms, last_ms) {
                (Some(first), Some(last)) => *time_ms + 5_000 >= first && *time_ms <= last + 5_000,
                _ => true,
            })
            .map(|(time_ms, description)| format!("t={time_ms}ms {description}"))
            .collect();
        if !faults.is_empty() {
            let window = match (first_ms, last_ms) {
                (Some(first), Some(last)) => format!(" (t={first}..{last}ms, ±5 s)"),
                _ => String::new(),
            };
            out.push_str(&format!("  faults around those events{window}:\n"));
            for fault in faults.iter().take(15) {
                out.push_str(&format!("    {fault}\n"));
            }
            if faults.len() > 15 {
                out.push_str(&format!("    … {} more\n", faults.len() - 15));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(id: &str, sequence: u64) -> Sent {
        Sent {
            id: id.into(),
            producer: "p".into(),
            sequence,
            content: format!("c-{id}"),
        }
    }

    fn read(partition: u32, offset: u64, id: &str) -> Read {
        Read {
            partition,
            offset,
            id: Some(id.into()),
            content: format!("c-{id}"),
        }
    }

    /// Producer `p` (declared with `idempotent`) sent a..=d; a, b, c acked at 0, 1, 2.
    fn base(idempotent: bool) -> History {
        let mut h = History::default();
        h.producer("p", idempotent);
        for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
            h.sent(sent(id, i as u64));
        }
        h.acknowledged("a", 0, 0);
        h.acknowledged("b", 0, 1);
        h.acknowledged("c", 0, 2);
        h.indeterminate("d", "timeout");
        h
    }

    fn finish(mut h: History, reads: &[(u64, &str)], high_watermark: u64) -> Report {
        h.final_range(0, 0, high_watermark);
        for (offset, id) in reads {
            h.read(read(0, *offset, id));
        }
        h.check(&BTreeMap::new())
    }

    fn assert_only(report: &Report, kind: ViolationKind) {
        assert!(report.has(kind), "expected {kind}: {report}");
        assert!(
            report.to_string().contains(kind.as_str()),
            "the report does not name {kind}: {report}"
        );
        assert!(
            report.details.iter().all(|v| v.kind == kind),
            "expected only {kind}: {report}"
        );
        assert!(
            report
                .counter_example
                .as_deref()
                .is_some_and(|c| c.contains(kind.as_str())),
            "{report}"
        );
    }

    #[test]
    fn a_clean_history_passes() {
        let mut h = History::default();
        h.sent(sent("a", 0));
        h.sent(sent("b", 1));
        h.acknowledged("a", 0, 0);
        h.acknowledged("b", 0, 1);
        h.read(read(0, 0, "a"));
        h.read(read(0, 1, "b"));
        let report = h.check(&BTreeMap::new());
        assert!(report.ok(), "{report}");
    }

    #[test]
    fn indeterminate_records_may_appear_once_or_not_at_all() {
        let absent = finish(base(true), &[(0, "a"), (1, "b"), (2, "c")], 3);
        assert!(absent.ok(), "{absent}");
        assert_eq!(absent.indeterminate, 1);
        let present = finish(base(true), &[(0, "a"), (1, "b"), (2, "c"), (3, "d")], 4);
        assert!(present.ok(), "{present}");
        assert_eq!(present.unacknowledged_but_present, 1);
    }

    #[test]
    fn a_plain_producers_late_indeterminate_record_may_land_after_later_ones() {
        // b's send timed out (plain producer: not retried), c was sent and acknowledged,
        // then b's request committed after all.
        let mut h = History::default();
        h.producer("p", false);
        h.sent(sent("a", 0));
        h.sent(sent("b", 1));
        h.sent(sent("c", 2));
        h.acknowledged("a", 0, 0);
        h.indeterminate("b", "timeout");
        h.acknowledged("c", 0, 1);
        let report = finish(h, &[(0, "a"), (1, "c"), (2, "b")], 3);
        assert!(report.ok(), "{report}");
    }

    #[test]
    fn lost() {
        let report = finish(base(true), &[(0, "a"), (1, "b")], 2);
        assert_only(&report, ViolationKind::Lost);
        assert!(report.violations[0].contains("\"c\""), "{report}");
    }

    #[test]
    fn lost_when_the_offset_holds_another_record() {
        let report = finish(base(true), &[(0, "a"), (1, "b"), (2, "d")], 3);
        assert_only(&report, ViolationKind::Lost);
    }

    #[test]
    fn wrong_offset() {
        let report = finish(base(false), &[(0, "a"), (1, "d"), (2, "b"), (3, "c")], 4);
        assert!(report.has(ViolationKind::WrongOffset), "{report}");
        assert!(
            report
                .details
                .iter()
                .all(|v| v.kind == ViolationKind::WrongOffset),
            "{report}"
        );
    }

    #[test]
    fn conflicting_acks() {
        let mut h = base(true);
        h.acknowledged("d", 0, 2);
        let report = finish(h, &[(0, "a"), (1, "b"), (2, "c"), (3, "d")], 4);
        assert!(report.has(ViolationKind::ConflictingAcks), "{report}");
    }

    #[test]
    fn duplicate() {
        let report = finish(base(true), &[(0, "a"), (1, "b"), (2, "c"), (3, "c")], 4);
        assert_only(&report, ViolationKind::Duplicate);
        // An indeterminate record read twice is a duplicate too.
        let report = finish(
            base(false),
            &[(0, "a"), (1, "b"), (2, "c"), (3, "d"), (4, "d")],
            5,
        );
        assert_only(&report, ViolationKind::Duplicate);
    }

    #[test]
    fn gap() {
        let mut h = base(true);
        h.acknowledged("d", 0, 4);
        let report = finish(h, &[(0, "a"), (1, "b"), (2, "c"), (4, "d")], 5);
        assert_only(&report, ViolationKind::Gap);
        // Not reading up to the high watermark is a gap as well.
        let report = finish(base(true), &[(0, "a"), (1, "b"), (2, "c")], 5);
        assert_only(&report, ViolationKind::Gap);
    }

    #[test]
    fn never_sent() {
        let report = finish(base(true), &[(0, "a"), (1, "b"), (2, "c"), (3, "zzz")], 4);
        assert_only(&report, ViolationKind::NeverSent);
        let mut h = base(true);
        h.final_range(0, 0, 4);
        for (offset, id) in [(0, "a"), (1, "b"), (2, "c")] {
            h.read(read(0, offset, id));
        }
        h.read(Read {
            partition: 0,
            offset: 3,
            id: None,
            content: "anonymous".into(),
        });
        let report = h.check(&BTreeMap::new());
        assert_only(&report, ViolationKind::NeverSent);
    }

    #[test]
    fn content_mismatch() {
        let mut h = base(true);
        h.final_range(0, 0, 3);
        h.read(read(0, 0, "a"));
        h.read(Read {
            content: "other".into(),
            ..read(0, 1, "b")
        });
        h.read(read(0, 2, "c"));
        let report = h.check(&BTreeMap::new());
        assert_only(&report, ViolationKind::ContentMismatch);
    }

    #[test]
    fn order_broken() {
        // Idempotent: an indeterminate record that lands after a later one breaks order.
        let mut h = History::default();
        h.producer("p", true);
        h.sent(sent("a", 0));
        h.sent(sent("b", 1));
        h.sent(sent("c", 2));
        h.acknowledged("a", 0, 0);
        h.indeterminate("b", "timeout");
        h.acknowledged("c", 0, 1);
        let report = finish(h, &[(0, "a"), (1, "c"), (2, "b")], 3);
        assert_only(&report, ViolationKind::OrderBroken);
        // Plain: acknowledged records out of order.
        let mut h = History::default();
        h.producer("p", false);
        h.sent(sent("a", 0));
        h.sent(sent("b", 1));
        h.acknowledged("a", 0, 1);
        h.acknowledged("b", 0, 0);
        let report = finish(h, &[(0, "b"), (1, "a")], 2);
        assert_only(&report, ViolationKind::OrderBroken);
    }

    #[test]
    fn failed_present() {
        let mut h = base(true);
        h.failed("d", "invalid_record");
        let report = finish(h, &[(0, "a"), (1, "b"), (2, "c"), (3, "d")], 4);
        assert_only(&report, ViolationKind::FailedPresent);
    }

    #[test]
    fn unstable_read() {
        // A tailing reader saw d at 3, the final read stops at 3: a visible record was lost.
        let mut h = base(true);
        h.observed("consumer-0", read(0, 0, "a"));
        h.observed("consumer-0", read(0, 1, "b"));
        h.observed("consumer-0", read(0, 2, "c"));
        h.observed("consumer-0", read(0, 3, "d"));
        let report = finish(h, &[(0, "a"), (1, "b"), (2, "c")], 3);
        assert_only(&report, ViolationKind::UnstableRead);
        // A tailing reader saw another record at an offset than the final read.
        let mut h = base(true);
        h.observed("consumer-0", read(0, 0, "d"));
        let report = finish(h, &[(0, "a"), (1, "b"), (2, "c")], 3);
        assert_only(&report, ViolationKind::UnstableRead);
    }

    #[test]
    fn reader_gap() {
        let mut h = base(true);
        h.observed("consumer-0", read(0, 0, "a"));
        h.observed("consumer-0", read(0, 2, "c"));
        let report = finish(h, &[(0, "a"), (1, "b"), (2, "c")], 3);
        assert_only(&report, ViolationKind::ReaderGap);
    }

    /// `base(true)` with the start moved to 2 (a and b trimmed) and c read by the final
    /// read; `tail` is what reader consumer-0 did first.
    fn trimmed(tail: impl FnOnce(&mut History)) -> Report {
        let mut h = base(true);
        tail(&mut h);
        h.final_range(0, 2, 3);
        h.read(read(0, 2, "c"));
        h.check(&BTreeMap::new())
    }

    #[test]
    fn a_jump_to_the_new_start_without_a_reset_is_a_reader_gap() {
        let report = trimmed(|h| {
            h.observed("consumer-0", read(0, 0, "a"));
            h.observed("consumer-0", read(0, 2, "c"));
        });
        assert_only(&report, ViolationKind::ReaderGap);
    }

    #[test]
    fn a_reset_to_the_moved_start_is_clean_and_trimmed_acks_are_not_lost() {
        let report = trimmed(|h| {
            h.observed("consumer-0", read(0, 0, "a"));
            h.reset("consumer-0", 0, 2);
            h.observed("consumer-0", read(0, 2, "c"));
            // A reader that keeps asking for the old start is told again and again.
            h.reset("stale-0", 0, 1);
            h.reset("stale-0", 0, 2);
            h.observed("stale-0", read(0, 2, "c"));
        });
        assert!(report.ok(), "{report}");
        assert_eq!(report.acknowledged, 3);
        assert_eq!(report.observed, 3);
    }

    #[test]
    fn a_reset_past_the_final_start_or_a_read_elsewhere_after_it_is_a_reader_gap() {
        let past = trimmed(|h| {
            h.reset("consumer-0", 0, 3);
        });
        assert_only(&past, ViolationKind::ReaderGap);
        assert!(
            past.violations[0].contains("past the final start 2"),
            "{past}"
        );
        let elsewhere = trimmed(|h| {
            h.observed("consumer-0", read(0, 0, "a"));
            h.reset("consumer-0", 0, 1);
            h.observed("consumer-0", read(0, 2, "c"));
        });
        assert_only(&elsewhere, ViolationKind::ReaderGap);
        assert!(
            elsewhere.violations[0].contains("after a reset to offset 1"),
            "{elsewhere}"
        );
    }

    #[test]
    fn records_read_below_a_later_start_are_still_checked() {
        let content = trimmed(|h| {
            h.observed(
                "consumer-0",
                Read {
                    content: "other".into(),
                    ..read(0, 0, "a")
                },
            );
        });
        assert_only(&content, ViolationKind::ContentMismatch);
        let offset = trimmed(|h| h.observed("consumer-0", read(0, 0, "b")));
        assert!(offset.has(ViolationKind::WrongOffset), "{offset}");
        assert!(
            offset.has(ViolationKind::Lost),
            "a acknowledged at 0 but b there: {offset}"
        );
        let never = trimmed(|h| h.observed("consumer-0", read(0, 1, "zzz")));
        assert!(never.has(ViolationKind::NeverSent), "{never}");
        let twice = trimmed(|h| h.observed("consumer-0", read(0, 1, "c")));
        assert!(twice.has(ViolationKind::Duplicate), "{twice}");
        let disagree = trimmed(|h| {
            h.observed("consumer-0", read(0, 1, "b"));
            h.observed("consumer-1", read(0, 1, "d"));
        });
        assert!(disagree.has(ViolationKind::UnstableRead), "{disagree}");
        let failed = trimmed(|h| {
            h.failed("d", "invalid_record");
            h.observed("consumer-0", read(0, 1, "d"));
        });
        assert!(failed.has(ViolationKind::FailedPresent), "{failed}");
    }

    #[test]
    fn each_violation_is_caught_together_and_the_smallest_comes_first() {
        // missing acknowledged record, gap, duplicate, never sent, wrong content, order.
        let mut h = History::default();
        for (i, id) in ["a", "b", "c", "d"].iter().enumerate() {
            h.sent(sent(id, i as u64));
        }
        h.acknowledged("a", 0, 0);
        h.acknowledged("d", 0, 5);
        h.read(read(0, 0, "a"));
        h.read(read(0, 2, "a")); // gap at 1 and a duplicate
        h.read(read(0, 3, "zzz")); // never sent
        h.read(Read {
            content: "other".into(),
            ..read(0, 4, "c")
        }); // content differs
        h.read(read(0, 5, "b")); // acked d missing at 5; b after c breaks order
        let report = h.check(&BTreeMap::new());
        let text = report.to_string();
        for needle in [
            "not dense",
            "read twice",
            "never sent",
            "content differs",
            "holds",
            "order broken",
        ] {
            assert!(
                text.contains(needle) || report.violations.iter().any(|v| v.contains(needle)),
                "{needle}: {text}"
            );
        }
        assert!(report.violations[0].contains("offset"), "{text}");
        let first = &report.details[0];
        assert_eq!((first.partition, first.offset), (0, 1), "{text}");
        assert!(
            report
                .details
                .windows(2)
                .all(|w| (w[0].partition, w[0].offset) <= (w[1].partition, w[1].offset)),
            "{text}"
        );
    }

    #[test]
    fn counter_example_shows_the_records_history_and_nearby_faults() {
        let mut h = base(true);
        h.fault("kill -9 broker 2");
        let report = finish(h, &[(0, "a"), (1, "b")], 2);
        let example = report.counter_example.clone().unwrap_or_default();
        assert!(example.contains("\"type\":\"invoke\""), "{example}");
        assert!(example.contains("\"type\":\"ok\""), "{example}");
        assert!(example.contains("kill -9 broker 2"), "{example}");
        assert!(example.contains("final read of partition 0"), "{example}");
    }

    #[test]
    fn jsonl_round_trip_keeps_the_verdict() {
        let mut h = base(false);
        h.meta("seed", serde_json::json!(42));
        h.fault("pause broker 1");
        h.observed("consumer-1", read(0, 0, "a"));
        h.final_range(0, 0, 3);
        h.read(read(0, 0, "a"));
        h.read(read(0, 1, "b"));
        h.read(read(0, 1, "b")); // the final read retried: identical, ignored
        let mut bytes = Vec::new();
        h.write_jsonl(&mut bytes).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.lines().all(|l| l.starts_with("{\"type\":")), "{text}");
        let loaded = History::read_jsonl(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(loaded.events(), h.events());
        let before = h.check(&BTreeMap::new());
        let after = loaded.check(&BTreeMap::new());
        assert_eq!(before.violations, after.violations);
        assert!(after.has(ViolationKind::Lost), "{after}");
        assert_eq!(after.acknowledged, 3);
        assert_eq!(after.indeterminate, 1);
        assert!(History::read_jsonl(std::io::Cursor::new(b"{\"type\":\"nope\"}\n")).is_err());
    }

    #[test]
    fn every_kind_has_a_distinct_name() {
        let names: HashSet<&str> = ViolationKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), ViolationKind::ALL.len());
    }
}
