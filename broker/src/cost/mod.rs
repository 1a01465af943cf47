//! Cost per topic on `/metrics`: object-store requests and bytes billed per topic, stored
//! bytes and objects per topic, and the garbage-collection backlog.
//!
//! Requests are billed by `silt-bookie` (`store::cost`: a request on a segment is shared
//! among its topics by their chunks' bytes, so the counters are fractional) on this
//! broker; the stored figures and the GC backlog come from the metadata state, read by
//! [`refresh`] every `metrics.cost_refresh_interval`, so every broker shows the same ones.
//! A topic's series appear once a refresh has named it and go when it is deleted; at most
//! [`MAX_COST_TOPICS`] topics have series (the first by name), the rest are left out with
//! a warning. Requests no topic can be named for (LISTs, failed reads of unknown objects)
//! are series of `topic="_cluster"`.

pub(crate) mod refresh;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Mutex, PoisonError};

use silt_bookie::store::cost::{CostKey, CostOp, Tally};
use silt_metadata::types::TopicStorage;

/// At most this many topics have cost series.
pub(crate) const MAX_COST_TOPICS: usize = 1000;

/// The `topic` label of requests billed to no topic.
pub(crate) const CLUSTER_LABEL: &str = "_cluster";

/// What the last refresh read from the metadata state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Figures {
    /// Topics with series, by id.
    pub(crate) topics: BTreeMap<u64, TopicStorage>,
    /// Objects waiting for the garbage collector.
    pub(crate) gc_backlog_objects: u64,
    /// Their bytes, where known.
    pub(crate) gc_backlog_bytes: u64,
}

/// The last [`Figures`], shared by the refresh task and `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct CostFigures {
    figures: Mutex<Figures>,
}

impl CostFigures {
    /// Replaces the figures.
    pub(crate) fn set(&self, figures: Figures) {
        *self.figures.lock().unwrap_or_else(PoisonError::into_inner) = figures;
    }

