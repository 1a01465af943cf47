//! [`SealPolicy`]: when the open segment is sealed and handed to upload
//! (`docs/architecture.md#seal-policy`).
//!
//! Rules, in order: an empty segment never seals; a full segment (`staged_bytes >=
//! max_segment_bytes`) always seals; an idle broker (no upload in flight) seals at once,
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
}

impl Default for SealPolicy {
    fn default() -> Self {
        Self {
            max_segment_bytes: 8 * 1024 * 1024,
            linger: Duration::from_millis(50),
            max_uploads_in_flight: 4,
        }
    }
}

impl SealPolicy {
    /// Whether a segment with `staged_bytes` staged, open for `age`, should seal now
    /// given `uploads_in_flight`.
    pub fn should_seal(
        &self,
        staged_bytes: usize,
        age: Duration,
        uploads_in_flight: usize,
    ) -> bool {
        if staged_bytes == 0 {
            return false;
        }
        if staged_bytes >= self.max_segment_bytes {
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
        };
        let ms = Duration::from_millis;
        // (staged, age, in flight, expected)
        let table = [
            (0, ms(0), 0, false),    // empty never seals...
            (0, ms(1000), 1, false), // ...however old
            (100, ms(0), 0, true),   // full
            (150, ms(0), 2, true),   // full, even at the in-flight cap
            (1, ms(0), 0, true),     // idle: upload at once
            (1, ms(10), 1, false),   // busy, linger not reached
            (1, ms(50), 1, true),    // busy, linger reached, room in flight
            (1, ms(500), 2, false),  // linger passed but at the in-flight cap
            (99, ms(49), 1, false),  // just under both limits
        ];
        for (staged, age, in_flight, expected) in table {
            assert_eq!(
                policy.should_seal(staged, age, in_flight),
                expected,
                "staged={staged} age={age:?} in_flight={in_flight}"
            );
        }
    }
}
