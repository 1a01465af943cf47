//! The hostile principal of [`Fault::HostilePrincipal`](super::Fault::HostilePrincipal): the
//! attacks of the security issue, tried against the workload's topic and producer ids while
//! the faults go on, by three identities — no token, a wrong token, and the principal
//! `intruder`, whose rules cover only its own topic [`INTRUDER_TOPIC`]. Every attempt must be
//! refused: 401 without a valid token, 403 (or 404) for `intruder`, whose token is known, so
//! a 401 for it would prove nothing and counts against the run. A 2xx (or any other 4xx:
//! the request got past authorization) is a successful attack; a 5xx or no answer (a fault
//! took the broker away) is counted apart. `intruder` may list topics (200), but must not see
//! the workload's. It may obtain a producer id of its own (it has produce rights); that is
//! no attack, so it is not tried.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::harness::http_client;

/// The principal the attacks run as, besides the anonymous and wrong-token clients.
pub const INTRUDER: &str = "intruder";

/// The one topic `intruder`'s rules cover.
pub const INTRUDER_TOPIC: &str = "intruder";

/// `intruder`'s rules: everything on its own topic, nothing else.
pub const INTRUDER_RULES: [&str; 3] = ["produce:intruder", "consume:intruder", "admin:intruder"];

/// A token of the right shape that no principal has.
const WRONG_TOKEN: &str = "silt_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// Producer ids the workload's idempotent producers obtained, learnt as they run.
pub type ProducerIds = Arc<Mutex<BTreeSet<u64>>>;

/// Who attacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Identity {
    /// No `Authorization` header.
    Anonymous,
    /// A token no principal has.
    WrongToken,
    /// The principal `intruder`, with its real token.
    Intruder,
}

impl Identity {
    fn name(self) -> &'static str {
        match self {
            Identity::Anonymous => "no token",
            Identity::WrongToken => "a wrong token",
            Identity::Intruder => "intruder",
        }
    }
}

/// What an attack's answer must be.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// A refusal.
    Refused,
    /// A 200 topic list without the workload's topic (`intruder` listing).
    ListWithout(String),
}

/// One attempted request.
#[derive(Debug, Clone)]
struct Attack {
    what: String,
    method: Method,
    path: String,
    body: Option<Value>,
    expect: Expect,
}

impl Attack {
    fn refused(what: impl Into<String>, method: Method, path: String, body: Option<Value>) -> Self {
        Attack {
            what: what.into(),
            method,
            path,
            body,
            expect: Expect::Refused,
        }
    }
}

/// What the attacks came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    /// Attempts refused as they must be (401, 403, 404; a list without the topic).
    pub refused: u64,
    /// Attempts that got a 5xx or no answer (the faults' doing).
    pub unanswered: u64,
    /// Attacks that worked, one line each: the run fails on any.
    pub violations: Vec<String>,
}

impl Tally {
    /// Adds `other` to this tally.
    pub fn add(&mut self, other: Tally) {
        self.refused += other.refused;
        self.unanswered += other.unanswered;
        self.violations.extend(other.violations);
    }
}

/// The attackers of one run.
#[derive(Debug, Clone)]
pub struct Intruders {
    http: reqwest::Client,
    urls: Vec<String>,
    topic: String,
    intruder_token: String,
    producer_ids: ProducerIds,
}

impl Intruders {
    /// Attackers of `topic` on the brokers at `urls`; `intruder_token` is the token of
    /// [`INTRUDER`] (None on brokers without authentication: a made-up one is sent).
    pub fn new(
        urls: Vec<String>,
        topic: &str,
        intruder_token: Option<String>,
        producer_ids: ProducerIds,
    ) -> Self {
        Intruders {
            http: http_client(),
            urls,
            topic: topic.to_owned(),
            intruder_token: intruder_token.unwrap_or_else(|| WRONG_TOKEN.replace('A', "B")),
            producer_ids,
        }
    }

    /// The workload producer ids known so far.
    pub fn known_producer_ids(&self) -> Vec<u64> {
        lock(&self.producer_ids).iter().copied().collect()
    }

    /// Runs every attack by every identity over and over on every broker at once (one loop
    /// per broker, so a paused one holds up only its own), until `until` resolves.
    pub async fn run_until(&self, until: impl std::future::Future<Output = ()>) -> Tally {
        let tally = Arc::new(Mutex::new(Tally::default()));
        let mut loops = tokio::task::JoinSet::new();
        for broker in 0..self.urls.len() {
            let (me, tally) = (self.clone(), tally.clone());
            loops.spawn(async move { me.attack_forever(broker, &tally).await });
        }
        until.await;
        loops.shutdown().await;
        std::mem::take(&mut *lock(&tally))
    }

