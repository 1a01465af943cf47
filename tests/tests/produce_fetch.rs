//! Several producers write to several partitions of a real `silt dev` process over HTTP at
//! once; a full read-back must hold every invariant (checked by the checker). Run on the
//! local filesystem store and on the S3-compatible server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};

use silt_sdk::wire::TopicConfig;
use silt_sdk::{Admin, Client};
use silt_tests::checker::History;
use silt_tests::harness::{Silt, SiltOptions, s3_env};
use silt_tests::workload::{ProduceJob, produce_requests, read_back_and_check};

async fn suite(object_store: Option<String>, compression: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(
        dir.path(),
        SiltOptions {
            object_store,
            env: vec![("SILT_WAL_LINGER".into(), "5ms".into())],
        },
    );
    let client = Client::new(&silt.url).unwrap();
    let partitions = 4;
    Admin::new(client.clone())
        .create_topic(
            "suite",
            partitions,
            TopicConfig {
                compression: compression.map(str::to_owned),
                ..TopicConfig::default()
            },
        )
        .await
        .unwrap();
    let history = Arc::new(Mutex::new(History::default()));
    let mut producers = Vec::new();
    for p in 0..4 {
        let job = ProduceJob {
            topic: "suite".into(),
            producer: format!("p{p}"),
            partitions,
            requests: 20,
            per_request: 15,
            big_every: (p == 0).then_some(101),
            stop_on_error: false,
        };
        producers.push(tokio::spawn(produce_requests(
            client.clone(),
            job,
            history.clone(),
        )));
    }
    let mut acknowledged = 0;
    for producer in producers {
        acknowledged += producer.await.unwrap();
    }
    assert_eq!(acknowledged, 4 * 20 * 15);
    let report = read_back_and_check(&client, "suite", &history).await;
    assert!(report.ok(), "{report}");
    assert_eq!(report.read, 1200, "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_local_filesystem() {
    suite(None, None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_local_filesystem_zstd() {
    suite(None, Some("zstd")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_producers_s3() {
    let s3 = s3_env();
    suite(Some(s3.url_for("produce-fetch")), Some("zstd")).await;
}
