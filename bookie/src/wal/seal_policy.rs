//! [`SealPolicy`]: when the open segment is sealed and handed to upload
//! (`docs/architecture.md#seal-policy`).
//!
//! Rules, in order: an empty segment never seals; a full segment (`staged_bytes >=
//! max_segment_bytes`, or `max_chunks` chunks) always seals; an idle broker (no upload in flight) seals at once,
//! so a lone record waits for one PUT, not a timer; otherwise the segment seals once its
//! age reaches `linger` and fewer than `max_uploads_in_flight` uploads are running. The
//! policy is pure: time and in-flight counts are passed in.

use std::time::Duration;

/// Adaptive flush settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealPolicy {
    /// Seal when this many encoded bytes are staged (default 8 MiB).
    pub max_segment_bytes: usize,
    /// While uploads are in flight, seal once the segment is this old (default 50 ms).
    pub linger: Duration,
    /// Most uploads running at once (default 4).
    pub max_uploads_in_flight: usize,
    /// Seal when the segment has this many chunks (default [`MAX_SEGMENT_CHUNKS`]): a
    /// segment's commit names every chunk, so this bounds one segment's share of a
    /// metadata proposal however small its requests are.
    pub max_chunks: usize,
}

/// The default [`SealPolicy::max_chunks`]: at about 200 bytes of commit metadata a chunk,
/// one segment's commit stays under the metadata service's 256 KiB proposal budget.
pub const MAX_SEGMENT_CHUNKS: usize = 1024;

impl Default for SealPolicy {
    fn default() -> Self {
        Self {
            max_segment_bytes: 8 * 1024 * 1024,
            linger: Duration::from_millis(50),
            max_uploads_in_flight: 4,
            max_chunks: MAX_SEGMENT_CHUNKS,
        }
    }
}

impl SealPolicy {
    /// Whether a segment with `staged_bytes` staged in `chunks` chunks, open for `age`,
    /// should seal now given `uploads_in_flight`.
    pub fn should_seal(
        &self,
        staged_bytes: usize,
        chunks: usize,
        age: Duration,
        uploads_in_flight: usize,
    ) -> bool {
        if staged_bytes == 0 {
            return false;
        }
        if staged_bytes >= self.max_segment_bytes || chunks >= self.max_chunks {
            return true;
        }
        if uploads_in_flight == 0 {
            return true;
        }
        age >= self.linger && uploads_in_flight < self.max_uploads_in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_table() {
        let policy = SealPolicy {
            max_segment_bytes: 100,
            linger: Duration::from_millis(50),
            max_uploads_in_flight: 2,
            max_chunks: 3,
        };
        let ms = Duration::from_millis;
        // (staged, chunks, age, in flight, expected)
        let table = [
            (0, 0, ms(0), 0, false),    // empty never seals...
            (0, 0, ms(1000), 1, false), // ...however old
            (100, 1, ms(0), 0, true),   // full
            (150, 1, ms(0), 2, true),   // full, even at the in-flight cap
            (1, 3, ms(0), 2, true),     // full of chunks, even at the in-flight cap
            (1, 1, ms(0), 0, true),     // idle: upload at once
            (1, 2, ms(10), 1, false),   // busy, linger not reached
            (1, 1, ms(50), 1, true),    // busy, linger reached, room in flight
            (1, 1, ms(500), 2, false),  // linger passed but at the in-flight cap
            (99, 2, ms(49), 1, false),  // just under every limit
        ];
        for (staged, chunks, age, in_flight, expected) in table {
            assert_eq!(
                policy.should_seal(staged, chunks, age, in_flight),
                expected,
                "staged={staged} chunks={chunks} age={age:?} in_flight={in_flight}"
            );
        }
    }
}
