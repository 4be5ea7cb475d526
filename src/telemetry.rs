//! Structured logs: one JSON line per request, plus a line for each server-side failure.
//!
//! Lines go to the console, which Workers Logs and `wrangler tail` collect. No token, secret,
//! request body or SQL parameter is ever written; causes are logged only for 5xx errors, and
//! those come from the storage layer and configuration, never from request headers.

use std::cell::RefCell;

use serde::Serialize;

use crate::runtime::json;

/// The access-log line of one request.
#[derive(Debug)]
pub struct RequestLog {
    /// `info`, `warn` (4xx) or `error` (5xx).
    pub level: &'static str,
    /// `cf-ray` when Cloudflare set one, otherwise generated; echoed as `X-Request-Id`.
    pub request_id: String,
    /// The HTTP method.
    pub method: String,
    /// The matched route pattern, without ids; `null` for unknown paths.
    pub route: Option<&'static str>,
    /// The response status.
    pub status: u16,
    /// Time from arrival to response, in whole milliseconds (the runtime's clock advances
    /// only across I/O, so finer figures would be noise).
    pub duration_ms: u64,
    /// The authenticated user, once known.
    pub user_id: Option<String>,
    /// When the request arrived, in milliseconds since the epoch; not logged.
    arrived_ms: u64,
}

impl RequestLog {
    /// Starts the log line of a request that arrived at `arrived_ms`.
    pub fn new(request_id: String, method: String, arrived_ms: u64) -> Self {
        Self {
            arrived_ms,
            level: "info",
            request_id,
            method,
            route: None,
            status: 0,
            duration_ms: 0,
            user_id: None,
        }
    }

    /// When the request arrived, in milliseconds since the epoch: the clock handlers check
    /// tokens against, read once per request.
    pub fn arrived_ms(&self) -> u64 {
        self.arrived_ms
    }

    /// Writes the access-log line of a request answered at `answered_ms`.
    pub fn emit(mut self, status: u16, answered_ms: u64) {
        self.finish(status, answered_ms);
        // Only JSON text went in.
        console_log(std::str::from_utf8(&self.to_json()).unwrap_or_default());
    }

    /// Fills in the status, the level it implies and the duration.
    fn finish(&mut self, status: u16, answered_ms: u64) {
        self.status = status;
        self.duration_ms = answered_ms.saturating_sub(self.arrived_ms);
        self.level = match status {
            500.. => "error",
            400.. => "warn",
            _ => "info",
        };
    }

    /// The line's JSON, written by hand: every request writes one.
    fn to_json(&self) -> Vec<u8> {
        let mut line = Vec::with_capacity(192);
        let mut object = json::Object::open(&mut line);
        object
            .str("level", self.level)
            .str("request_id", &self.request_id)
            .str("method", &self.method)
            .optional_str("route", self.route)
            .value("status", &self.status)
            .value("duration_ms", &self.duration_ms)
            .optional_str("user_id", self.user_id.as_deref());
        object.close();
        line
    }

    /// Logs an authenticated user reaching for another user's path.
    pub fn warn_forbidden(&self, token_user: &str, path_user: &str) {
        write_line(&serde_json::json!({
            "level": "warn",
            "request_id": self.request_id,
            "message": "token user does not match the path's user",
            "token_user_id": token_user,
            "path_user_id": path_user,
        }));
    }

    /// Logs the cause of a 5xx response, which the client never sees.
    pub fn error_cause(&self, status: u16, cause: &str) {
        write_line(&serde_json::json!({
            "level": "error",
            "request_id": self.request_id,
            "message": "request failed on the server side",
            "status": status,
            "cause": cause,
        }));
    }
}

/// The id of a request Cloudflare gave no `cf-ray` (a local run, a self-hosted workerd): a
/// UUIDv7 of its arrival, in the simple form.
pub fn generated_request_id(arrived_ms: u64) -> String {
    let random = RANDOM.with_borrow_mut(RandomPool::take);
    uuid::Builder::from_unix_timestamp_millis(arrived_ms, &random)
        .into_uuid()
        .simple()
        .to_string()
}

/// The random bits of a UUIDv7 after its timestamp.
const RANDOM_BITS_BYTES: usize = 10;

/// How many ids one draw from the CSPRNG serves.
const IDS_PER_DRAW: usize = 64;

