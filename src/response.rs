//! Building responses: JSON bodies, problem documents, empty answers and headers, in one place.
//!
//! Every header the worker sends goes through [`set_headers`], so there is one rule for a value
//! the runtime refuses: an internal error naming the header, never a panic.

use serde::Serialize;
use worker::Response;

use crate::error::ApiError;

/// A JSON response with this status.
pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|error| ApiError::Internal(error.to_string()))?;
    json_bytes(status, body)
}

/// A JSON response of an already serialized body.
pub fn json_bytes(status: u16, body: Vec<u8>) -> Result<Response, ApiError> {
    bytes(status, body, "application/json")
}

/// A response of this status, body and content type.
fn bytes(status: u16, body: Vec<u8>, content_type: &str) -> Result<Response, ApiError> {
    let response = Response::from_bytes(body)
        .map_err(runtime)?
        .with_status(status);
    with_headers(response, [("Content-Type", content_type)])
}

/// A response with no body (204, 304, or a preflight answer).
pub fn empty(status: u16) -> Result<Response, ApiError> {
    Ok(Response::empty().map_err(runtime)?.with_status(status))
}

/// A text body of this content type (the OpenAPI document).
pub fn text(body: &str, content_type: &str) -> Result<Response, ApiError> {
    with_headers(
        Response::ok(body).map_err(runtime)?,
        [("Content-Type", content_type)],
    )
}

/// The RFC 9457 problem+json response for an error, with the headers the error requires.
pub fn problem(error: &ApiError) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(&error.problem())
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    let response = bytes(error.status(), body, "application/problem+json")?;
    with_headers(response, error.headers())
}

/// The response with each header set, replacing any value it had.
pub fn with_headers<N, V>(
    response: Response,
    headers: impl IntoIterator<Item = (N, V)>,
) -> Result<Response, ApiError>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    set_headers(&response, headers)?;
    Ok(response)
}

/// Sets each header on the response, replacing any value it had.
pub fn set_headers<N, V>(
    response: &Response,
    headers: impl IntoIterator<Item = (N, V)>,
) -> Result<(), ApiError>
where
    N: AsRef<str>,
    V: AsRef<str>,
{
    for (name, value) in headers {
        let (name, value) = (name.as_ref(), value.as_ref());
        response
            .headers()
            .set(name, value)
            .map_err(|error| ApiError::Internal(format!("setting {name}: {error}")))?;
    }
    Ok(())
}

fn runtime(error: worker::Error) -> ApiError {
    ApiError::Internal(format!("building a response: {error}"))
}
