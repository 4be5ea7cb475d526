//! The one error type of the API and its single mapping to HTTP: an RFC 9457 problem+json body.
//!
//! Client errors carry a `detail` written for the person integrating with the API. Server
//! errors carry their cause for the log only; the body gets a generic sentence, so no SQL,
//! database message, stack or secret can reach a response.

use std::borrow::Cow;

use crate::{auth::AuthError, domain::FieldError, runtime::json, store::StoreError};

/// Problem types are `tag:` URIs (RFC 4151), as RFC 9457 suggests for identifiers that are
/// stable for programs to switch on but not meant to be dereferenced.
macro_rules! problem_type {
    ($slug:literal) => {
        concat!("tag:edge-task-api,2026:", $slug)
    };
}

/// Seconds a client should wait before retrying when the database is unavailable.
pub const RETRY_AFTER_SECONDS: u32 = 5;

/// Everything that can go wrong while serving a request.
#[derive(Debug)]
pub enum ApiError {
    /// 400: the body or query failed validation, field by field.
    Validation(Vec<FieldError>),
    /// 400: the body is not the JSON this route takes; the string says how.
    BadRequest(String),
    /// 401: no valid bearer token.
    Unauthenticated(AuthError),
    /// 403: the token's user is not the path's user.
    Forbidden,
    /// 404: no such route, or no such task for this user.
    NotFound,
    /// 405: the route exists but not with this method; the ones it has, as `Allow` lists
    /// them.
    MethodNotAllowed(String),
    /// 410: a change-feed cursor older than the deletions the API remembers.
    CursorExpired,
    /// 413: the body is larger than the limit.
    PayloadTooLarge {
        /// The limit, in bytes.
        limit_bytes: usize,
    },
    /// 409: a request with the same `Idempotency-Key` is still in progress.
    IdempotencyKeyInProgress,
    /// 412: `If-Match` named other versions than the task's; carries the current ETag.
    PreconditionFailed(String),
    /// 422: the `Idempotency-Key` was used before with another request.
    IdempotencyKeyReused,
    /// 415: a body that is not JSON.
    UnsupportedMediaType,
    /// 409: the user has as many tasks as the quota allows.
    QuotaExceeded {
        /// The quota, in tasks.
        limit: u32,
    },
    /// 429: too many requests in the limiter's period; `retry_after` is that period, in
    /// seconds.
    RateLimited {
        /// Whose budget ran out, for the detail: a user's or a client address's.
        scope: &'static str,
        /// The period, in seconds.
        retry_after: u32,
    },
    /// 500: a required setting is missing or invalid; names the setting for the log.
    Misconfigured(String),
    /// 503: the database could not be reached or timed out; the cause is for the log.
    Unavailable(String),
    /// 500: anything else; the cause is for the log.
    Internal(String),
}

/// An RFC 9457 problem document.
#[derive(Debug, PartialEq)]
pub struct Problem {
    /// A stable identifier of the kind of problem, for programs to switch on (`type`).
    pub kind: &'static str,
    /// A short summary of the kind of problem.
    pub title: &'static str,
    /// The HTTP status code.
    pub status: u16,
    /// A sentence about this occurrence, for a person.
    pub detail: String,
    /// Field-level failures; present on every 400, absent otherwise.
    pub errors: Option<Vec<FieldError>>,
}

impl Problem {
    /// The document's JSON: `type`, `title`, `status`, `detail`, and `errors` when there are
    /// any. Written by hand: it goes out with every refused request, a 401 included.
    pub fn to_json(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(160 + self.detail.len());
        let mut document = json::Object::open(&mut body);
        document
            .str("type", self.kind)
            .str("title", self.title)
            .value("status", &self.status)
            .str("detail", &self.detail);
        if let Some(errors) = &self.errors {
            document.value("errors", errors);
        }
        document.close();
        body
    }
}