    /// Rounds of every attack on `broker`, 100 ms apart, each attempt added to `tally` as
    /// it is answered.
    async fn attack_forever(&self, broker: usize, tally: &Mutex<Tally>) {
        loop {
            for (identity, attack) in self.every_attack() {
                let found = self.attempt(broker, identity, &attack).await;
                lock(tally).add(found);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every attack by every identity once against broker `broker` (0-based).
    pub async fn round(&self, broker: usize) -> Tally {
        let mut tally = Tally::default();
        for (identity, attack) in self.every_attack() {
            tally.add(self.attempt(broker, identity, &attack).await);
        }
        tally
    }

    /// One round: each identity's attacks.
    fn every_attack(&self) -> Vec<(Identity, Attack)> {
        [
            Identity::Anonymous,
            Identity::WrongToken,
            Identity::Intruder,
        ]
        .into_iter()
        .flat_map(|identity| {
            self.attacks(identity)
                .into_iter()
                .map(move |a| (identity, a))
        })
        .collect()
    }

    /// The attacks `identity` tries this round.
    fn attacks(&self, identity: Identity) -> Vec<Attack> {
        let mut attacks = self.topic_attacks();
        attacks.extend(self.producer_attacks(identity));
        attacks.extend(cluster_attacks());
        attacks.push(self.list_attack(identity));
        attacks
    }

    /// Produce to, fetch from, describe, delete and re-create the workload's topic.
    fn topic_attacks(&self) -> Vec<Attack> {
        let topic = &self.topic;
        let records = format!("/v1/topics/{topic}/records");
        let value = json!({"records": [{"value": "intruder was here"}]});
        vec![
            Attack::refused(
                "produce to the workload's topic",
                Method::POST,
                records,
                Some(value),
            ),
            Attack::refused(
                "fetch from the workload's topic",
                Method::GET,
                format!("/v1/topics/{topic}/partitions/0/records?offset=0"),
                None,
            ),
            Attack::refused(
                "describe the workload's topic",
                Method::GET,
                format!("/v1/topics/{topic}"),
                None,
            ),
            Attack::refused(
                "delete the workload's topic",
                Method::DELETE,
                format!("/v1/topics/{topic}"),
                None,
            ),
            Attack::refused(
                "alter the workload's topic (create it again with 8 partitions)",
                Method::POST,
                "/v1/topics".to_owned(),
                Some(json!({"name": topic, "partitions": 8})),
            ),
        ]
    }

    /// Bump the epoch of every workload producer id, produce under one's tag, and (without
    /// a valid token) obtain a producer id.
    fn producer_attacks(&self, identity: Identity) -> Vec<Attack> {
        let ids: Vec<u64> = lock(&self.producer_ids).iter().copied().collect();
        let mut attacks: Vec<Attack> = ids
            .iter()
            .map(|id| {
                Attack::refused(
                    format!("bump the epoch of the workload's producer {id}"),
                    Method::POST,
                    "/v1/producers".to_owned(),
                    Some(json!({"producer_id": id})),
                )
            })
            .collect();
        if let Some(id) = ids.first() {
            let tagged = json!({
                "records": [{"value": "intruder was here"}],
                "producer": {"id": id, "epoch": 0, "sequence": 0},
            });
            attacks.push(Attack::refused(
                format!("produce under the workload's producer {id}"),
                Method::POST,
                format!("/v1/topics/{}/records", self.topic),
                Some(tagged),
            ));
        }
        if identity != Identity::Intruder {
            attacks.push(Attack::refused(
                "obtain a producer id",
                Method::POST,
                "/v1/producers".to_owned(),
                Some(json!({})),
            ));
        }
        attacks
    }

    /// List topics: refused without a valid token; for `intruder`, without the workload's.
    fn list_attack(&self, identity: Identity) -> Attack {
        let expect = match identity {
            Identity::Intruder => Expect::ListWithout(self.topic.clone()),
            _ => Expect::Refused,
        };
        Attack {
            what: "list topics".to_owned(),
            method: Method::GET,
            path: "/v1/topics".to_owned(),
            body: None,
            expect,
        }
    }

    /// Sends one attack and judges its answer.
    async fn attempt(&self, broker: usize, identity: Identity, attack: &Attack) -> Tally {
        let url = format!("{}{}", self.urls[broker], attack.path);
        let mut request = self
            .http
            .request(attack.method.clone(), &url)
            .timeout(Duration::from_secs(2));
        request = match identity {
            Identity::Anonymous => request,
            Identity::WrongToken => request.bearer_auth(WRONG_TOKEN),
            Identity::Intruder => request.bearer_auth(&self.intruder_token),
        };
        if let Some(body) = &attack.body {
            request = request.json(body);
        }
        let answer = match request.send().await {
            Ok(response) => {
                let status = response.status();
                Some((status, response.text().await.unwrap_or_default()))
            }
            Err(_) => None,
        };
        judge(identity, attack, answer).map_or_else(
            |violation| Tally {
                violations: vec![format!(
                    "{} {url} with {}: {violation}",
                    attack.what,
                    identity.name()
                )],
                ..Tally::default()
            },
            |refused| Tally {
                refused: u64::from(refused),
                unanswered: u64::from(!refused),
                ..Tally::default()
            },
        )
    }
}

/// Turn on fault injection; read the cluster view.
fn cluster_attacks() -> Vec<Attack> {
    vec![
        Attack::refused(
            "turn on object-store fault injection",
            Method::PUT,
            "/v1/admin/faults".to_owned(),
            Some(json!({"error_rate": 1.0})),
        ),
        Attack::refused(
            "read the cluster view",
            Method::GET,
            "/v1/cluster".to_owned(),
            None,
        ),
    ]
}

/// Ok(true) refused as required, Ok(false) unanswered (5xx, no answer), Err(why) when the
/// attack worked or the answer proves nothing.
fn judge(
    identity: Identity,
    attack: &Attack,
    answer: Option<(StatusCode, String)>,
) -> Result<bool, String> {
    let Some((status, body)) = answer else {
        return Ok(false);
    };
    if status.is_server_error() {
        return Ok(false);
    }
    if let (Expect::ListWithout(topic), StatusCode::OK) = (&attack.expect, status) {
        return list_without(&body, topic);
    }
    let refusal = match identity {
        Identity::Intruder => matches!(status.as_u16(), 403 | 404),
        _ => status == StatusCode::UNAUTHORIZED,
    };
    if refusal {
        Ok(true)
    } else {
        Err(format!("answered {status}: {body}"))
    }
}

/// Ok(true) when `body` is a topic list that does not name `topic`.
fn list_without(body: &str, topic: &str) -> Result<bool, String> {
    let list: Value =
        serde_json::from_str(body).map_err(|e| format!("not a topic list ({e}): {body}"))?;
    let names: Vec<&str> = list["topics"]
        .as_array()
        .ok_or_else(|| format!("not a topic list: {body}"))?
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    if names.contains(&topic) {
        Err(format!("the list shows the workload's topic: {body}"))
    } else {
        Ok(true)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attack(expect: Expect) -> Attack {
        Attack {
            what: "x".into(),
            method: Method::GET,
            path: "/v1/topics".into(),
            body: None,
            expect,
        }
    }

    #[test]
    fn refusals_count_and_successes_are_violations() {
        let refused = attack(Expect::Refused);
        let answer = |code: u16| Some((StatusCode::from_u16(code).unwrap(), String::new()));
        assert_eq!(judge(Identity::Anonymous, &refused, answer(401)), Ok(true));
        assert_eq!(judge(Identity::Intruder, &refused, answer(403)), Ok(true));
        assert_eq!(judge(Identity::Intruder, &refused, answer(404)), Ok(true));
        assert_eq!(judge(Identity::Anonymous, &refused, answer(503)), Ok(false));
        assert_eq!(judge(Identity::Anonymous, &refused, None), Ok(false));
        assert!(judge(Identity::Anonymous, &refused, answer(200)).is_err());
        assert!(judge(Identity::WrongToken, &refused, answer(400)).is_err());
        // intruder's token is real: a 401 means it was not loaded, and proves nothing
        assert!(judge(Identity::Intruder, &refused, answer(401)).is_err());
    }

    #[test]
    fn a_list_showing_the_workloads_topic_is_a_violation() {
        let list = attack(Expect::ListWithout("faults".into()));
        let ok = r#"{"topics":[{"name":"intruder"}],"next_after":null}"#;
        let shown = r#"{"topics":[{"name":"faults"}],"next_after":null}"#;
        let answer = |body: &str| Some((StatusCode::OK, body.to_owned()));
        assert_eq!(judge(Identity::Intruder, &list, answer(ok)), Ok(true));
        assert!(judge(Identity::Intruder, &list, answer(shown)).is_err());
    }
}
