//! `/health` (liveness), `/ready` (readiness) and `/openapi.json`.
//!
//! `/ready` always makes a database round trip. `/health` is unauthenticated and may be polled
//! or flooded, so it reuses the isolate's last database check for a few seconds, and while one
//! check is running, the other requests of the isolate wait for its result instead of each
//! opening a connection (which on Neon would also wake a compute that scaled to zero).

use std::cell::RefCell;
use std::time::Duration;

use super::Context;
use crate::error::ApiError;
use crate::response;
use crate::runtime::http::Reply;
use crate::store::{StoreError, TaskStore, STORAGE_TIMEOUT};

/// The API's OpenAPI 3.1 document: the repository's openapi.json, compacted by build.rs.
const OPENAPI_DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// `GET /health`: the isolate's last database check, fresh enough (see [`liveness`]).
pub async fn health(context: &Context<'_>) -> Result<Reply, ApiError> {
    database_state(liveness(context.store).await)
}

/// `GET /ready`: a database round trip of its own.
pub async fn ready(context: &Context<'_>) -> Result<Reply, ApiError> {
    database_state(readiness(context.store).await)
}

/// `GET /openapi.json`.
pub fn openapi() -> Reply {
    response::text(OPENAPI_DOCUMENT, "application/json")
}

/// The body of a healthy `/health` or `/ready`.
const DATABASE_OK: &[u8] = br#"{"status":"ok","database":"ok"}"#;

/// `/health` and `/ready`: 200 when the database answered, 503 when it failed for any reason.
fn database_state(result: Result<(), StoreError>) -> Result<Reply, ApiError> {
    match result {
        Ok(()) => Ok(response::json_bytes(200, DATABASE_OK.to_vec())),
        Err(StoreError::Unavailable(cause) | StoreError::Internal(cause)) => {
            Err(ApiError::Unavailable(cause))
        }
        Err(other) => Err(ApiError::Internal(format!(
            "a health check returned {other:?}"
        ))),
    }
}

/// How long a successful check answers `/health`.
pub const HEALTHY_FOR_MS: f64 = 5_000.0;
/// How long a failed check answers `/health`: short, so recovery shows quickly.
pub const UNHEALTHY_FOR_MS: f64 = 1_000.0;
/// How often a request waiting for another request's check looks for its result.
const WAIT_STEP: Duration = Duration::from_millis(20);

/// The last database check of this isolate, and whether one is running.
#[derive(Debug, Default)]
pub struct HealthCache {
    last: Option<Check>,
    running: bool,
}

/// One database check: when it finished, and its failure if it failed.
#[derive(Debug, Clone)]
struct Check {
    at_ms: f64,
    failure: Option<StoreError>,
}

/// What a `/health` request should do now.
#[derive(Debug, PartialEq, Eq)]
pub enum Next {
    /// Answer with this result.
    Answer(Result<(), StoreError>),
    /// Another request is checking; look again shortly.
    Wait,
    /// Check the database (and record the result).
    Check,
}

impl HealthCache {
    /// Decides for a request at `now_ms`.
    pub fn next(&mut self, now_ms: f64) -> Next {
        if let Some(check) = &self.last {
            let lifetime = match check.failure {
                None => HEALTHY_FOR_MS,
                Some(_) => UNHEALTHY_FOR_MS,
            };
            if now_ms - check.at_ms < lifetime {
                return Next::Answer(check.failure.clone().map_or(Ok(()), Err));
            }
        }
        if self.running {
            Next::Wait
        } else {
            self.running = true;
            Next::Check
        }
    }

    /// Records the result of the check this isolate ran.
    pub fn record(&mut self, now_ms: f64, result: &Result<(), StoreError>) {
        self.running = false;
        self.last = Some(Check {
            at_ms: now_ms,
            failure: result.clone().err(),
        });
    }

    /// Forgets that a check is running (it was cancelled before it could record).
    fn abandon(&mut self) {
        self.running = false;
    }
}

thread_local! {
    /// This isolate's cache (a worker isolate is single-threaded).
    static CACHE: RefCell<HealthCache> = RefCell::new(HealthCache::default());
}

/// Clears the running flag if the checking request is dropped mid-check (the client went
/// away), so the next request checks instead of waiting forever.
struct RunningGuard;

impl Drop for RunningGuard {
    fn drop(&mut self) {
        CACHE.with(|cache| cache.borrow_mut().abandon());
    }
}

/// The liveness answer: the database's state as of the last few seconds.
pub async fn liveness(store: &dyn TaskStore) -> Result<(), StoreError> {
    let started = now_ms();
    loop {
        let next = CACHE.with(|cache| cache.borrow_mut().next(now_ms()));
        match next {
            Next::Answer(result) => return result,
            Next::Check => {
                let guard = RunningGuard;
                let result = store.ping().await;
                std::mem::forget(guard);
                CACHE.with(|cache| cache.borrow_mut().record(now_ms(), &result));
                return result;
            }
            Next::Wait if now_ms() - started > STORAGE_TIMEOUT.as_millis() as f64 => {
                // The other check is overdue; answer from a check of our own.
                return store.ping().await;
            }
            Next::Wait => drop(crate::runtime::deadline::sleep(WAIT_STEP).await),
        }
    }
}

/// The readiness answer: a database round trip now.
pub async fn readiness(store: &dyn TaskStore) -> Result<(), StoreError> {
    store.ping().await
}

fn now_ms() -> f64 {
    crate::runtime::js::now_millis() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_request_checks_and_concurrent_ones_wait_for_it() {
        let mut cache = HealthCache::default();
        assert_eq!(cache.next(0.0), Next::Check);
        assert_eq!(cache.next(1.0), Next::Wait);
        assert_eq!(cache.next(2.0), Next::Wait);
        cache.record(3.0, &Ok(()));
        assert_eq!(cache.next(4.0), Next::Answer(Ok(())));
    }

    #[test]
    fn a_success_is_reused_for_five_seconds_then_checked_again() {
        let mut cache = HealthCache::default();
        cache.next(0.0);
        cache.record(0.0, &Ok(()));
        assert_eq!(cache.next(4_999.0), Next::Answer(Ok(())));
        assert_eq!(cache.next(5_000.0), Next::Check);
    }

    #[test]
    fn a_failure_is_reused_only_briefly() {
        let mut cache = HealthCache::default();
        cache.next(0.0);
        let down = Err(StoreError::Unavailable("connection refused".to_owned()));
        cache.record(0.0, &down);
        assert_eq!(cache.next(999.0), Next::Answer(down));
        assert_eq!(cache.next(1_000.0), Next::Check);
    }

    #[test]
    fn an_abandoned_check_lets_the_next_request_check() {
        let mut cache = HealthCache::default();
        cache.next(0.0);
        cache.abandon();
        assert_eq!(cache.next(1.0), Next::Check);
    }
}