impl ApiError {
    /// The HTTP status code. This is the only place that decides it.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) | Self::BadRequest(_) => 400,
            Self::Unauthenticated(_) => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::MethodNotAllowed(_) => 405,
            Self::IdempotencyKeyInProgress | Self::QuotaExceeded { .. } => 409,
            Self::RateLimited { .. } => 429,
            Self::PreconditionFailed(_) => 412,
            Self::IdempotencyKeyReused => 422,
            Self::CursorExpired => 410,
            Self::PayloadTooLarge { .. } => 413,
            Self::UnsupportedMediaType => 415,
            Self::Misconfigured(_) | Self::Internal(_) => 500,
            Self::Unavailable(_) => 503,
        }
    }

    /// The cause to log server-side, for errors whose cause the client must not see.
    pub fn server_cause(&self) -> Option<&str> {
        match self {
            Self::Misconfigured(cause) | Self::Unavailable(cause) | Self::Internal(cause) => {
                Some(cause)
            }
            _ => None,
        }
    }

    /// The response header this error requires besides the content type, if any.
    pub fn header(&self) -> Option<(&'static str, Cow<'static, str>)> {
        match self {
            Self::Unauthenticated(reason) => {
                Some(("WWW-Authenticate", Cow::Borrowed(reason.challenge())))
            }
            Self::MethodNotAllowed(allowed) => Some(("Allow", allowed.clone().into())),
            Self::PreconditionFailed(etag) => Some(("ETag", etag.clone().into())),
            Self::Unavailable(_) => Some(("Retry-After", RETRY_AFTER_SECONDS.to_string().into())),
            Self::RateLimited { retry_after, .. } => {
                Some(("Retry-After", retry_after.to_string().into()))
            }
            _ => None,
        }
    }

    /// The body to send.
    pub fn problem(&self) -> Problem {
        let (kind, title, detail) = match self {
            Self::Validation(_) => (
                problem_type!("validation-error"),
                "Invalid request",
                "The request has invalid fields; see `errors`.".to_owned(),
            ),
            Self::BadRequest(detail) => (
                problem_type!("malformed-body"),
                "Malformed request body",
                detail.clone(),
            ),
            Self::Unauthenticated(reason) => (
                problem_type!("invalid-token"),
                "Unauthorized",
                reason.detail(),
            ),
            Self::Forbidden => (
                problem_type!("forbidden"),
                "Forbidden",
                "The token's user may not access another user's tasks.".to_owned(),
            ),
            Self::NotFound => (
                problem_type!("not-found"),
                "Not found",
                "No such resource exists for this user.".to_owned(),
            ),
            Self::MethodNotAllowed(allowed) => (
                problem_type!("method-not-allowed"),
                "Method not allowed",
                format!("This resource supports {allowed}."),
            ),
            Self::PayloadTooLarge { limit_bytes } => (
                problem_type!("payload-too-large"),
                "Payload too large",
                format!(
                    "The request body is larger than the {} KiB limit.",
                    limit_bytes / 1024
                ),
            ),
            Self::IdempotencyKeyInProgress => (
                problem_type!("idempotency-key-in-progress"),
                "Request in progress",
                "A request with this Idempotency-Key is still being processed; retry it in a moment to get its result.".to_owned(),
            ),
            Self::IdempotencyKeyReused => (
                problem_type!("idempotency-key-reused"),
                "Idempotency-Key reused",
                "This Idempotency-Key was used in the last 24 hours with a different request body; use a new key for a new task.".to_owned(),
            ),
            Self::CursorExpired => (
                problem_type!("cursor-expired"),
                "Full resync needed",
                "This cursor is older than the 30 days of deletions the API remembers: sync again without `since`, and replace what you have.".to_owned(),
            ),
            Self::PreconditionFailed(_) => (
                problem_type!("precondition-failed"),
                "Precondition failed",
                "The task changed since the version you sent in If-Match (changed on another device?); nothing was written. Its current ETag is in the ETag header: reload it, then retry.".to_owned(),
            ),
            Self::QuotaExceeded { limit } => (
                problem_type!("quota-exceeded"),
                "Task quota reached",
                format!("This user has {limit} tasks, the most the API keeps for one user; delete some to add more."),
            ),
            Self::RateLimited { scope, retry_after } => (
                problem_type!("rate-limited"),
                "Too many requests",
                format!("Too many requests from this {scope}; retry in {retry_after} seconds."),
            ),
            Self::UnsupportedMediaType => (
                problem_type!("unsupported-media-type"),
                "Unsupported media type",
                "Send the request body as JSON with `Content-Type: application/json`.".to_owned(),
            ),
            Self::Unavailable(_) => (
                problem_type!("service-unavailable"),
                "Service unavailable",
                format!(
                    "The database is unavailable right now; retry in {RETRY_AFTER_SECONDS} seconds."
                ),
            ),
            Self::Misconfigured(_) | Self::Internal(_) => (
                problem_type!("internal-error"),
                "Internal server error",
                "Something went wrong on our side; the error has been logged.".to_owned(),
            ),
        };
        Problem {
            kind,
            title,
            status: self.status(),
            detail,
            errors: match self {
                Self::Validation(errors) => Some(errors.clone()),
                // Frontends map `errors` on every 400; a body-level failure names the body.
                Self::BadRequest(detail) => Some(vec![FieldError::new("body", detail.clone())]),
                _ => None,
            },
        }
    }
}