    /// A copy of the figures.
    pub(crate) fn get(&self) -> Figures {
        self.figures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The billed operations, in exposition order, and whether they carry bytes.
const OPS: [(CostOp, bool); 4] = [
    (CostOp::Put, true),
    (CostOp::Get, true),
    (CostOp::Delete, false),
    (CostOp::List, false),
];

/// Appends every cost series: `tallies` of topics `figures` names and of the cluster
/// (whose series are always there, 0 until billed), the stored figures and the GC backlog.
pub(crate) fn render(out: &mut String, figures: &Figures, tallies: &[(CostKey, CostOp, Tally)]) {
    let named: Vec<(&str, CostOp, Tally)> = with_cluster(tallies)
        .iter()
        .filter_map(|(key, op, tally)| Some((label(figures, *key)?, *op, *tally)))
        .collect();
    let requests = samples(&named, |_| true, |t| t.requests);
    let bytes = samples(&named, |op| OPS.contains(&(op, true)), |t| t.bytes);
    let requests_help = "Object-store requests billed to a topic by its share of each object (fractional), by operation";
    family(
        out,
        "silt_topic_object_store_requests_total",
        "counter",
        requests_help,
        &requests,
    );
    let bytes_help =
        "Object-store payload bytes billed to a topic by its share of each object, by operation";
    family(
        out,
        "silt_topic_object_store_bytes_total",
        "counter",
        bytes_help,
        &bytes,
    );
    render_stored(out, figures);
}

/// The stored-bytes and stored-objects gauges and the GC backlog.
fn render_stored(out: &mut String, figures: &Figures) {
    let per_topic = |value: fn(&TopicStorage) -> u64| -> Vec<(String, f64)> {
        let topics = figures.topics.values();
        #[allow(clippy::cast_precision_loss)] // sizes far below 2^53
        let sample = |t: &TopicStorage| (format!("topic=\"{}\"", t.name), value(t) as f64);
        topics.map(sample).collect()
    };
    let bytes_help =
        "Bytes of a topic's chunks in the bucket (its index entries; segment footers not included)";
    family(
        out,
        "silt_topic_stored_bytes",
        "gauge",
        bytes_help,
        &per_topic(|t| t.bytes),
    );
    let objects_help = "Segment objects holding at least one of a topic's chunks (a shared object counts for each of its topics)";
    family(
        out,
        "silt_topic_stored_objects",
        "gauge",
        objects_help,
        &per_topic(|t| t.objects),
    );
    #[allow(clippy::cast_precision_loss)]
    let gc = |value: u64| vec![(String::new(), value as f64)];
    let objects_help = "Objects waiting for the garbage collector (uploaded, never committed)";
    family(
        out,
        "silt_gc_backlog_objects",
        "gauge",
        objects_help,
        &gc(figures.gc_backlog_objects),
    );
    let bytes_help = "Bytes of the objects waiting for the garbage collector, where known";
    family(
        out,
        "silt_gc_backlog_bytes",
        "gauge",
        bytes_help,
        &gc(figures.gc_backlog_bytes),
    );
}

/// `tallies` and a zero tally of the cluster for each operation it has none of.
fn with_cluster(tallies: &[(CostKey, CostOp, Tally)]) -> Vec<(CostKey, CostOp, Tally)> {
    let mut all = tallies.to_vec();
    for (op, _) in OPS {
        if !all
            .iter()
            .any(|(key, o, _)| *key == CostKey::Cluster && *o == op)
        {
            all.push((CostKey::Cluster, op, Tally::default()));
        }
    }
    all
}

/// The `topic` label of `key`: its name if the figures name it, `_cluster` for the cluster.
fn label(figures: &Figures, key: CostKey) -> Option<&str> {
    match key {
        CostKey::Topic(id) => figures.topics.get(&id).map(|t| t.name.as_str()),
        CostKey::Cluster => Some(CLUSTER_LABEL),
    }
}

/// `(labels, value)` of the named tallies whose operation `keep` accepts.
fn samples(
    named: &[(&str, CostOp, Tally)],
    keep: impl Fn(CostOp) -> bool,
    value: impl Fn(&Tally) -> f64,
) -> Vec<(String, f64)> {
    let kept = named.iter().filter(|(_, op, _)| keep(*op));
    let sample = |(topic, op, tally): &(&str, CostOp, Tally)| {
        (
            format!("topic=\"{topic}\",op=\"{}\"", op.label()),
            value(tally),
        )
    };
    kept.map(sample).collect()
}

/// Appends one metric family of float samples.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
    let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    for (labels, value) in samples {
        let _ = if labels.is_empty() {
            writeln!(out, "{name} {value}")
        } else {
            writeln!(out, "{name}{{{labels}}} {value}")
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One topic's stored figures.
    fn storage(name: &str, id: u64, bytes: u64, objects: u64) -> TopicStorage {
        TopicStorage {
            name: name.to_owned(),
            id,
            bytes,
            objects,
        }
    }

    #[test]
    fn only_named_topics_and_the_cluster_have_series() {
        let mut figures = Figures::default();
        figures.topics.insert(1, storage("a", 1, 300, 2));
        figures.gc_backlog_objects = 4;
        let put = Tally {
            requests: 0.75,
            bytes: 750.5,
        };
        let list = Tally {
            requests: 2.0,
            bytes: 0.0,
        };
        let tallies = [
            (CostKey::Topic(1), CostOp::Put, put),
            // Deleted, or not refreshed yet: left out.
            (CostKey::Topic(2), CostOp::Put, put),
            (CostKey::Cluster, CostOp::List, list),
        ];
        let mut out = String::new();
        render(&mut out, &figures, &tallies);
        let lines: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(
            lines,
            [
                "silt_topic_object_store_requests_total{topic=\"a\",op=\"put\"} 0.75",
                "silt_topic_object_store_requests_total{topic=\"_cluster\",op=\"list\"} 2",
                "silt_topic_object_store_requests_total{topic=\"_cluster\",op=\"put\"} 0",
                "silt_topic_object_store_requests_total{topic=\"_cluster\",op=\"get\"} 0",
                "silt_topic_object_store_requests_total{topic=\"_cluster\",op=\"delete\"} 0",
                "silt_topic_object_store_bytes_total{topic=\"a\",op=\"put\"} 750.5",
                "silt_topic_object_store_bytes_total{topic=\"_cluster\",op=\"put\"} 0",
                "silt_topic_object_store_bytes_total{topic=\"_cluster\",op=\"get\"} 0",
                "silt_topic_stored_bytes{topic=\"a\"} 300",
                "silt_topic_stored_objects{topic=\"a\"} 2",
                "silt_gc_backlog_objects 4",
                "silt_gc_backlog_bytes 0",
            ]
        );
    }
}
