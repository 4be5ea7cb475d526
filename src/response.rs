//! Building responses: JSON bodies, problem documents and empty answers, in one place.
//!
//! Responses are plain [`Reply`] values until the request is done; [`Reply::into_js`] hands
//! each to the runtime in one call.

use crate::{
    domain::{write_task_array, Task},
    error::ApiError,
    runtime::http::Reply,
};

/// One task's JSON, with this status.
pub fn task(status: u16, task: &Task) -> Reply {
    let mut body = Vec::with_capacity(384);
    task.write_json(&mut body);
    json_bytes(status, body)
}

/// A page of tasks as a JSON array.
pub fn tasks(tasks: &[Task]) -> Reply {
    let mut body = Vec::with_capacity(384 * tasks.len() + 2);
    write_task_array(&mut body, tasks);
    json_bytes(200, body)
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
    let mut reply = Reply::new(error.status(), Some(error.problem().to_json()))
        .with("Content-Type", "application/problem+json");
    if let Some((name, value)) = error.header() {
        reply.set(name, value);
    }
    reply
}
