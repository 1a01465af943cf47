//! Connection limits of one `silt dev` over raw TCP: a client that stops halfway through
//! its headers or its body is cut off, and connections past `server.max_connections` are
//! closed until one frees.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use silt_tests::harness::{Silt, SiltOptions, get_json, http_client};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for the broker to act before it calls the broker stuck; far
/// above the short timeouts the tests configure.
const PATIENCE: Duration = Duration::from_secs(10);

/// A broker with extra `[server]` settings.
fn start(dir: &std::path::Path, env: &[(&str, &str)]) -> Silt {
    let env = env
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
    Silt::start(
        dir,
        SiltOptions {
            env,
            ..SiltOptions::default()
        },
    )
}

/// A raw connection to the broker at `url`.
async fn connect(url: &str) -> TcpStream {
    TcpStream::connect(url.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the peer closes (or resets) the connection; `Err` with what arrived if it
/// is still open after [`PATIENCE`].
async fn read_to_close(stream: &mut TcpStream) -> Result<String, String> {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let text = String::from_utf8_lossy(&received).into_owned();
    read.map(|()| text.clone()).map_err(|_| text)
}

/// Sends `GET /healthz` and reads until the status line and headers arrived.
async fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: silt\r\n\r\n")
        .await
        .unwrap();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let read = tokio::time::timeout(PATIENCE, async {
        while !received.windows(4).any(|w| w == b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "no answer to GET /healthz within {PATIENCE:?}"
    );
    String::from_utf8_lossy(&received).into_owned()
}

/// A client that sends half its headers and then nothing is disconnected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_headers_are_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path(), &[("SILT_SERVER_HEADER_READ_TIMEOUT", "500ms")]);
    let mut stream = connect(&silt.url).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: silt\r\n")
        .await
        .unwrap();
    let closed = read_to_close(&mut stream).await;
    assert!(
        closed.is_ok(),
        "a connection with half its headers was still open after {PATIENCE:?}"
    );
    let mut fresh = connect(&silt.url).await;
    assert!(healthz(&mut fresh).await.starts_with("HTTP/1.1 200"));
}

/// A body that stalls midway is refused with 408 `body_timeout`, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_body_gets_408() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path(), &[("SILT_SERVER_BODY_READ_TIMEOUT", "500ms")]);
    let created = http_client()
        .post(format!("{}/v1/topics", silt.url))
        .json(&serde_json::json!({"name": "t", "partitions": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let mut stream = connect(&silt.url).await;
    let head = "POST /v1/topics/t/records HTTP/1.1\r\nHost: silt\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"records\":[";
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut stream).await;
    let answer = answer.unwrap_or_else(|open| {
        panic!("a stalled body was still waited for after {PATIENCE:?}; got {open:?}")
    });
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");
    assert!(answer.contains("server.body_read_timeout"), "{answer}");
    let fetched: serde_json::Value = get_json(
        &http_client(),
        &format!("{}/v1/topics/t/partitions/0/records", silt.url),
    )
    .await;
    assert_eq!(fetched["high_watermark"], 0, "{fetched}");
}

/// A keep-alive connection with nothing in progress is closed after
/// `server.idle_timeout`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path(), &[("SILT_SERVER_IDLE_TIMEOUT", "500ms")]);
    let mut stream = connect(&silt.url).await;
    assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
    let closed = read_to_close(&mut stream).await;
    assert!(
        closed.is_ok(),
        "an idle keep-alive connection was still open after {PATIENCE:?}"
    );
}

/// With `server.max_connections = 2`, a third connection is closed unanswered while two
/// idle keep-alive connections are open, and served once one of them closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_closed_until_one_frees() {
    let dir = tempfile::tempdir().unwrap();
    let silt = start(dir.path(), &[("SILT_SERVER_MAX_CONNECTIONS", "2")]);
    let mut first = connect(&silt.url).await;
    let mut second = connect(&silt.url).await;
    assert!(healthz(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(healthz(&mut second).await.starts_with("HTTP/1.1 200"));
    let mut third = connect(&silt.url).await;
    let _ = third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: silt\r\n\r\n")
        .await;
    let refused = read_to_close(&mut third).await;
    assert_eq!(
        refused,
        Ok(String::new()),
        "the third connection was served"
    );
    drop(first);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let mut next = connect(&silt.url).await;
        let _ = next
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: silt\r\n\r\n")
            .await;
        let mut buf = [0u8; 64];
        let n = next.read(&mut buf).await.unwrap_or(0);
        if buf[..n].starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no connection was served after one of the two closed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(second);
}
