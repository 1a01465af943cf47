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

/// The sticky assignor: every member keeps the partitions it owned in `previous` that are
/// still valid (the topic exists, has the partition, and the member reads it), except the
/// excess of a member above its share; only the partitions of departed members, the new
/// ones and that excess move, each to the eligible member with the fewest partitions (ties
/// by id). With the same topics for every member, loads differ by at most one.
pub(crate) fn sticky(
    members: &Subscriptions,
    partitions: &BTreeMap<String, u32>,
    previous: &Assignment,
) -> Assignment {
    let all = every_partition(members, partitions);
    let mut assignment = kept(members, &all, previous);
    trim_to_share(&mut assignment, all.len());
    let owned: BTreeSet<&TopicPartition> = assignment.values().flatten().collect();
    let free: Vec<TopicPartition> = all
        .iter()
        .filter(|tp| !owned.contains(tp))
        .cloned()
        .collect();
    for tp in free {
        give_to_least_loaded(&mut assignment, members, tp);
    }
    assignment
}

/// Every partition of the topics some member reads.
fn every_partition(
    members: &Subscriptions,
    partitions: &BTreeMap<String, u32>,
) -> BTreeSet<TopicPartition> {
    partitions
        .iter()
        .filter(|(topic, _)| members.values().any(|read| read.contains(*topic)))
        .flat_map(|(topic, count)| {
            (0..*count).map(|partition| TopicPartition {
                topic: topic.clone(),
                partition,
            })
        })
        .collect()
}

/// What each member may keep of `previous`: partitions in `all` of topics it reads, each
/// kept by one member only.
fn kept(
    members: &Subscriptions,
    all: &BTreeSet<TopicPartition>,
    previous: &Assignment,
) -> Assignment {
    let mut taken = BTreeSet::new();
    let mut assignment = Assignment::new();
    for (member, read) in members {
        let owned = previous.get(member).map(Vec::as_slice).unwrap_or_default();
        let keep = owned
            .iter()
            .filter(|tp| read.contains(&tp.topic) && all.contains(*tp) && taken.insert(*tp))
            .cloned()
            .collect();
        assignment.insert(member.clone(), keep);
    }
    assignment
}

/// Cuts every member down to its share of `total` partitions: at most `ceil`, and only
/// `total % members` of them may keep `ceil` (the first by id), the rest `floor`.
fn trim_to_share(assignment: &mut Assignment, total: usize) {
    let members = assignment.len().max(1);
    let (floor, mut extra) = (total / members, total % members);
    for owned in assignment.values_mut() {
        let share = if owned.len() > floor && extra > 0 {
            extra -= 1;
            floor + 1
        } else {
            floor
        };
        owned.truncate(share);
    }
}

/// Gives `tp` to the member reading its topic that owns the fewest partitions (ties by id).
fn give_to_least_loaded(assignment: &mut Assignment, members: &Subscriptions, tp: TopicPartition) {
    let least = assignment
        .iter()
        .filter(|(member, _)| {
            members
                .get(*member)
                .is_some_and(|read| read.contains(&tp.topic))
        })
        .min_by_key(|(member, owned)| (owned.len(), (*member).clone()))
        .map(|(member, _)| member.clone());
    if let Some(member) = least
        && let Some(owned) = assignment.get_mut(&member)
    {
        owned.push(tp);
        owned.sort();
    }
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

    /// Each member's load.
    fn loads(assignment: &Assignment) -> Vec<usize> {
        assignment.values().map(Vec::len).collect()
    }

    /// Whether loads differ by at most one.
    fn balanced(assignment: &Assignment) -> bool {
        let loads = loads(assignment);
        let (min, max) = (loads.iter().min(), loads.iter().max());
        max.unwrap_or(&0) - min.unwrap_or(&0) <= 1
    }

    proptest! {
        #[test]
        fn sticky_moves_only_a_departed_members_partitions_and_stays_balanced(
            n in 2usize..8, a in 0u32..40, b in 0u32..40, leaving in 0usize..8,
        ) {
            let partitions = BTreeMap::from([("a".to_owned(), a), ("b".to_owned(), b)]);
            let before_members = members(n, &["a", "b"]);
            let before = sticky(&before_members, &partitions, &Assignment::new());
            check_complete(&before_members, &partitions, &before);
            prop_assert!(balanced(&before));
            let mut after_members = before_members.clone();
            let gone = format!("m{:02}", leaving % n);
            after_members.remove(&gone);
            let after = sticky(&after_members, &partitions, &before);
            check_complete(&after_members, &partitions, &after);
            prop_assert!(balanced(&after));
            for (member, owned) in &after {
                prop_assert!(before[member].iter().all(|tp| owned.contains(tp)));
            }
        }

        #[test]
        fn sticky_gives_a_newcomer_only_the_excess_of_others(
            n in 1usize..8, a in 0u32..40, b in 0u32..40,
        ) {
            let partitions = BTreeMap::from([("a".to_owned(), a), ("b".to_owned(), b)]);
            let old_members = members(n, &["a", "b"]);
            let before = sticky(&old_members, &partitions, &Assignment::new());
            let mut new_members = old_members.clone();
            new_members.insert("zz".to_owned(), new_members["m00"].clone());
            let after = sticky(&new_members, &partitions, &before);
            check_complete(&new_members, &partitions, &after);
            prop_assert!(balanced(&after));
            let moved: usize = before.iter()
                .map(|(m, old)| old.iter().filter(|tp| !after[m].contains(tp)).count())
                .sum();
            prop_assert_eq!(moved, after["zz"].len());
            for (member, owned) in &after {
                if let Some(old) = before.get(member) {
                    prop_assert!(owned.iter().all(|tp| old.contains(tp)));
                }
            }
        }

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
