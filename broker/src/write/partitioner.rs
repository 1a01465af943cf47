//! Picks each record's partition: the one the client named, else Kafka's default
//! partitioner on the key (murmur2, so a key lands where a Kafka producer would put it),
//! else sticky round-robin (every keyless record of one request goes to one partition; the
//! next request moves on), which keeps segments' chunks few and large.

use std::sync::atomic::{AtomicU32, Ordering};

/// murmur2's multiplier.
const M: u32 = 0x5bd1_e995;
/// murmur2's shift.
const R: u32 = 24;
/// Kafka's murmur2 seed.
const SEED: u32 = 0x9747_b28c;

/// Kafka's `Utils.murmur2` (seed `0x9747b28c`), bit for bit.
pub(crate) fn murmur2(data: &[u8]) -> i32 {
    // Kafka hashes `int length`; keys are bounded far below 2^31 by the record size limit.
    let mut h: u32 = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        h = mix_block(h, chunk);
    }
    h = mix_tail(h, chunks.remainder());
    finalize(h) as i32
}

/// Mixes one little-endian 4-byte block into `h`.
fn mix_block(h: u32, chunk: &[u8]) -> u32 {
    let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
    k = k.wrapping_mul(M);
    k ^= k >> R;
    k = k.wrapping_mul(M);
    h.wrapping_mul(M) ^ k
}

/// Mixes the last 0 to 3 bytes into `h`.
fn mix_tail(mut h: u32, tail: &[u8]) -> u32 {
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(M);
    }
    h
}

/// The final avalanche.
fn finalize(mut h: u32) -> u32 {
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^ (h >> 15)
}

/// Kafka's `toPositive(murmur2(key)) % partitions`.
pub(crate) fn partition_for_key(key: &[u8], partitions: u32) -> u32 {
    let positive = (murmur2(key) & 0x7fff_ffff) as u32;
    positive % partitions.max(1)
}

/// The broker-wide sticky round-robin counter.
#[derive(Debug, Default)]
pub(crate) struct StickyPartitioner {
    next: AtomicU32,
}

impl StickyPartitioner {
    /// The partition for the keyless records of one request.
    pub(crate) fn next_partition(&self, partitions: u32) -> u32 {
        self.next.fetch_add(1, Ordering::Relaxed) % partitions.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur2_matches_kafka_test_vectors() {
        // From Kafka's UtilsTest.testMurmur2.
        let cases: &[(&[u8], i32)] = &[
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (input, expected) in cases {
            assert_eq!(
                murmur2(input),
                *expected,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn keys_spread_and_sticky_rotates() {
        assert!(partition_for_key(b"anything", 7) < 7);
        let sticky = StickyPartitioner::default();
        let picks: Vec<u32> = (0..4).map(|_| sticky.next_partition(3)).collect();
        assert_eq!(picks, vec![0, 1, 2, 0]);
    }
}