/// Bytes from the runtime's CSPRNG, fetched a batch at a time: a `crypto.getRandomValues`
/// call costs more than the id it seeds, and a request id needs to be unique, not secret.
struct RandomPool {
    bytes: [u8; RANDOM_BITS_BYTES * IDS_PER_DRAW],
    used: usize,
}

thread_local! {
    static RANDOM: RefCell<RandomPool> = const {
        RefCell::new(RandomPool {
            bytes: [0; RANDOM_BITS_BYTES * IDS_PER_DRAW],
            used: RANDOM_BITS_BYTES * IDS_PER_DRAW,
        })
    };
}

impl RandomPool {
    fn take(&mut self) -> [u8; RANDOM_BITS_BYTES] {
        if self.used == self.bytes.len() {
            // It cannot fail where the worker runs: SCRAM and task ids need the same source,
            // so a runtime without one serves nothing. Were it to fail, the pool's old bytes
            // (zeros, the first time) would be served again, and ids would differ only by
            // their millisecond.
            let _ = getrandom::fill(&mut self.bytes);
            self.used = 0;
        }
        let mut random = [0; RANDOM_BITS_BYTES];
        random.copy_from_slice(&self.bytes[self.used..self.used + RANDOM_BITS_BYTES]);
        self.used += RANDOM_BITS_BYTES;
        random
    }
}

/// Logs a failure outside any request's log line.
pub fn error_line(message: &str, cause: &str) {
    write_line(&serde_json::json!({
        "level": "error",
        "message": message,
        "cause": cause,
    }));
}

/// Logs what a scheduled job did: its name, its cron expression and its counts.
pub fn job_line(job: &str, cron: &str, counts: serde_json::Value) {
    write_line(&serde_json::json!({
        "level": "info",
        "job": job,
        "cron": cron,
        "counts": counts,
    }));
}

fn write_line<T: Serialize>(line: &T) {
    if let Ok(text) = serde_json::to_string(line) {
        console_log(&text);
    }
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    /// `console.log` of one string, which crosses as it is: `console_log!` would format it
    /// into another copy, and web-sys's `log_1` takes a `JsValue`, one more call to make.
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(line: &str);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_access_line_is_json_of_its_fields() {
        let mut log = RequestLog::new("ray-1".into(), "PATCH".into(), 1_000);
        assert_eq!(
            String::from_utf8(log.to_json()).unwrap(),
            r#"{"level":"info","request_id":"ray-1","method":"PATCH","route":null,"status":0,"duration_ms":0,"user_id":null}"#
        );
        log.route = Some("/api/{user_id}/tasks/{id}/complete");
        log.user_id = Some("user \"quoted\"".into());
        log.finish(404, 1_012);
        let line: serde_json::Value = serde_json::from_slice(&log.to_json()).unwrap();
        assert_eq!(
            line,
            serde_json::json!({
                "level": "warn", "request_id": "ray-1", "method": "PATCH",
                "route": "/api/{user_id}/tasks/{id}/complete", "status": 404,
                "duration_ms": 12, "user_id": "user \"quoted\"",
            })
        );
    }

    #[test]
    fn the_level_follows_the_status_and_a_clock_behind_the_arrival_reads_zero() {
        let mut log = RequestLog::new("ray-2".into(), "GET".into(), 5_000);
        for (status, level) in [(200, "info"), (304, "info"), (401, "warn"), (503, "error")] {
            log.finish(status, 5_003);
            assert_eq!((log.level, log.duration_ms), (level, 3), "{status}");
        }
        log.finish(200, 4_000);
        assert_eq!(log.duration_ms, 0);
    }

    #[test]
    fn generated_request_ids_are_uuid_v7_of_the_arrival_and_never_repeat() {
        let arrived_ms = 1_800_000_000_123;
        // More ids than one draw serves, all in the same millisecond.
        let ids: Vec<String> = (0..3 * IDS_PER_DRAW)
            .map(|_| generated_request_id(arrived_ms))
            .collect();
        for id in &ids {
            let uuid = uuid::Uuid::try_parse(id).unwrap();
            assert_eq!(id.len(), 32, "the simple form: {id}");
            assert_eq!(uuid.get_version_num(), 7);
            let (seconds, nanos) = uuid.get_timestamp().unwrap().to_unix();
            assert_eq!(seconds * 1000 + u64::from(nanos) / 1_000_000, arrived_ms);
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
