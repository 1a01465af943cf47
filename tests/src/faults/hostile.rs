//! A hostile client that runs beside the workload of every fault schedule: it sends poison
//! pills and malformed bodies to every broker in turn, throughout the faults. None may ever
//! be acknowledged (a 2xx answer is a violation); it presents the cluster's `admin` token
//! (when the brokers authenticate) so that its bodies reach validation instead of stopping
//! at the 401; refusals (4xx) and the faults' own
//! failures (5xx, refused connections) are expected. The checker then proves that nothing
//! it sent was read and that every acknowledged record of the real producers still is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use silt_sdk::wire::binary::{self, BinaryRecord, Kind};

use crate::harness::http_client;

/// One hostile request: what it is, its content type, its body.
struct Hostile {
    what: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
}

/// The bodies, each of which a broker must refuse.
fn bodies() -> Vec<Hostile> {
    let json = |what, body: String| Hostile {
        what,
        content_type: "application/json",
        body: body.into_bytes(),
    };
    let deep = format!("{}1{}", "[".repeat(65), "]".repeat(65));
    vec![
        json(
            "a lone surrogate",
            r#"{"records":[{"value":"\ud800"}]}"#.into(),
        ),
        json(
            "an unpaired surrogate key",
            r#"{"records":[{"key":"\udc00","value":1}]}"#.into(),
        ),
        json(
            "65-deep nesting",
            format!(r#"{{"records":[{{"value":{deep}}}]}}"#),
        ),
        json(
            "value and value_b64",
            r#"{"records":[{"value":1,"value_b64":"AA=="}]}"#.into(),
        ),
        json(
            "more records than allowed",
            format!(r#"{{"records":[{}{{}}]}}"#, "{},".repeat(10_000)),
        ),
        json("a truncated body", r#"{"records":[{"value":"#.into()),
        Hostile {
            what: "invalid UTF-8 in a JSON-kind binary value",
            content_type: binary::CONTENT_TYPE,
            body: binary::encode(&[BinaryRecord {
                value: (Kind::Json, b"\"\xff\""),
                ..BinaryRecord::bytes(b"")
            }]),
        },
        Hostile {
            what: "a truncated binary body",
            content_type: binary::CONTENT_TYPE,
            body: b"SLTR\x01\x02\x00\x00\x00\x00".to_vec(),
        },
    ]
}

/// Sends hostile bodies to `urls` in turn, one every `interval`, with `token` as the
/// bearer token when there is one, until `stop`; returns a line per acknowledged one (a
/// violation).
pub async fn run(
    urls: Vec<String>,
    token: Option<String>,
    topic: &'static str,
    interval: Duration,
    stop: Arc<AtomicBool>,
) -> Vec<String> {
    let http = http_client();
    let bodies = bodies();
    let mut violations = Vec::new();
    let mut turn = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let hostile = &bodies[turn % bodies.len()];
        let url = format!("{}/v1/topics/{topic}/records", urls[turn % urls.len()]);
        let mut request = http.post(&url);
        if let Some(token) = &token {
            request = request.bearer_auth(token);
        }
        let answer = request
            .header("content-type", hostile.content_type)
            .body(hostile.body.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if let Ok(response) = answer
            && response.status().is_success()
        {
            violations.push(format!(
                "{} was acknowledged by {url}: {}",
                hostile.what,
                response.text().await.unwrap_or_default()
            ));
        }
        turn += 1;
        tokio::time::sleep(interval).await;
    }
    violations
}
