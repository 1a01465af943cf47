//! `GET /v1/topics` pages by topic name (`limit`, `after`, `next_after`), refuses bad page
//! parameters with 400 `invalid_parameter`, and the cluster-wide quotas on topics,
//! partitions and producer ids refuse with 409 `quota_exceeded` and create nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use silt_sdk::{Admin, Client};
use silt_tests::harness::{Silt, SiltOptions, http_client};

/// Sends `method path` with an optional JSON body; answers status and body.
async fn call(
    http: &reqwest::Client,
    silt: &Silt,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http.request(method, format!("{}{}", silt.url, path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Creates topic `name` with `partitions`; answers status and body.
async fn create(http: &reqwest::Client, silt: &Silt, name: &str, partitions: u32) -> (u16, Value) {
    let body = json!({"name": name, "partitions": partitions});
    call(http, silt, "POST", "/v1/topics", Some(body)).await
}

/// The names of the topics the broker lists, following every page of `limit`.
async fn page_through(http: &reqwest::Client, silt: &Silt, limit: u32) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = format!("/v1/topics?limit={limit}");
        if let Some(after) = &after {
            path.push_str(&format!("&after={after}"));
        }
        let (status, body) = call(http, silt, "GET", &path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        let names = body["topics"].as_array().unwrap().iter();
        pages.push(
            names
                .map(|t| t["name"].as_str().unwrap().to_owned())
                .collect(),
        );
        match body["next_after"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => {
                assert!(body["next_after"].is_null(), "{body}");
                return pages;
            }
        }
        assert!(pages.len() < 100, "paging does not end");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_are_listed_in_pages_each_once_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let http = http_client();
    let mut names: Vec<String> = (0..250).map(|i| format!("t{:03}", (i * 7) % 250)).collect();
    for name in &names {
        assert_eq!(create(&http, &silt, name, 1).await.0, 201, "{name}");
    }
    names.sort();
    let pages = page_through(&http, &silt, 100).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [100, 100, 50]);
    assert_eq!(pages.concat(), names, "each topic once, in name order");

    // Without parameters: the first 100 by name (old clients keep the `topics` field).
    let (status, first) = call(&http, &silt, "GET", "/v1/topics", None).await;
    assert_eq!(status, 200);
    assert_eq!(first["topics"].as_array().unwrap().len(), 100);
    assert_eq!(first["next_after"], json!(names[99]));

    // The SDK (and with it `silt topic list`) follows the pages.
    let admin = Admin::new(Client::new(silt.url.clone()).unwrap());
    let listed: Vec<String> = admin
        .list_topics()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(listed, names);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_holds_at_most_ten_thousand_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let http = http_client();
    for name in ["a", "b", "c", "d"] {
        assert_eq!(create(&http, &silt, name, 1024).await.0, 201);
    }
    for name in ["e", "f", "g", "h", "i", "j", "k"] {
        assert_eq!(create(&http, &silt, name, 1000).await.0, 201);
    }
    // 4 × 1024 + 5 × 1000 = 9096 partitions fit; the 10th topic would pass 10 000.
    let pages = page_through(&http, &silt, 1000).await;
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(sizes, [9, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_page_parameters_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    let http = http_client();
    assert_eq!(create(&http, &silt, "t", 1).await.0, 201);
    for (query, named) in [
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("after=a%20b", "after"),
        ("after=", "after"),
        ("after=..", "after"),
        ("page=2", "page"),
    ] {
        let (status, body) = call(&http, &silt, "GET", &format!("/v1/topics?{query}"), None).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(
            body["error"]["code"], "invalid_parameter",
            "{query}: {body}"
        );
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(named), "{query}: {message}");
    }
    // An `after` past every name is an empty last page, not an error.
    let (status, body) = call(&http, &silt, "GET", "/v1/topics?after=zzz", None).await;
    assert_eq!(
        (status, body),
        (200, json!({"topics": [], "next_after": null}))
    );
}

/// Asserts a 409 `quota_exceeded` whose message names `setting` and `limit`.
fn assert_quota(answer: &(u16, Value), setting: &str, limit: u64) {
    let (status, body) = answer;
    assert_eq!(*status, 409, "{body}");
    assert_eq!(body["error"]["code"], "quota_exceeded", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(setting), "{message}");
    assert!(message.contains(&format!("= {limit}")), "{message}");
}

/// The topic names the broker lists.
async fn topic_names(http: &reqwest::Client, silt: &Silt) -> Vec<String> {
    page_through(http, silt, 1000).await.concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_refuse_topics_partitions_and_producer_ids_past_them() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("SILT_SERVER_MAX_TOPICS", "3"),
        ("SILT_SERVER_MAX_TOTAL_PARTITIONS", "10"),
        ("SILT_SERVER_MAX_PRODUCER_IDS", "2"),
    ];
    let options = SiltOptions {
        env: env.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec(),
        ..SiltOptions::default()
    };
    let silt = Silt::start(dir.path(), options);
    let http = http_client();
    for name in ["a", "b", "c"] {
        assert_eq!(create(&http, &silt, name, 2).await.0, 201);
    }
    assert_quota(&create(&http, &silt, "d", 1).await, "server.max_topics", 3);
    assert_eq!(topic_names(&http, &silt).await, ["a", "b", "c"]);

    // 4 partitions left after a delete: 7 more would be 11 > 10.
    let (status, _) = call(&http, &silt, "DELETE", "/v1/topics/c", None).await;
    assert_eq!(status, 204);
    let partitions = "server.max_total_partitions";
    assert_quota(&create(&http, &silt, "d", 7).await, partitions, 10);
    assert_eq!(topic_names(&http, &silt).await, ["a", "b"]);
    assert_eq!(create(&http, &silt, "d", 6).await.0, 201);

    let init = |body: Option<Value>| call(&http, &silt, "POST", "/v1/producers", body);
    let first = init(None).await;
    assert_eq!(first.0, 200, "{}", first.1);
    assert_eq!(init(None).await.0, 200);
    assert_quota(&init(None).await, "server.max_producer_ids", 2);
    // Bumping an issued id's epoch issues no new id: still allowed.
    let id = first.1["producer_id"].clone();
    let bumped = init(Some(json!({"producer_id": id}))).await;
    assert_eq!((bumped.0, bumped.1["epoch"].clone()), (200, json!(1)));
}
