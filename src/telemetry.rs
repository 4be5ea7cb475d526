//! Structured logs: one JSON line per request, plus a line for each server-side failure.
//!
//! Lines go to the console, which Workers Logs and `wrangler tail` collect. No token, secret,
//! request body or SQL parameter is ever written; causes are logged only for 5xx errors, and
//! those come from the storage layer and configuration, never from request headers.

use serde::Serialize;

/// The access-log line of one request.
#[derive(Debug, Serialize)]
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
}

impl RequestLog {
    /// Starts the log line of a request.
    pub fn new(request_id: String, method: String) -> Self {
        Self {
            level: "info",
            request_id,
            method,
            route: None,
            status: 0,
            duration_ms: 0,
            user_id: None,
        }
    }

    /// Writes the access-log line.
    pub fn emit(mut self, status: u16, duration_ms: u64) {
        self.status = status;
        self.duration_ms = duration_ms;
        self.level = match status {
            500.. => "error",
            400.. => "warn",
            _ => "info",
        };
        write_line(&self);
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

/// Logs a failure outside any request's log line.
pub fn error_line(message: &str, cause: &str) {
    write_line(&serde_json::json!({
        "level": "error",
        "message": message,
        "cause": cause,
    }));
}

fn write_line<T: Serialize>(line: &T) {
    if let Ok(text) = serde_json::to_string(line) {
        // Straight to the console: `console_log!` would format the line into another copy.
        worker::web_sys::console::log_1(&wasm_bindgen::JsValue::from_str(&text));
    }
}
