//! Broker authentication and authorization through real `silt dev` processes with a
//! principals file: the 401/401/403/2xx matrix over every `/v1` route (refused requests
//! change nothing), other principals' topics neither listed nor deletable, reloads on a
//! file change and on SIGHUP (a broken file keeps the old principals), `/metrics` open or
//! protected.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use silt_tests::harness::{Silt, SiltOptions, http_client, metric, principal, sha256};

/// Tokens of the principals every test starts with.
const ADMIN: &str = "silt_test-admin";
const ORDERS: &str = "silt_test-orders";
const NOBODY: &str = "silt_test-nobody";
const WRONG: &str = "silt_test-no-such-token";

/// The principals every test starts with.
fn base_principals() -> String {
    principal(
        "admin",
        ADMIN,
        &["admin:*", "produce:*", "consume:*", "cluster:*"],
    ) + &principal(
        "orders-app",
        ORDERS,
        &["admin:orders*", "produce:orders*", "consume:orders*"],
    ) + &principal("nobody", NOBODY, &[])
}

/// A `silt dev` with the principals file `file` and `extra` settings.
fn start(dir: &Path, file: &Path, extra: &[(&str, &str)]) -> Silt {
    let mut env = vec![
        (
            "SILT_AUTH_PRINCIPALS_FILE".to_owned(),
            file.display().to_string(),
        ),
        ("SILT_CLUSTER_FAULT_INJECTION".to_owned(), "true".to_owned()),
    ];
    env.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Silt::start(
        &dir.join("data"),
        SiltOptions {
            env,
            ..SiltOptions::default()
        },
    )
}

/// Writes the principals file.
fn write_principals(dir: &Path, text: &str) -> PathBuf {
    let file = dir.join("principals.toml");
    std::fs::write(&file, text).unwrap();
    file
}

/// A request and its answer.
struct Answer {
    status: u16,
    www_authenticate: Option<String>,
    body: Value,
}

/// Sends `method path` with `token` (if any) and a JSON `body` (if any).
async fn call(
    silt: &Silt,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http_client().request(method, format!("{}{path}", silt.url));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let www_authenticate = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        www_authenticate,
        body,
    }
}

/// One route of the matrix: who has the right, and what success answers.
struct Route {
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    allowed: &'static str,
    refused: &'static str,
    success: u16,
}

fn route(
    method: &'static str,
    path: &'static str,
    body: Option<Value>,
    (allowed, refused): (&'static str, &'static str),
    success: u16,
) -> Route {
    Route {
        method,
        path,
        body,
        allowed,
        refused,
        success,
    }
}

/// Every `/v1` route but the open API document, in an order where each success leaves
/// the next one possible (the delete last).
fn routes() -> Vec<Route> {
    let records = json!({"records": [{"value": "x"}]});
    vec![
        route(
            "POST",
            "/v1/topics",
            Some(json!({"name": "orders-new", "partitions": 1})),
            (ORDERS, NOBODY),
            201,
        ),
        route("GET", "/v1/topics/orders", None, (ORDERS, NOBODY), 200),
        route(
            "POST",
            "/v1/topics/orders/records",
            Some(records),
            (ORDERS, NOBODY),
            200,
        ),
        route(
            "GET",
            "/v1/topics/orders/partitions/0/records",
            None,
            (ORDERS, NOBODY),
            200,
        ),
        route(
            "GET",
            "/v1/topics/orders/partitions/0/offsets?at=latest",
            None,
            (ORDERS, NOBODY),
            200,
        ),
        route("POST", "/v1/producers", None, (ORDERS, NOBODY), 200),
        // A group is the resource group:NAME: consume:orders* covers no group.
        route(
            "PUT",
            "/v1/groups/orders-g/offsets",
            Some(json!({"offsets": [{"topic": "orders", "partition": 0, "offset": 1}]})),
            (ADMIN, ORDERS),
            200,
        ),
        route(
            "GET",
            "/v1/groups/orders-g/offsets",
            None,
            (ADMIN, ORDERS),
            200,
        ),
        route("GET", "/v1/groups/orders-g", None, (ADMIN, ORDERS), 200),
        route(
            "POST",
            "/v1/groups/orders-g/offsets/reset",
            Some(json!({"to": "earliest"})),
            (ADMIN, ORDERS),
            200,
        ),
        route("DELETE", "/v1/groups/orders-g", None, (ADMIN, ORDERS), 204),
        route(
            "POST",
            "/v1/groups/orders-j/members",
            Some(json!({"topics": ["orders"]})),
            (ADMIN, ORDERS),
            200,
        ),
        // Authorized, then refused on its merits: no such member.
        route(
            "POST",
            "/v1/groups/orders-j/members/ghost/heartbeat",
            Some(json!({})),
            (ADMIN, ORDERS),
            409,
        ),
        route(
            "DELETE",
            "/v1/groups/orders-j/members/ghost",
            None,
            (ADMIN, ORDERS),
            409,
        ),
        route("GET", "/v1/cluster", None, (ADMIN, ORDERS), 200),
        route(
            "PUT",
            "/v1/admin/faults",
            Some(json!({})),
            (ADMIN, ORDERS),
            204,
        ),
        route("DELETE", "/v1/admin/faults", None, (ADMIN, ORDERS), 204),
        route(
            "DELETE",
            "/v1/topics/orders-new",
            None,
            (ORDERS, NOBODY),
            204,
        ),
    ]
}

