//! The hostile principal of the fault schedules (`silt_tests::faults::intruder`) against a
//! real cluster: with client authentication on, every attack of the security issue (no
//! token, a wrong token, the principal `intruder` with rights on its own topic only) is
//! refused, and the workload's topic and idempotent producer are unharmed; on brokers
//! without authentication the same attacks work and every one is reported, so the fault
//! runs would fail on them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, Producer, ProducerConfig};
use silt_tests::faults::intruder::{INTRUDER, INTRUDER_RULES, Intruders, ProducerIds};
use silt_tests::harness::{Cluster, ClusterOptions};

const TOPIC: &str = "faults";

/// A one-broker-per-port cluster of 2 brokers, with or without client authentication.
async fn cluster(name: &'static str, auth: bool) -> Cluster {
    let options = ClusterOptions {
        brokers: 2,
        auth,
        ..ClusterOptions::default()
    };
    tokio::task::spawn_blocking(move || Cluster::up_with(name, options))
        .await
        .expect("cluster task")
        .expect("cluster up")
}

fn record(i: u64) -> ProduceRecord {
    ProduceRecord {
        value: Some(json!({ "i": i })),
        ..ProduceRecord::default()
    }
}

/// The workload: topic `faults` and an idempotent producer that has sent one record; its
/// id is in the returned set.
async fn workload(cluster: &Cluster) -> (Client, Producer, ProducerIds) {
    let client = Client::with_config(cluster.client_config(cluster.broker_url(1))).unwrap();
    Admin::new(client.clone())
        .create_topic(TOPIC, 3, TopicConfig::default())
        .await
        .unwrap();
    let config = ProducerConfig {
        idempotent: true,
        ..ProducerConfig::default()
    };
    let producer = Producer::new(client.clone(), TOPIC, config);
    producer.send(record(0)).await.unwrap().await.unwrap();
    let ids = ProducerIds::default();
    ids.lock()
        .unwrap()
        .insert(producer.producer_id().expect("an id"));
    (client, producer, ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_attack_is_refused_and_the_workload_is_unharmed() {
    let cluster = cluster("intruder", true).await;
    let (client, producer, ids) = workload(&cluster).await;
    let token = cluster
        .add_principal(INTRUDER, &INTRUDER_RULES)
        .await
        .unwrap();
    let intruders = Intruders::new(cluster.broker_urls(), TOPIC, Some(token), ids);
    for broker in 0..2 {
        let tally = intruders.round(broker).await;
        assert!(tally.violations.is_empty(), "{:#?}", tally.violations);
        assert_eq!(tally.unanswered, 0, "{tally:?}");
        assert!(tally.refused >= 30, "{tally:?}");
    }
    // Not fenced: the producer's next record is acknowledged under the same id.
    let id = producer.producer_id();
    producer.send(record(1)).await.unwrap().await.unwrap();
    assert_eq!(producer.producer_id(), id);
    let topic = Admin::new(client).describe_topic(TOPIC).await.unwrap();
    assert_eq!(topic.partitions.len(), 3, "{topic:?}");
    let written: u64 = topic.partitions.iter().map(|p| p.high_watermark).sum();
    assert_eq!(written, 2, "only the workload's two records: {topic:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_open_brokers_the_attacks_work_and_each_is_reported() {
    let cluster = cluster("intruder-open", false).await;
    let (_client, _producer, ids) = workload(&cluster).await;
    let intruders = Intruders::new(cluster.broker_urls(), TOPIC, None, ids);
    let tally = tokio::time::timeout(Duration::from_secs(60), intruders.round(0))
        .await
        .unwrap();
    let violations = tally.violations.join("\n");
    for what in [
        "produce to the workload's topic",
        "delete the workload's topic",
        "bump the epoch of the workload's producer",
        "list topics",
    ] {
        assert!(
            violations.contains(what),
            "{what} not reported:\n{violations}"
        );
    }
}
