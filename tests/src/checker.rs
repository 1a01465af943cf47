//! The invariant checker: given what producers were told (acknowledgements) and what
//! readers saw (a full read of every partition), it proves DESIGN.md's invariants:
//!
//! 1. every acknowledged record is read back, at the offset it was acknowledged with, with
//!    identical content, exactly once;
//! 2. offsets in a partition are dense and increasing from the partition's start;
//! 3. each producer's records in a partition keep the producer's order;
//! 4. nothing is read that was never sent.
//!
//! Records are identified by a unique id the test puts in each record (any string). On a
//! violation it reports a summary and the smallest counter-example: the first offending
//! record by partition and offset.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

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

/// A history: what was sent, what was acknowledged, what was read.
#[derive(Debug, Default)]
pub struct History {
    sent: HashMap<String, Sent>,
    acked: HashMap<String, (u32, u64)>,
    reads: Vec<Read>,
}

/// The verdict.
#[derive(Debug)]
pub struct Report {
    /// Records sent.
    pub sent: usize,
    /// Records acknowledged.
    pub acknowledged: usize,
    /// Records read.
    pub read: usize,
    /// Sent but unacknowledged records that were read anyway (allowed: outcome unknown).
    pub unacknowledged_but_present: usize,
    /// Violations, smallest (by partition, offset) first.
    pub violations: Vec<String>,
}

impl Report {
    /// Whether every invariant held.
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "checker: {} sent, {} acknowledged, {} read, {} unacknowledged-but-present, {} violations",
            self.sent,
            self.acknowledged,
            self.read,
            self.unacknowledged_but_present,
            self.violations.len()
        )?;
        if let Some(first) = self.violations.first() {
            writeln!(f, "smallest counter-example: {first}")?;
            for more in self.violations.iter().skip(1).take(9) {
                writeln!(f, "  also: {more}")?;
            }
        }
        Ok(())
    }
}

impl History {
    /// Records an invocation: the record is about to be sent.
    pub fn sent(&mut self, record: Sent) {
        self.sent.insert(record.id.clone(), record);
    }

    /// Records an acknowledgement.
    pub fn acknowledged(&mut self, id: &str, partition: u32, offset: u64) {
        self.acked.insert(id.to_owned(), (partition, offset));
    }

    /// How many acknowledgements were recorded.
    pub fn acknowledged_count(&self) -> usize {
        self.acked.len()
    }

    /// Records a read.
    pub fn read(&mut self, read: Read) {
        self.reads.push(read);
    }

    /// Checks every invariant. `starts` gives each partition's start offset (0 without
    /// retention).
    pub fn check(&self, starts: &BTreeMap<u32, u64>) -> Report {
        let mut violations: Vec<((u32, u64), String)> = Vec::new();
        let mut by_partition: BTreeMap<u32, Vec<&Read>> = BTreeMap::new();
        for read in &self.reads {
            by_partition.entry(read.partition).or_default().push(read);
        }
        let mut seen_ids: HashMap<&str, (u32, u64)> = HashMap::new();
        let mut at: HashMap<(u32, u64), &Read> = HashMap::new();
        for (partition, reads) in &mut by_partition {
            reads.sort_by_key(|r| r.offset);
            let mut expected = starts.get(partition).copied().unwrap_or(0);
            for read in reads.iter() {
                if read.offset != expected {
                    violations.push((
                        (*partition, read.offset),
                        format!(
                            "partition {partition}: offsets not dense: expected {expected}, read {}",
                            read.offset
                        ),
                    ));
                }
                expected = read.offset + 1;
                at.insert((*partition, read.offset), read);
                let Some(id) = &read.id else {
                    violations.push((
                        (*partition, read.offset),
                        format!(
                            "partition {partition} offset {}: a record no test sent (no id)",
                            read.offset
                        ),
                    ));
                    continue;
                };
                match self.sent.get(id) {
                    None => violations.push((
                        (*partition, read.offset),
                        format!("partition {partition} offset {}: record {id:?} was never sent", read.offset),
                    )),
                    Some(sent) if sent.content != read.content => violations.push((
                        (*partition, read.offset),
                        format!(
                            "partition {partition} offset {}: record {id:?} content differs from what was sent",
                            read.offset
                        ),
                    )),
                    Some(_) => {}
                }
                if let Some(first) = seen_ids.insert(id.as_str(), (*partition, read.offset)) {
                    violations.push((
                        (*partition, read.offset),
                        format!(
                            "record {id:?} read twice: partition {} offset {} and partition {partition} offset {}",
                            first.0, first.1, read.offset
                        ),
                    ));
                }
            }
        }
        for (id, (partition, offset)) in &self.acked {
            match at.get(&(*partition, *offset)) {
                None => violations.push((
                    (*partition, *offset),
                    format!("acknowledged record {id:?} at partition {partition} offset {offset} is missing"),
                )),
                Some(read) if read.id.as_deref() != Some(id.as_str()) => violations.push((
                    (*partition, *offset),
                    format!(
                        "partition {partition} offset {offset} was acknowledged for {id:?} but holds {:?}",
                        read.id
                    ),
                )),
                Some(_) => {}
            }
        }
        // Producer order per partition: sequence numbers must increase with offsets.
        let mut last: HashMap<(&str, u32), (u64, u64)> = HashMap::new();
        for (partition, reads) in &by_partition {
            for read in reads {
                let Some(sent) = read.id.as_ref().and_then(|id| self.sent.get(id)) else {
                    continue;
                };
                if let Some((sequence, offset)) = last.insert(
                    (sent.producer.as_str(), *partition),
                    (sent.sequence, read.offset),
                ) && sequence > sent.sequence
                {
                    violations.push((
                        (*partition, read.offset),
                        format!(
                            "producer {} order broken in partition {partition}: sequence {} at offset {offset} before sequence {} at offset {}",
                            sent.producer, sequence, sent.sequence, read.offset
                        ),
                    ));
                }
            }
        }
        violations.sort_by_key(|(position, _)| *position);
        let acked: HashSet<&str> = self.acked.keys().map(String::as_str).collect();
        Report {
            sent: self.sent.len(),
            acknowledged: self.acked.len(),
            read: self.reads.len(),
            unacknowledged_but_present: seen_ids.keys().filter(|id| !acked.contains(*id)).count(),
            violations: violations.into_iter().map(|(_, text)| text).collect(),
        }
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
    fn each_violation_is_caught() {
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
    }
}
