//! Building responses: JSON bodies, problem documents and empty answers, in one place.
//!
//! Responses are plain [`Reply`] values until the request is done; [`Reply::into_js`] hands
//! each to the runtime in one call.

use serde::Serialize;

use crate::{error::ApiError, http::Reply};

/// A JSON response with this status.
pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Reply, ApiError> {
    let body = serde_json::to_vec(value).map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(json_bytes(status, body))
}

/// A JSON response of an already serialized body.
pub fn json_bytes(status: u16, body: Vec<u8>) -> Reply {
    Reply::new(status, Some(body)).with("Content-Type", "application/json")
}

/// A response with no body (204, 304, or a preflight answer).
pub fn empty(status: u16) -> Reply {
    Reply::new(status, None)
}

/// A text body of this content type (the OpenAPI document).
pub fn text(body: &str, content_type: &'static str) -> Reply {
    Reply::new(200, Some(body.as_bytes().to_vec())).with("Content-Type", content_type)
}

/// The RFC 9457 problem+json response for an error, with the headers the error requires.
pub fn problem(error: &ApiError) -> Reply {
    // A problem document is plain strings and numbers: serializing it cannot fail.
    let body = serde_json::to_vec(&error.problem()).unwrap_or_default();
    let mut reply =
        Reply::new(error.status(), Some(body)).with("Content-Type", "application/problem+json");
    for (name, value) in error.headers() {
        reply.set(name, value);
    }
    reply
}
