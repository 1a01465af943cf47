//! Test workloads: records that carry a unique id and a content fingerprint, concurrent
//! producers that record a [`History`], and a full read-back of every partition.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};
use silt_sdk::wire::{FetchedRecord, ProduceRecord};
use silt_sdk::{Admin, Client, Consumer, ConsumerConfig, Producer, ProducerConfig};

use crate::checker::{History, Read, Report, Sent};

/// Exactly 1 MiB.
pub const ONE_MIB: usize = 1 << 20;

/// The fingerprint of a record's content as fetch returns it.
pub fn fingerprint(
    key: &Option<Value>,
    key_b64: &Option<String>,
    value: &Option<Value>,
    value_b64: &Option<String>,
    headers: &BTreeMap<String, String>,
) -> String {
    json!({"key": key, "key_b64": key_b64, "value": value, "value_b64": value_b64, "headers": headers})
        .to_string()
}

fn id_of(value_b64: &Option<String>, headers: &BTreeMap<String, String>) -> Option<String> {
    if let Some(id) = headers.get("id") {
        return Some(id.clone());
    }
    let bytes = BASE64.decode(value_b64.as_ref()?).ok()?;
    let end = bytes.iter().position(|b| *b == b':')?;
    String::from_utf8(bytes[..end].to_vec()).ok()
}

/// The `sequence`th record of `producer`: a rotating mix of JSON and binary keys and
/// values, empty values, unicode keys and headers, explicit partitions, keyed and keyless
/// records, and (when `big`) an exactly 1 MiB binary value.
pub fn record(producer: &str, sequence: u64, partitions: u32, big: bool) -> (ProduceRecord, Sent) {
    let id = format!("{producer}-{sequence}");
    let mut headers = BTreeMap::new();
    let mut record = ProduceRecord::default();
    if big {
        let mut value = format!("{id}:").into_bytes();
        value.resize(ONE_MIB, b'x');
        record.value_b64 = Some(BASE64.encode(&value));
    } else {
        headers.insert("id".to_owned(), id.clone());
        match sequence % 6 {
            0 => {
                record.key = Some(json!(format!("ключ-{}-🔑", sequence % 13)));
                record.value = Some(
                    json!({"id": id, "n": sequence, "text": "héllo wörld ✓", "nested": [1, 2.5, null, true]}),
                );
                headers.insert("ünïcode-hdr".into(), "välue ✓".into());
            }
            1 => {
                record.key_b64 = Some(BASE64.encode([0u8, 255, 7, sequence as u8]));
                let bytes: Vec<u8> = (0..(sequence % 300))
                    .map(|i| (i * 31 % 256) as u8)
                    .collect();
                record.value_b64 = Some(BASE64.encode(bytes));
            }
            2 => record.value_b64 = Some(String::new()),
            3 => {
                record.value = Some(json!(""));
                record.partition = Some((sequence as u32) % partitions);
            }
            4 => record.value = Some(Value::Null),
            _ => {
                record.key = Some(json!(sequence % 7));
                record.value = Some(json!(format!("plain string {sequence}")));
            }
        }
    }
    record.headers = headers;
    let content = fingerprint(
        &record.key,
        &record.key_b64,
        &record.value,
        &record.value_b64,
        &record.headers,
    );
    let sent = Sent {
        id,
        producer: producer.to_owned(),
        sequence,
        content,
    };
    (record, sent)
}

/// Shared history for concurrent producers.
pub type SharedHistory = Arc<Mutex<History>>;

/// What one test producer sends.
#[derive(Debug, Clone)]
pub struct ProduceJob {
    /// Topic.
    pub topic: String,
    /// Producer name (ids are `<producer>-<sequence>`).
    pub producer: String,
    /// The topic's partition count.
    pub partitions: u32,
    /// Requests to send, one at a time.
    pub requests: u64,
    /// Records per request.
    pub per_request: u64,
    /// Every n-th record is an exactly 1 MiB value.
    pub big_every: Option<u64>,
    /// Stop quietly at the first failed request (crash tests) instead of panicking.
    pub stop_on_error: bool,
}

/// One producer sending its requests one at a time (so its order must hold), recording
/// every send and acknowledgement. Returns how many records were acknowledged.
pub async fn produce_requests(client: Client, job: ProduceJob, history: SharedHistory) -> u64 {
    let ProduceJob {
        topic,
        producer,
        partitions,
        requests,
        per_request,
        big_every,
        stop_on_error,
    } = job;
    let producer = producer.as_str();
    let sender = Producer::new(client, &topic, ProducerConfig::default());
    let mut acknowledged = 0;
    for request in 0..requests {
        let mut records = Vec::new();
        let mut ids = Vec::new();
        for i in 0..per_request {
            let sequence = request * per_request + i;
            let big = big_every.is_some_and(|every| sequence % every == every - 1);
            let (record, sent) = record(producer, sequence, partitions, big);
            ids.push(sent.id.clone());
            history.lock().unwrap().sent(sent);
            records.push(record);
        }
        match sender.send_batch(records).await {
            Ok(offsets) => {
                let mut h = history.lock().unwrap();
                for (id, offset) in ids.iter().zip(offsets) {
                    h.acknowledged(id, offset.partition, offset.offset);
                    acknowledged += 1;
                }
            }
            Err(error) => {
                if stop_on_error {
                    return acknowledged;
                }
                panic!("produce failed: {error}");
            }
        }
    }
    acknowledged
}

/// Reads every partition of `topic` from its start to its high watermark into `history`
/// and checks the invariants.
pub async fn read_back_and_check(client: &Client, topic: &str, history: &SharedHistory) -> Report {
    let described = Admin::new(client.clone())
        .describe_topic(topic)
        .await
        .unwrap();
    let mut starts = BTreeMap::new();
    for partition in &described.partitions {
        starts.insert(partition.partition, partition.start_offset);
        let mut consumer = Consumer::new(
            client.clone(),
            topic,
            partition.partition,
            partition.start_offset,
            ConsumerConfig {
                wait: Duration::ZERO,
                max_bytes: 8 << 20,
                ..ConsumerConfig::default()
            },
        );
        while consumer.position() < partition.high_watermark {
            let records = consumer.poll().await.unwrap();
            assert!(!records.is_empty(), "no progress below the high watermark");
            let mut h = history.lock().unwrap();
            for record in records {
                h.read(read_of(partition.partition, &record));
            }
        }
    }
    history.lock().unwrap().check(&starts)
}

/// A fetched record as the checker sees it.
pub fn read_of(partition: u32, record: &FetchedRecord) -> Read {
    Read {
        partition,
        offset: record.offset,
        id: id_of(&record.value_b64, &record.headers),
        content: fingerprint(
            &record.key,
            &record.key_b64,
            &record.value,
            &record.value_b64,
            &record.headers,
        ),
    }
}
