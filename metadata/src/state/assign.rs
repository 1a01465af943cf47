//! Partition assignors: pure functions from a group's members (with the topics each reads)
//! and the partition counts of those topics to each member's partitions. Deterministic, so
//! every replica computes the same assignment in `apply`.
//!
//! Invariants (checked by the property tests below): every partition of a subscribed topic
//! is assigned to exactly one member that reads the topic; nothing else is assigned.

use std::collections::{BTreeMap, BTreeSet};

use crate::types::TopicPartition;

/// Member id → the topics it reads.
pub(crate) type Subscriptions = BTreeMap<String, BTreeSet<String>>;

/// Member id → its partitions, every member present.
pub(crate) type Assignment = BTreeMap<String, Vec<TopicPartition>>;

/// Kafka's range assignor: per topic, the members reading it sorted by id each get a
/// contiguous range of its partitions, the first `count % members` one more than the rest.
pub(crate) fn range(members: &Subscriptions, partitions: &BTreeMap<String, u32>) -> Assignment {
    let mut assignment: Assignment = members.keys().map(|m| (m.clone(), Vec::new())).collect();
    for (topic, count) in partitions {
        let readers: Vec<&String> = members
            .iter()
            .filter(|(_, topics)| topics.contains(topic))
            .map(|(member, _)| member)
            .collect();
        for (member, span) in readers.iter().zip(ranges(*count, readers.len())) {
            let owned = assignment.entry((*member).clone()).or_default();
            owned.extend(span.map(|partition| TopicPartition {
                topic: topic.clone(),
                partition,
            }));
        }
    }
    assignment
}

/// `count` partitions split into `members` contiguous ranges, the first `count % members`
/// one longer.
fn ranges(count: u32, members: usize) -> Vec<std::ops::Range<u32>> {
    let Ok(members) = u32::try_from(members) else {
        return Vec::new();
    };
    if members == 0 {
        return Vec::new();
    }
    let (each, extra) = (count / members, count % members);
    let mut start = 0;
    (0..members)
        .map(|index| {
            let length = each + u32::from(index < extra);
            let span = start..start + length;
            start += length;
            span
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `n` members named m0.., each reading every topic in `topics`.
    pub(crate) fn members(n: usize, topics: &[&str]) -> Subscriptions {
        let topics: BTreeSet<String> = topics.iter().map(|t| (*t).to_owned()).collect();
        (0..n)
            .map(|i| (format!("m{i:02}"), topics.clone()))
            .collect()
    }

    /// Every assigned partition, counted.
    pub(crate) fn owners(assignment: &Assignment) -> BTreeMap<TopicPartition, usize> {
        let mut owners = BTreeMap::new();
        for partitions in assignment.values() {
            for tp in partitions {
                *owners.entry(tp.clone()).or_insert(0) += 1;
            }
        }
        owners
    }

    /// Each partition of `partitions` owned exactly once, by a member reading its topic.
    pub(crate) fn check_complete(
        members: &Subscriptions,
        partitions: &BTreeMap<String, u32>,
        assignment: &Assignment,
    ) {
        let owners = owners(assignment);
        let expected: u32 = partitions
            .iter()
            .filter(|(t, _)| members.values().any(|s| s.contains(*t)))
            .map(|(_, c)| c)
            .sum();
        assert_eq!(owners.len() as u32, expected, "{assignment:?}");
        assert!(owners.values().all(|n| *n == 1), "{assignment:?}");
        for (member, owned) in assignment {
            assert!(owned.iter().all(|tp| members[member].contains(&tp.topic)));
        }
    }

    #[test]
    fn three_members_split_twelve_partitions_in_contiguous_fours() {
        let partitions = BTreeMap::from([("t".to_owned(), 12)]);
        let assignment = range(&members(3, &["t"]), &partitions);
        let firsts: Vec<Vec<u32>> = assignment
            .values()
            .map(|owned| owned.iter().map(|tp| tp.partition).collect())
            .collect();
        assert_eq!(firsts[0], [0, 1, 2, 3]);
        assert_eq!(firsts[2], [8, 9, 10, 11]);
        let uneven = range(&members(3, &["t"]), &BTreeMap::from([("t".to_owned(), 7)]));
        let sizes: Vec<usize> = uneven.values().map(Vec::len).collect();
        assert_eq!(sizes, [3, 2, 2]);
    }

    proptest! {
        #[test]
        fn range_assigns_every_partition_once_and_balances_each_topic(
            n in 1usize..8, a in 0u32..40, b in 0u32..40,
        ) {
            let partitions = BTreeMap::from([("a".to_owned(), a), ("b".to_owned(), b)]);
            let members = members(n, &["a", "b"]);
            let assignment = range(&members, &partitions);
            check_complete(&members, &partitions, &assignment);
            for topic in ["a", "b"] {
                let sizes: Vec<usize> = assignment.values()
                    .map(|o| o.iter().filter(|tp| tp.topic == topic).count()).collect();
                let (min, max) = (sizes.iter().min(), sizes.iter().max());
                prop_assert!(max.unwrap_or(&0) - min.unwrap_or(&0) <= 1);
            }
        }
    }
}