/// The names of every topic and the high watermark of `orders`, as the admin sees them.
async fn state_of(silt: &Silt) -> (Vec<String>, u64) {
    let list = call(silt, "GET", "/v1/topics", Some(ADMIN), None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let names = topic_names(&list.body);
    let orders = call(silt, "GET", "/v1/topics/orders", Some(ADMIN), None).await;
    let watermark = orders.body["partitions"][0]["high_watermark"]
        .as_u64()
        .unwrap();
    (names, watermark)
}

fn topic_names(list: &Value) -> Vec<String> {
    let topics = list["topics"].as_array().unwrap();
    topics
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Creates `orders` and `payments` with one record each.
async fn setup_topics(silt: &Silt) {
    for name in ["orders", "payments"] {
        let body = json!({"name": name, "partitions": 1});
        let created = call(silt, "POST", "/v1/topics", Some(ADMIN), Some(&body)).await;
        assert_eq!(created.status, 201, "{}", created.body);
        let path = format!("/v1/topics/{name}/records");
        let records = json!({"records": [{"value": 1}]});
        let produced = call(silt, "POST", &path, Some(ADMIN), Some(&records)).await;
        assert_eq!(produced.status, 200, "{}", produced.body);
    }
}

/// Asserts a 401 with its code and challenge.
fn assert_unauthenticated(answer: &Answer, token_given: bool, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {}", answer.body);
    assert_eq!(answer.body["error"]["code"], "unauthenticated", "{what}");
    let challenge = answer.www_authenticate.as_deref().unwrap_or_default();
    assert!(
        challenge.starts_with(r#"Bearer realm="silt""#),
        "{what}: {challenge}"
    );
    assert_eq!(
        challenge.contains("invalid_token"),
        token_given,
        "{what}: {challenge}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_401_401_403_and_success_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_principals(dir.path(), &base_principals());
    let silt = start(dir.path(), &file, &[]);
    setup_topics(&silt).await;
    let before = state_of(&silt).await;
    for r in routes() {
        let what = format!("{} {}", r.method, r.path);
        let body = r.body.as_ref();
        let none = call(&silt, r.method, r.path, None, body).await;
        assert_unauthenticated(&none, false, &format!("{what} without a token"));
        let wrong = call(&silt, r.method, r.path, Some(WRONG), body).await;
        assert_unauthenticated(&wrong, true, &format!("{what} with a wrong token"));
        let refused = call(&silt, r.method, r.path, Some(r.refused), body).await;
        assert_eq!(refused.status, 403, "{what}: {}", refused.body);
        assert_eq!(refused.body["error"]["code"], "forbidden", "{what}");
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains("may not"), "{what}: {message}");
    }
    assert_eq!(
        state_of(&silt).await,
        before,
        "a refused request changed something"
    );
    let groups = call(&silt, "GET", "/v1/groups", Some(ADMIN), None).await;
    assert_eq!(
        groups.body["groups"],
        json!([]),
        "a refused commit made a group"
    );
    for r in routes() {
        let what = format!("{} {}", r.method, r.path);
        let ok = call(&silt, r.method, r.path, Some(r.allowed), r.body.as_ref()).await;
        assert_eq!(ok.status, r.success, "{what}: {}", ok.body);
    }
    let (names, watermark) = state_of(&silt).await;
    assert_eq!(names, before.0, "orders-new was created, then deleted");
    assert_eq!(
        watermark,
        before.1 + 1,
        "the allowed produce wrote one record"
    );
    let routes = routes().len() as u64;
    let unauthenticated = counted(&silt, "auth_requests", "unauthenticated").await;
    assert_eq!(unauthenticated, 2 * routes);
    assert_eq!(counted(&silt, "auth_requests", "forbidden").await, routes);
    assert!(counted(&silt, "auth_requests", "ok").await >= routes);
}

/// The count of `silt_<name>_total{outcome}` at `/metrics`.
async fn counted(silt: &Silt, name: &str, outcome: &str) -> u64 {
    let sample = format!("silt_{name}_total{{outcome=\"{outcome}\"}} ");
    metric(&http_client(), &silt.url, &sample).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_principals_topics_are_neither_listed_nor_deletable() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_principals(dir.path(), &base_principals());
    let silt = start(dir.path(), &file, &[]);
    setup_topics(&silt).await;
    let list = call(&silt, "GET", "/v1/topics", Some(ORDERS), None).await;
    assert_eq!(topic_names(&list.body), ["orders"]);
    let nobody = call(&silt, "GET", "/v1/topics", Some(NOBODY), None).await;
    assert_eq!(nobody.status, 200, "{}", nobody.body);
    assert!(topic_names(&nobody.body).is_empty(), "{}", nobody.body);
    // Paging past a topic left out still advances: one topic a page.
    let first = call(&silt, "GET", "/v1/topics?limit=1", Some(NOBODY), None).await;
    assert_eq!(first.body["next_after"], "orders", "{}", first.body);
    for (method, path) in [
        ("DELETE", "/v1/topics/payments"),
        ("GET", "/v1/topics/payments"),
        ("GET", "/v1/topics/payments/partitions/0/records"),
    ] {
        let refused = call(&silt, method, path, Some(ORDERS), None).await;
        assert_eq!(refused.status, 403, "{method} {path}: {}", refused.body);
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("orders-app") && message.contains("payments"),
            "{message}"
        );
    }
    let (names, _) = state_of(&silt).await;
    assert_eq!(names, ["orders", "payments"]);
}

/// `POST /v1/producers` for a new id, as `token`.
async fn new_producer(silt: &Silt, token: &str) -> Answer {
    call(silt, "POST", "/v1/producers", Some(token), Some(&json!({}))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_id_is_random_and_only_its_principal_can_fence_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_principals(dir.path(), &base_principals());
    let silt = start(dir.path(), &file, &[]);
    setup_topics(&silt).await;
    let issued = new_producer(&silt, ORDERS).await;
    assert_eq!(issued.status, 200, "{}", issued.body);
    let id = issued.body["producer_id"].as_u64().unwrap();
    // Not 1, 2, 3…: an id nobody was told cannot be guessed (odds of 2^-40 here).
    assert!(id > 1 << 20, "producer id {id} looks sequential");
    let other = new_producer(&silt, ORDERS).await;
    assert_ne!(other.body["producer_id"], issued.body["producer_id"]);
    // The reported attack: another principal bumps the epoch, fencing the real producer.
    let fence = json!({"producer_id": id});
    let refused = call(&silt, "POST", "/v1/producers", Some(ADMIN), Some(&fence)).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert_eq!(
        refused.body["error"]["code"], "forbidden",
        "{}",
        refused.body
    );
    // Nothing changed: the owner's epoch 0 still produces, and only it may bump.
    let record =
        json!({"records": [{"value": "v"}], "producer": {"id": id, "epoch": 0, "sequence": 0}});
    let produced = call(
        &silt,
        "POST",
        "/v1/topics/orders/records",
        Some(ORDERS),
        Some(&record),
    )
    .await;
    assert_eq!(produced.status, 200, "{}", produced.body);
    let bumped = call(&silt, "POST", "/v1/producers", Some(ORDERS), Some(&fence)).await;
    assert_eq!(
        (bumped.status, &bumped.body["epoch"]),
        (200, &json!(1)),
        "{}",
        bumped.body
    );
}

/// Polls (bounded) until `token` lists topics (`accepted`) or is refused (`!accepted`).
async fn await_token(silt: &Silt, token: &str, accepted: bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let answer = call(silt, "GET", "/v1/topics", Some(token), None).await;
        if (answer.status == 200) == accepted {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "token {token} still answers {} after 30 s",
            answer.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The count of `silt_auth_reloads_total{outcome}`.
async fn reloads(silt: &Silt, outcome: &str) -> u64 {
    counted(silt, "auth_reloads", outcome).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_file_is_reloaded_and_a_broken_one_keeps_the_old_principals() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_principals(dir.path(), &base_principals());
    let silt = start(dir.path(), &file, &[("SILT_AUTH_RELOAD_INTERVAL", "50ms")]);
    let late = "silt_test-late";
    await_token(&silt, late, false).await;
    let text = base_principals() + &principal("late", late, &["consume:*"]);
    write_principals(dir.path(), &text);
    await_token(&silt, late, true).await;
    write_principals(dir.path(), "[[principal]\nthis is not toml");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reloads(&silt, "error").await == 0 {
        assert!(Instant::now() < deadline, "the broken file was never tried");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    await_token(&silt, late, true).await;
    await_token(&silt, ADMIN, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_principals(dir.path(), &base_principals());
    let silt = start(dir.path(), &file, &[("SILT_AUTH_RELOAD_INTERVAL", "60m")]);
    let late = "silt_test-late";
    let text = base_principals() + &principal("late", late, &["consume:*"]);
    write_principals(dir.path(), &text);
    await_token(&silt, late, false).await;
    let status = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(silt.pid().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    await_token(&silt, late, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_open_unless_protected_and_probes_always() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_principals(dir.path(), &base_principals());
    let open = start(&dir.path().join("open"), &file, &[]);
    let protected = start(
        &dir.path().join("protected"),
        &file,
        &[("SILT_AUTH_PROTECT_METRICS", "true")],
    );
    assert_eq!(call(&open, "GET", "/metrics", None, None).await.status, 200);
    let refused = call(&protected, "GET", "/metrics", None, None).await;
    assert_unauthenticated(&refused, false, "protected /metrics");
    let ok = call(&protected, "GET", "/metrics", Some(NOBODY), None).await;
    assert_eq!(ok.status, 200);
    for path in ["/healthz", "/readyz", "/v1/openapi.json"] {
        let answer = call(&protected, "GET", path, None, None).await;
        assert_eq!(answer.status, 200, "{path}: {}", answer.body);
    }
}

#[test]
fn a_missing_or_broken_principals_file_refuses_to_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let broken = write_principals(dir.path(), "[[principal]]\nname = \"a\"\n");
    let missing = dir.path().join("no-such-file.toml");
    for (file, why) in [(&broken, "missing field"), (&missing, "No such file")] {
        let output = std::process::Command::new(silt_tests::harness::silt_binary())
            .args(["dev", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .env("SILT_AUTH_PRINCIPALS_FILE", file)
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(&file.display().to_string()), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
    }
}

/// Runs `silt dev` on `listen` without auth (plus `args`); the lines it printed until it
/// listened, or `Err` with everything it printed when it exited first.
fn dev_without_auth(
    dir: &Path,
    listen: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<String, String> {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let mut child = Command::new(silt_tests::harness::silt_binary())
        .args(["dev", "--listen", listen, "--data-dir"])
        .arg(dir)
        .args(args)
        .envs(env.iter().copied())
        .env("SILT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    // Ends at the listening line, or at EOF when the process exits first.
    let listening = stdout
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"));
    let _ = child.kill();
    let _ = child.wait();
    let printed = errors.join().unwrap();
    match listening {
        Some(line) => Ok(format!("{printed}\n{line}")),
        None => Err(printed),
    }
}

#[test]
fn an_open_broker_refuses_a_reachable_address_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let refused = dev_without_auth(&dir.path().join("a"), "0.0.0.0:0", &[], &[]).unwrap_err();
    assert!(
        refused.contains("refusing to listen on 0.0.0.0:0 without authentication")
            && refused.contains("--insecure")
            && refused.contains("auth.principals_file"),
        "{refused}"
    );
    let insecure = dev_without_auth(&dir.path().join("b"), "0.0.0.0:0", &["--insecure"], &[]);
    assert!(insecure.unwrap().contains("authentication is off"));
    let by_env = [("SILT_INSECURE", "1")];
    let insecure = dev_without_auth(&dir.path().join("d"), "0.0.0.0:0", &[], &by_env);
    assert!(insecure.unwrap().contains("authentication is off"));
    let loopback = dev_without_auth(&dir.path().join("c"), "127.0.0.1:0", &[], &[]);
    assert!(loopback.unwrap().contains("authentication is off"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_from_silt_auth_token_works_with_its_printed_principal() {
    let output = std::process::Command::new(silt_tests::harness::silt_binary())
        .args([
            "auth",
            "token",
            "--name",
            "cli-made",
            "--allow",
            "admin:made*",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let (token, entry) = stdout.split_once('\n').unwrap();
    assert!(token.starts_with("silt_"), "{stdout}");
    assert!(entry.contains(&sha256(token)), "{stdout}");
    let dir = tempfile::tempdir().unwrap();
    let file = write_principals(dir.path(), entry);
    let silt = start(dir.path(), &file, &[]);
    let body = json!({"name": "made-here", "partitions": 1});
    let created = call(&silt, "POST", "/v1/topics", Some(token), Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let other = json!({"name": "elsewhere", "partitions": 1});
    let refused = call(&silt, "POST", "/v1/topics", Some(token), Some(&other)).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
}

/// Runs the `silt` CLI with `args` (and `env`), returning success and stdout + stderr.
fn silt_cli(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = std::process::Command::new(silt_tests::harness::silt_binary());
    command.args(args).env_remove("SILT_TOKEN");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_and_the_cli_send_the_token_and_say_when_refused() {
    use silt_sdk::wire::{ErrorCode, TopicConfig};
    use silt_sdk::{Admin, Client, ClientConfig, Error};
    let dir = tempfile::tempdir().unwrap();
    let file = write_principals(dir.path(), &base_principals());
    let silt = start(dir.path(), &file, &[]);
    let admin = |token: Option<&str>| {
        let config = ClientConfig {
            token: token.map(str::to_owned),
            ..ClientConfig::new(silt.url.clone())
        };
        assert!(!format!("{config:?}").contains("silt_test"), "{config:?}");
        Admin::new(Client::with_config(config).unwrap())
    };
    let orders = admin(Some(ORDERS));
    let created = orders
        .create_topic("orders", 1, TopicConfig::default())
        .await;
    assert_eq!(created.unwrap().name, "orders");
    for (token, code) in [
        (None, ErrorCode::Unauthenticated),
        (Some(NOBODY), ErrorCode::Forbidden),
    ] {
        let error = admin(token).describe_topic("orders").await.unwrap_err();
        assert!(error.is_auth_failure(), "{error}");
        assert!(
            matches!(error, Error::Api { code: c, .. } if c == code),
            "{error}"
        );
    }
    let url = silt.url.as_str();
    let (ok, text) = silt_cli(&["topic", "list", "--broker", url, "--token", ORDERS], &[]);
    assert!(ok && text.contains("orders"), "{text}");
    let (ok, text) = silt_cli(
        &["topic", "list", "--broker", url],
        &[("SILT_TOKEN", ORDERS)],
    );
    assert!(ok && text.contains("orders"), "{text}");
    let (ok, text) = silt_cli(
        &["cluster", "status", "--broker", url],
        &[("SILT_TOKEN", ADMIN)],
    );
    assert!(ok && text.contains("broker_id"), "{text}");
    let (ok, text) = silt_cli(&["topic", "list", "--broker", url], &[]);
    assert!(!ok && text.contains("401 unauthenticated"), "{text}");
    assert!(!text.contains(ORDERS), "{text}");
}
