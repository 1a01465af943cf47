//! The exactly-once transform check: a pipeline read topic IN and wrote f(a) to the same
//! partition of topic OUT for each record a, with f(a) = `{"source_offset": a's offset,
//! "value": a's value}` (`sdk/examples/exactly_once_pipeline.rs`). After the run, every
//! partition of OUT must hold f(a) for every a of the same partition of IN, exactly once,
//! in IN's order: nothing missing (`missing`), nothing twice (`duplicate`), no other order
//! (`out_of_order`), no value other than a's (`wrong_value`), nothing made from a record IN
//! does not have (`never_read`).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

/// One partition's records, `(offset, value)`, in offset order.
pub type PartitionRecords = Vec<(u64, Value)>;

/// Checks OUT (`output`) against IN (`input`), both by partition; returns every violation,
/// each naming its partition and offsets (empty: exactly once, in order).
pub fn check_transform(
    input: &BTreeMap<u32, PartitionRecords>,
    output: &BTreeMap<u32, PartitionRecords>,
) -> Vec<String> {
    let none = PartitionRecords::new();
    let partitions: BTreeSet<u32> = input.keys().chain(output.keys()).copied().collect();
    partitions
        .into_iter()
        .flat_map(|p| {
            let read = input.get(&p).unwrap_or(&none);
            let written = output.get(&p).unwrap_or(&none);
            check_partition(p, read, written)
        })
        .collect()
}

/// The violations of one partition.
fn check_partition(
    partition: u32,
    input: &PartitionRecords,
    output: &PartitionRecords,
) -> Vec<String> {
    let sources: BTreeMap<u64, &Value> = input.iter().map(|(o, v)| (*o, v)).collect();
    let mut violations = Vec::new();
    let mut seen = BTreeSet::new();
    let mut previous: Option<u64> = None;
    for (offset, record) in output {
        let Some(source) = record["source_offset"].as_u64() else {
            violations.push(format!(
                "never_read: {partition}/{offset} names no source_offset: {record}"
            ));
            continue;
        };
        let at = format!("OUT {partition}/{offset} (from IN offset {source})");
        match sources.get(&source) {
            None => violations.push(format!("never_read: {at}: IN has no such record")),
            Some(value) if **value != record["value"] => {
                violations.push(format!(
                    "wrong_value: {at}: {} instead of {value}",
                    record["value"]
                ));
            }
            Some(_) => {}
        }
        if !seen.insert(source) {
            violations.push(format!("duplicate: {at}: written before"));
        }
        if previous.is_some_and(|p| source <= p) {
            violations.push(format!("out_of_order: {at} follows IN offset {previous:?}"));
        }
        previous = Some(source);
    }
    let missing: Vec<u64> = sources
        .keys()
        .filter(|o| !seen.contains(o))
        .copied()
        .collect();
    if !missing.is_empty() {
        violations.push(format!(
            "missing: IN {partition} offsets {missing:?} have no f(a) in OUT"
        ));
    }
    violations
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn out(sources: &[u64]) -> PartitionRecords {
        sources
            .iter()
            .enumerate()
            .map(|(i, s)| (i as u64, json!({"source_offset": s, "value": s * 10})))
            .collect()
    }

    #[test]
    fn exactly_once_in_order_passes_and_each_break_is_named() {
        let input = BTreeMap::from([(0, (0..3).map(|o| (o, json!(o * 10))).collect())]);
        let check = |sources: &[u64]| check_transform(&input, &BTreeMap::from([(0, out(sources))]));
        assert!(check(&[0, 1, 2]).is_empty());
        assert!(
            check(&[0, 1, 1, 2])[0].starts_with("duplicate"),
            "{:?}",
            check(&[0, 1, 1, 2])
        );
        assert!(check(&[0, 2, 1])[0].starts_with("out_of_order"));
        assert!(check(&[0, 1])[0].starts_with("missing"));
        assert!(check(&[0, 1, 2, 3])[0].starts_with("never_read"));
        let mut wrong = out(&[0, 1, 2]);
        wrong[1].1["value"] = json!("x");
        let wrong = check_transform(&input, &BTreeMap::from([(0, wrong)]));
        assert!(wrong[0].starts_with("wrong_value"), "{wrong:?}");
    }
}
