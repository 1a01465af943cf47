//! Timeouts and retries for object-store calls.
//!
//! Every request the engine makes goes through [`retrying`]: each attempt is bounded by a
//! timeout (a hung request — a stalled connection, an overloaded endpoint — is abandoned
//! and tried again, never waited on forever), and transient failures (`Generic` errors:
//! 5xx, 503 SlowDown, resets, and timeouts) are retried with exponential backoff.
//! `NotFound`, `AlreadyExists`, `Precondition` and the like are answers, not failures, and
//! are returned at once. For S3, `object_store` also retries inside each attempt.

use std::future::Future;
use std::time::Duration;

/// How an operation is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts, the first included.
    pub attempts: u32,
    /// Backoff before the second attempt; doubled for each later one.
    pub first_backoff: Duration,
    /// Bound on one attempt.
    pub attempt_timeout: Duration,
}

impl RetryPolicy {
    /// The policy for a request moving `bytes` bytes: 5 attempts, 50 ms first backoff, and
    /// 10 s per attempt plus 1 s per MiB (a few MB/s at worst before it counts as hung).
    pub fn for_bytes(bytes: u64) -> RetryPolicy {
        RetryPolicy {
            attempts: 5,
            first_backoff: Duration::from_millis(50),
            attempt_timeout: Duration::from_secs(10) + Duration::from_secs(bytes >> 20),
        }
    }
}

/// Runs `operation` (a fresh attempt per call) under `policy`; `what` names it in logs.
pub async fn retrying<T, F, Fut>(
    what: &str,
    policy: RetryPolicy,
    mut operation: F,
) -> object_store::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = object_store::Result<T>>,
{
    let mut backoff = policy.first_backoff;
    let mut attempt = 1;
    loop {
        let error = match tokio::time::timeout(policy.attempt_timeout, operation()).await {
            Ok(Ok(value)) => return Ok(value),
            Ok(Err(error @ object_store::Error::Generic { .. })) => error,
            Ok(Err(error)) => return Err(error),
            Err(_) => object_store::Error::Generic {
                store: "silt",
                source: format!(
                    "{what}: no answer within {:?} (attempt {attempt})",
                    policy.attempt_timeout
                )
                .into(),
            },
        };
        if attempt >= policy.attempts {
            return Err(error);
        }
        tracing::warn!(what, attempt, %error, ?backoff, "object-store request failed; retrying");
        tokio::time::sleep(backoff).await;
        backoff *= 2;
        attempt += 1;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            first_backoff: Duration::from_millis(1),
            attempt_timeout: Duration::from_millis(50),
        }
    }

    #[tokio::test]
    async fn transient_errors_and_hangs_are_retried_answers_are_not() {
        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        // First attempt hangs, second fails transiently, third succeeds.
        let value = retrying("t", policy(), || {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => std::future::pending().await,
                    1 => Err(object_store::Error::Generic {
                        store: "x",
                        source: "503 SlowDown".into(),
                    }),
                    _ => Ok(7),
                }
            }
        })
        .await
        .unwrap();
        assert_eq!((value, calls.load(Ordering::SeqCst)), (7, 3));

        let calls = Arc::new(AtomicU32::new(0));
        let counter = calls.clone();
        let missing = retrying::<(), _, _>("t", policy(), || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {
                Err(object_store::Error::NotFound {
                    path: "p".into(),
                    source: "gone".into(),
                })
            }
        })
        .await;
        assert!(matches!(missing, Err(object_store::Error::NotFound { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);

        let hung = retrying::<(), _, _>("t", policy(), std::future::pending).await;
        assert!(
            matches!(&hung, Err(object_store::Error::Generic { source, .. }) if source.to_string().contains("no answer")),
            "{hung:?}"
        );
    }
}
