//! The bad-input matrix: every malformed request gets its status and stable error code,
//! and nothing is written (checked afterwards: offsets and topics unchanged, no segment
//! uploaded).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use silt_tests::harness::{Silt, SiltOptions, get_json, http_client};

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<Vec<u8>>,
    status: u16,
    code: &'static str,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &str,
    body: Option<Value>,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        body: body.map(|b| serde_json::to_vec(&b).unwrap()),
        status,
        code,
    }
}

fn raw(
    name: &'static str,
    method: &'static str,
    path: &str,
    body: &[u8],
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        body: Some(body.to_vec()),
        status,
        code,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let silt = Silt::start(dir.path(), SiltOptions::default());
    // A fresh connection per case: after an oversized body a server may close the
    // connection once it has answered 413, and this test checks answers, not keep-alive.
    let _ = http_client();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let url = |path: &str| format!("{}{}", silt.url, path);
    let created = http
        .post(url("/v1/topics"))
        .json(&json!({"name": "t", "partitions": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    let records = "/v1/topics/t/records";
    let fetch = "/v1/topics/t/partitions/0/records";
    let over_record = BASE64.encode(vec![7u8; (1 << 20) + 1]);
    let big_body = format!(r#"{{"records":[{{"value":"{}"}}]}}"#, "x".repeat(17 << 20));
    let too_many: Vec<Value> = (0..10_001).map(|_| json!({"value": 1})).collect();
    let cases = vec![
        raw(
            "malformed json",
            "POST",
            "/v1/topics",
            b"{",
            400,
            "invalid_request",
        ),
        raw(
            "empty body",
            "POST",
            "/v1/topics",
            b"",
            400,
            "invalid_request",
        ),
        case(
            "wrong type",
            "POST",
            "/v1/topics",
            Some(json!({"name": 5})),
            400,
            "invalid_request",
        ),
        case(
            "unknown field",
            "POST",
            "/v1/topics",
            Some(json!({"name": "x", "bogus": 1})),
            400,
            "invalid_request",
        ),
        case(
            "unknown config key",
            "POST",
            "/v1/topics",
            Some(json!({"name": "x", "config": {"retention": "1d"}})),
            400,
            "invalid_request",
        ),
        case(
            "bad config value",
            "POST",
            "/v1/topics",
            Some(json!({"name": "x", "config": {"compression": "lz5"}})),
            400,
            "invalid_config",
        ),
        case(
            "invalid name",
            "POST",
            "/v1/topics",
            Some(json!({"name": "a b"})),
            400,
            "invalid_topic_name",
        ),
        case(
            "name too long",
            "POST",
            "/v1/topics",
            Some(json!({"name": "x".repeat(250)})),
            400,
            "invalid_topic_name",
        ),
        case(
            "zero partitions",
            "POST",
            "/v1/topics",
            Some(json!({"name": "x", "partitions": 0})),
            400,
            "invalid_partition_count",
        ),
        case(
            "too many partitions",
            "POST",
            "/v1/topics",
            Some(json!({"name": "x", "partitions": 100_000})),
            400,
            "invalid_partition_count",
        ),
        case(
            "negative partitions",
            "POST",
            "/v1/topics",
            Some(json!({"name": "x", "partitions": -1})),
            400,
            "invalid_request",
        ),
        case(
            "topic exists",
            "POST",
            "/v1/topics",
            Some(json!({"name": "t"})),
            409,
            "topic_already_exists",
        ),
        case(
            "describe unknown",
            "GET",
            "/v1/topics/nope",
            None,
            404,
            "topic_not_found",
        ),
        case(
            "describe invalid name",
            "GET",
            "/v1/topics/a%20b",
            None,
            400,
            "invalid_topic_name",
        ),
        case(
            "delete unknown",
            "DELETE",
            "/v1/topics/nope",
            None,
            404,
            "topic_not_found",
        ),
        case(
            "produce unknown topic",
            "POST",
            "/v1/topics/nope/records",
            Some(json!({"records": [{"value": 1}]})),
            404,
            "topic_not_found",
        ),
        raw(
            "produce malformed",
            "POST",
            records,
            b"{\"records\": [",
            400,
            "invalid_request",
        ),
        case(
            "produce records not a list",
            "POST",
            records,
            Some(json!({"records": "x"})),
            400,
            "invalid_request",
        ),
        case(
            "produce no records",
            "POST",
            records,
            Some(json!({"records": []})),
            400,
            "invalid_request",
        ),
        case(
            "produce no value",
            "POST",
            records,
            Some(json!({"records": [{"key": 1}]})),
            400,
            "invalid_record",
        ),
        case(
            "produce value twice",
            "POST",
            records,
            Some(json!({"records": [{"value": 1, "value_b64": "AA=="}]})),
            400,
            "invalid_record",
        ),
        case(
            "produce key twice",
            "POST",
            records,
            Some(json!({"records": [{"value": 1, "key": 1, "key_b64": "AA=="}]})),
            400,
            "invalid_record",
        ),
        case(
            "invalid base64",
            "POST",
            records,
            Some(json!({"records": [{"value_b64": "!!!"}]})),
            400,
            "invalid_record",
        ),
        case(
            "unknown record field",
            "POST",
            records,
            Some(json!({"records": [{"value": 1, "extra": 1}]})),
            400,
            "invalid_request",
        ),
        case(
            "headers not strings",
            "POST",
            records,
            Some(json!({"records": [{"value": 1, "headers": {"a": 1}}]})),
            400,
            "invalid_request",
        ),
        case(
            "negative timestamp",
            "POST",
            records,
            Some(json!({"records": [{"value": 1, "timestamp_ms": -5}]})),
            400,
            "invalid_record",
        ),
        case(
            "bad partition",
            "POST",
            records,
            Some(json!({"records": [{"value": 1, "partition": 2}]})),
            404,
            "partition_not_found",
        ),
        case(
            "one bad record fails all",
            "POST",
            records,
            Some(json!({"records": [{"value": "fine"}, {"value_b64": "%%"}]})),
            400,
            "invalid_record",
        ),
        case(
            "unknown producer id",
            "POST",
            records,
            Some(
                json!({"records": [{"value": 1}], "producer": {"id": 77, "epoch": 0, "sequence": 0}}),
            ),
            404,
            "producer_not_found",
        ),
        case(
            "producer id zero",
            "POST",
            records,
            Some(
                json!({"records": [{"value": 1}], "producer": {"id": 0, "epoch": 0, "sequence": 0}}),
            ),
            400,
            "invalid_request",
        ),
        case(
            "producer tag missing its sequence",
            "POST",
            records,
            Some(json!({"records": [{"value": 1}], "producer": {"id": 1, "epoch": 0}})),
            400,
            "invalid_request",
        ),
        case(
            "bump the epoch of an unknown producer",
            "POST",
            "/v1/producers",
            Some(json!({"producer_id": 99})),
            404,
            "producer_not_found",
        ),
        case(
            "producer request with an unknown field",
            "POST",
            "/v1/producers",
            Some(json!({"id": 1})),
            400,
            "invalid_request",
        ),
        case(
            "fault injection is off by default",
            "PUT",
            "/v1/admin/faults",
            Some(json!({"error_rate": 1.0})),
            404,
            "not_found",
        ),
        case(
            "record too large",
            "POST",
            records,
            Some(json!({"records": [{"value_b64": over_record}]})),
            413,
            "record_too_large",
        ),
        raw(
            "request too large",
            "POST",
            records,
            big_body.as_bytes(),
            413,
            "payload_too_large",
        ),
        case(
            "too many records",
            "POST",
            records,
            Some(json!({"records": too_many})),
            413,
            "too_many_records",
        ),
        case(
            "negative offset",
            "GET",
            &format!("{fetch}?offset=-1"),
            None,
            400,
            "invalid_parameter",
        ),
        case(
            "huge offset",
            "GET",
            &format!("{fetch}?offset=99999999999999999999999"),
            None,
            400,
            "invalid_parameter",
        ),
        case(
            "offset past end",
            "GET",
            &format!("{fetch}?offset=5"),
            None,
            416,
            "offset_out_of_range",
        ),
        case(
            "max_bytes zero",
            "GET",
            &format!("{fetch}?max_bytes=0"),
            None,
            400,
            "invalid_parameter",
        ),
        case(
            "max_records zero",
            "GET",
            &format!("{fetch}?max_records=0"),
            None,
            400,
            "invalid_parameter",
        ),
        case(
            "wait too long",
            "GET",
            &format!("{fetch}?wait_ms=99999999"),
            None,
            400,
            "invalid_parameter",
        ),
        case(
            "unknown parameter",
            "GET",
            &format!("{fetch}?ofset=1"),
            None,
            400,
            "invalid_parameter",
        ),
        case(
            "partition not a number",
            "GET",
            "/v1/topics/t/partitions/x/records",
            None,
            400,
            "invalid_parameter",
        ),
        case(
            "partition out of range",
            "GET",
            "/v1/topics/t/partitions/7/records",
            None,
            404,
            "partition_not_found",
        ),
        case(
            "fetch unknown topic",
            "GET",
            "/v1/topics/nope/partitions/0/records",
            None,
            404,
            "topic_not_found",
        ),
        case(
            "no such route",
            "GET",
            "/v2/anything",
            None,
            404,
            "not_found",
        ),
        case(
            "wrong method",
            "PUT",
            "/v1/topics",
            None,
            405,
            "method_not_allowed",
        ),
    ];
    let mut failures = Vec::new();
    for case in &cases {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut request = http.request(method, url(&case.path));
        if let Some(body) = &case.body {
            request = request
                .header("content-type", "application/json")
                .body(body.clone());
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("{}: request failed: {e:?}", case.name));
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let code = body["error"]["code"].as_str().unwrap_or("<none>");
        let message = body["error"]["message"].as_str().unwrap_or("");
        if status != case.status || code != case.code || message.is_empty() {
            failures.push(format!(
                "{}: expected {} {}, got {} {} ({})",
                case.name, case.status, case.code, status, code, body
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Nothing changed: one topic, empty partitions, no segment uploaded.
    let topics: Value = get_json(&http, &url("/v1/topics")).await;
    let names: Vec<&str> = topics["topics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["t"]);
    for partition in topics["topics"][0]["partitions"].as_array().unwrap() {
        assert_eq!(partition["high_watermark"], 0, "{partition}");
    }
    let metrics = http
        .get(url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l == "silt_segments_uploaded_total 0"),
        "a segment was uploaded by bad input:\n{metrics}"
    );
}