/// Storage failures keep their class: retryable ones are 503, the rest 500; a session the
/// statement found ended is a 401, another user's session a 403.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            StoreError::Internal(cause) => Self::Internal(cause),
            StoreError::SessionEnded => Self::Unauthenticated(AuthError::SessionNotFound),
            StoreError::SessionOfAnotherUser => Self::Forbidden,
            StoreError::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            StoreError::IdempotencyKeyInProgress => Self::IdempotencyKeyInProgress,
            StoreError::QuotaExceeded(limit) => Self::QuotaExceeded { limit },
            StoreError::PreconditionFailed(version) => {
                Self::PreconditionFailed(crate::etag::for_version(&version))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_error() -> Vec<ApiError> {
        vec![
            ApiError::Validation(vec![FieldError::new("title", "must not be empty")]),
            ApiError::BadRequest("The body is not valid JSON.".to_owned()),
            ApiError::Unauthenticated(AuthError::Expired),
            ApiError::Forbidden,
            ApiError::NotFound,
            ApiError::MethodNotAllowed(tasks_allowed()),
            ApiError::IdempotencyKeyInProgress,
            ApiError::PreconditionFailed("\"3\"".to_owned()),
            ApiError::IdempotencyKeyReused,
            ApiError::CursorExpired,
            ApiError::PayloadTooLarge {
                limit_bytes: 64 * 1024,
            },
            ApiError::UnsupportedMediaType,
            ApiError::QuotaExceeded { limit: 100_000 },
            ApiError::RateLimited {
                scope: "user",
                retry_after: 60,
            },
            ApiError::Misconfigured("BETTER_AUTH_SECRET is not set".to_owned()),
            ApiError::Unavailable("connection refused".to_owned()),
            ApiError::Internal("relation \"tasks\" does not exist".to_owned()),
        ]
    }

    fn tasks_allowed() -> String {
        "GET, POST, OPTIONS".to_owned()
    }

    #[test]
    fn openapi_json_lists_every_problem_type() {
        let document: serde_json::Value =
            serde_json::from_str(include_str!("../openapi.json")).unwrap();
        let listed = &document["components"]["schemas"]["Problem"]["properties"]["type"]["enum"];
        for error in every_error() {
            let kind = error.problem().kind;
            assert!(
                listed.as_array().unwrap().iter().any(|value| value == kind),
                "openapi.json's Problem.type does not list {kind}"
            );
        }
    }

    #[test]
    fn each_error_maps_to_its_status() {
        let statuses: Vec<u16> = every_error().iter().map(ApiError::status).collect();
        assert_eq!(
            statuses,
            [400, 400, 401, 403, 404, 405, 409, 412, 422, 410, 413, 415, 409, 429, 500, 503, 500]
        );
    }

    #[test]
    fn problem_status_matches_the_http_status_and_type_is_specific() {
        for error in every_error() {
            let problem = error.problem();
            assert_eq!(problem.status, error.status(), "{error:?}");
            assert!(problem.kind.starts_with("tag:edge-task-api,2026:"));
            assert!(!problem.detail.is_empty(), "{error:?}");
        }
        assert_eq!(
            ApiError::NotFound.problem().kind,
            "tag:edge-task-api,2026:not-found"
        );
    }

    #[test]
    fn server_causes_never_reach_the_body() {
        for error in every_error() {
            let body = String::from_utf8(error.problem().to_json()).unwrap();
            if let Some(cause) = error.server_cause() {
                assert!(!body.contains(cause), "{body}");
            }
        }
    }

    #[test]
    fn every_400_and_only_a_400_lists_field_errors() {
        for error in every_error() {
            let value: serde_json::Value =
                serde_json::from_slice(&error.problem().to_json()).unwrap();
            let has_errors = value.get("errors").is_some();
            assert_eq!(has_errors, error.status() == 400, "{error:?}");
        }
        let malformed = ApiError::BadRequest("The body is not valid JSON.".to_owned()).problem();
        assert_eq!(malformed.errors.unwrap()[0].field, "body");
    }

    #[test]
    fn the_document_is_json_of_its_fields_with_errors_only_when_present() {
        let document = |error: ApiError| -> serde_json::Value {
            serde_json::from_slice(&error.problem().to_json()).unwrap()
        };
        assert_eq!(
            String::from_utf8(
                ApiError::Unauthenticated(AuthError::WrongAudience)
                    .problem()
                    .to_json()
            )
            .unwrap(),
            r#"{"type":"tag:edge-task-api,2026:invalid-token","title":"Unauthorized","status":401,"detail":"The token is not meant for this API (`aud`)."}"#
        );
        assert_eq!(
            document(ApiError::Validation(vec![FieldError::new(
                "title",
                "must be \"short\"\n"
            )])),
            serde_json::json!({
                "type": "tag:edge-task-api,2026:validation-error",
                "title": "Invalid request",
                "status": 400,
                "detail": "The request has invalid fields; see `errors`.",
                "errors": [{ "field": "title", "message": "must be \"short\"\n" }],
            })
        );
    }

    #[test]
    fn the_entry_module_answers_a_trap_with_the_same_internal_error() {
        let document =
            String::from_utf8(ApiError::Internal(String::new()).problem().to_json()).unwrap();
        assert!(
            include_str!("entry.mjs").contains(&format!("'{document}'")),
            "src/entry.mjs's INTERNAL_ERROR is {document}"
        );
    }

    #[test]
    fn store_errors_keep_their_class() {
        let unavailable = ApiError::from(StoreError::Unavailable("x".into()));
        let internal = ApiError::from(StoreError::Internal("y".into()));
        assert_eq!((unavailable.status(), internal.status()), (503, 500));
    }

    #[test]
    fn required_headers_are_present() {
        assert_eq!(
            ApiError::Unauthenticated(AuthError::BadSignature).header(),
            Some(("WWW-Authenticate", r#"Bearer error="invalid_token""#.into()))
        );
        // RFC 6750 section 3.1: a request with no credentials at all gets no error code.
        assert_eq!(
            ApiError::Unauthenticated(AuthError::MissingHeader).header(),
            Some(("WWW-Authenticate", "Bearer".into()))
        );
        assert_eq!(
            ApiError::MethodNotAllowed(tasks_allowed()).header(),
            Some(("Allow", "GET, POST, OPTIONS".into()))
        );
        assert!(ApiError::PayloadTooLarge {
            limit_bytes: 64 * 1024
        }
        .problem()
        .detail
        .contains("64 KiB"));
        assert_eq!(
            ApiError::Unavailable(String::new()).header(),
            Some(("Retry-After", "5".into()))
        );
        assert_eq!(ApiError::NotFound.header(), None);
    }
}
