//! Long-poll: a fetch at the high watermark returns as soon as a record commits, and
//! returns empty once `wait_ms` passes otherwise.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use silt_sdk::wire::{ProduceRecord, TopicConfig};
use silt_sdk::{Admin, Client, Consumer, ConsumerConfig, Producer, ProducerConfig};
use silt_tests::harness::{Silt, SiltOptions};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_at_high_watermark_wakes_on_commit_and_times_out_empty() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let client = Client::new(&silt.url).unwrap();
    Admin::new(client.clone())
        .create_topic("polled", 1, TopicConfig::default())
        .await
        .unwrap();
    let consumer = Consumer::new(client.clone(), "polled", 0, 0, ConsumerConfig::default());

    // A long-poll with a 30 s budget is woken by a commit made while it waits.
    let waiting = tokio::spawn({
        let consumer = consumer.clone();
        async move { consumer.fetch(0, Duration::from_secs(30)).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the long-poll returned before any record existed"
    );
    let producer = Producer::new(client.clone(), "polled", ProducerConfig::default());
    let ack = producer
        .send(ProduceRecord {
            value: Some(json!({"hello": "world"})),
            ..ProduceRecord::default()
        })
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.offset, 0);
    let response = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the long-poll was not woken by the commit")
        .unwrap()
        .unwrap();
    assert_eq!(response.records.len(), 1);
    assert_eq!(response.records[0].value, Some(json!({"hello": "world"})));
    assert_eq!(response.next_offset, 1);
    assert_eq!(response.high_watermark, 1);

    // With nothing new, the fetch answers empty once its wait passes.
    let idle = consumer.fetch(1, Duration::from_millis(200)).await.unwrap();
    assert!(idle.records.is_empty());
    assert_eq!(idle.next_offset, 1);
    assert_eq!(idle.high_watermark, 1);
}
