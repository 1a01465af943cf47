//! What the members of `silt-loadgen group` consumed, and the pure checks on it: offsets
//! read twice within one generation, offsets never read, and partitions that changed owner
//! in a rebalance.

use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Offsets consumed, per generation and partition.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    /// `(generation, partition)` → offsets read, in the order read.
    seen: HashMap<(u64, u32), Vec<u64>>,
}

/// What [`Ledger::audit`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Audit {
    /// Records read, duplicates included.
    pub(crate) consumed: u64,
    /// Reads of an offset already read in the same generation (of the same partition).
    pub(crate) duplicates: u64,
    /// Offsets below the fill's end that no generation read.
    pub(crate) gaps: u64,
}

impl Ledger {
    /// Notes that `offsets` of `partition` were read in `generation`.
    pub(crate) fn note(&mut self, generation: u64, partition: u32, offsets: &[u64]) {
        self.seen
            .entry((generation, partition))
            .or_default()
            .extend_from_slice(offsets);
    }

    /// Distinct offsets read of `partition`, over every generation.
    pub(crate) fn distinct(&self, partition: u32) -> BTreeSet<u64> {
        self.seen
            .iter()
            .filter(|((_, p), _)| *p == partition)
            .flat_map(|(_, offsets)| offsets.iter().copied())
            .collect()
    }

    /// Duplicates within a generation, and gaps below each partition's end (`ends`, by
    /// partition).
    pub(crate) fn audit(&self, ends: &[u64]) -> Audit {
        let consumed = self.seen.values().map(|o| o.len() as u64).sum();
        let duplicates = self.seen.values().map(|o| duplicates(o)).sum();
        let gaps = (0u32..)
            .zip(ends)
            .map(|(p, end)| gaps(&self.distinct(p), *end))
            .sum();
        Audit {
            consumed,
            duplicates,
            gaps,
        }
    }
}

/// Entries of `offsets` that repeat an earlier one.
fn duplicates(offsets: &[u64]) -> u64 {
    let distinct: BTreeSet<u64> = offsets.iter().copied().collect();
    (offsets.len() - distinct.len()) as u64
}

/// Offsets of `0..end` missing from `read`.
fn gaps(read: &BTreeSet<u64>, end: u64) -> u64 {
    end - read.range(..end).count() as u64
}

/// Partitions whose owner in `after` (member → partitions) is not their owner in `before`.
pub(crate) fn moved(
    before: &BTreeMap<String, Vec<u32>>,
    after: &BTreeMap<String, Vec<u32>>,
) -> u64 {
    let owners = owners(before);
    owners_iter(after)
        .filter(|(partition, member)| owners.get(partition) != Some(member))
        .count() as u64
}

/// Partition → owner of an assignment.
fn owners(assignment: &BTreeMap<String, Vec<u32>>) -> HashMap<u32, &str> {
    owners_iter(assignment).collect()
}

/// `(partition, owner)` pairs of an assignment.
fn owners_iter(assignment: &BTreeMap<String, Vec<u32>>) -> impl Iterator<Item = (u32, &str)> {
    assignment
        .iter()
        .flat_map(|(member, partitions)| partitions.iter().map(move |p| (*p, member.as_str())))
}

/// Whether `assignment` gives each of `0..partitions` to exactly one member.
pub(crate) fn covers_once(assignment: &BTreeMap<String, Vec<u32>>, partitions: u32) -> bool {
    let mut owned: Vec<u32> = assignment.values().flatten().copied().collect();
    owned.sort_unstable();
    owned.iter().copied().eq(0..partitions)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assignment(pairs: &[(&str, &[u32])]) -> BTreeMap<String, Vec<u32>> {
        pairs
            .iter()
            .map(|(m, p)| ((*m).to_owned(), p.to_vec()))
            .collect()
    }

    #[test]
    fn audit_counts_repeats_within_a_generation_and_offsets_never_read() {
        let mut ledger = Ledger::default();
        ledger.note(1, 0, &[0, 1, 2]);
        ledger.note(1, 0, &[2, 3]); // 2 again in generation 1: a duplicate
        ledger.note(2, 0, &[3, 4]); // 3 again, but in generation 2: at-least-once, fine
        ledger.note(1, 1, &[0, 2]); // partition 1 misses 1 and 3..5
        let audit = ledger.audit(&[5, 5]);
        assert_eq!(
            audit,
            Audit {
                consumed: 9,
                duplicates: 1,
                gaps: 1 + 2
            }
        );
        assert_eq!(Ledger::default().audit(&[0, 0, 0]).gaps, 0);
        assert_eq!(Ledger::default().audit(&[2, 2, 3]).gaps, 7);
    }

    #[test]
    fn moved_counts_partitions_with_a_new_owner() {
        let before = assignment(&[("a", &[0, 1, 2]), ("b", &[3, 4, 5])]);
        let join = assignment(&[("a", &[0, 1]), ("b", &[3, 4]), ("c", &[2, 5])]);
        assert_eq!(moved(&before, &join), 2);
        let leave = assignment(&[("b", &[0, 1, 2, 3, 4, 5])]);
        assert_eq!(moved(&before, &leave), 3);
        assert_eq!(moved(&before, &before), 0);
    }

    #[test]
    fn covers_once_wants_every_partition_exactly_once() {
        assert!(covers_once(&assignment(&[("a", &[0, 2]), ("b", &[1])]), 3));
        assert!(!covers_once(&assignment(&[("a", &[0, 1]), ("b", &[1])]), 3));
        assert!(!covers_once(&assignment(&[("a", &[0, 1])]), 3));
        assert!(!covers_once(&assignment(&[("a", &[0, 1, 2, 3])]), 3));
    }
}
