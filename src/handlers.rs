//! One function per route. Each parses its input into domain types, authorizes, makes one
//! storage call and builds the response; everything else lives in the modules they call.

use serde::Serialize;
use worker::{Request, Response};

use crate::{
    auth,
    domain::{ListQuery, TaskId, UserId},
    error::ApiError,
    request::{self, read_body},
    routes::Route,
    store::{StoreError, TaskStore},
    telemetry::RequestLog,
    Config,
};

/// The API's OpenAPI 3.1 document, compiled in from the repository's openapi.json.
const OPENAPI_DOCUMENT: &str = include_str!("../openapi.json");

/// Serves one resolved route.
pub async fn handle(
    route: Route,
    request: &mut Request,
    config: &Config,
    store: &dyn TaskStore,
    log: &mut RequestLog,
) -> Result<Response, ApiError> {
    match route {
        Route::Health => health(store).await,
        Route::OpenApi => {
            let response = Response::ok(OPENAPI_DOCUMENT)
                .map_err(|error| ApiError::Internal(error.to_string()))?;
            set_header(response, "Content-Type", "application/json")
        }
        Route::ListTasks { user } => {
            let user = authorize(request, config, &user, log)?;
            let pairs = request::query_pairs(&request.inner().url());
            let query = ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(ApiError::Validation)?;
            json(200, &store.list(&user, &query).await?)
        }
        Route::CreateTask { user } => {
            let user = authorize(request, config, &user, log)?;
            let body = read_body(request).await?;
            let task = request::parse_new_task(content_type(request).as_deref(), &body)?;
            let created = store.create(&user, &task).await?;
            let location = format!(
                "/api/{}/tasks/{}",
                encode_segment(user.as_str()),
                created.id
            );
            let response = json(201, &created)?;
            set_header(response, "Location", &location)
        }
        Route::GetTask { user, task } => {
            let user = authorize(request, config, &user, log)?;
            let task = task_id(&task)?;
            found(store.get(&user, task).await?)
        }
        Route::UpdateTask { user, task } => {
            let user = authorize(request, config, &user, log)?;
            let task = task_id(&task)?;
            let body = read_body(request).await?;
            let patch = request::parse_patch(content_type(request).as_deref(), &body)?;
            found(store.update(&user, task, &patch).await?)
        }
        Route::CompleteTask { user, task } => {
            let user = authorize(request, config, &user, log)?;
            let task = task_id(&task)?;
            let body = read_body(request).await?;
            let change = request::parse_completion(content_type(request).as_deref(), &body)?;
            found(store.change_completion(&user, task, change).await?)
        }
        Route::DeleteTask { user, task } => {
            let user = authorize(request, config, &user, log)?;
            let task = task_id(&task)?;
            if store.delete(&user, task).await? {
                Response::empty()
                    .map(|response| response.with_status(204))
                    .map_err(|error| ApiError::Internal(error.to_string()))
            } else {
                Err(ApiError::NotFound)
            }
        }
    }
}

/// `GET /health`: 200 after a real database round trip, 503 when it fails for any reason.
async fn health(store: &dyn TaskStore) -> Result<Response, ApiError> {
    match store.ping().await {
        Ok(()) => json(
            200,
            &serde_json::json!({ "status": "ok", "database": "ok" }),
        ),
        Err(StoreError::Unavailable(cause) | StoreError::Internal(cause)) => {
            Err(ApiError::Unavailable(cause))
        }
    }
}

/// Authenticates the bearer token, then checks that its user is the path's user. Both happen
/// before any body is read or any storage call is made.
fn authorize(
    request: &Request,
    config: &Config,
    path_user: &str,
    log: &mut RequestLog,
) -> Result<UserId, ApiError> {
    let header = request.headers().get("authorization").ok().flatten();
    let user = auth::authenticate(header.as_deref(), &config.auth, now())
        .map_err(ApiError::Unauthenticated)?;
    log.user_id = Some(user.as_str().to_owned());
    if user.as_str() != path_user {
        log.warn_forbidden(user.as_str(), path_user);
        return Err(ApiError::Forbidden);
    }
    Ok(user)
}

/// The runtime's clock. Read through `Date.now()` rather than chrono's clock feature, which
/// would add its own JavaScript bindings to the wasm for the same number.
fn now() -> chrono::DateTime<chrono::Utc> {
    let millis = i64::try_from(worker::Date::now().as_millis()).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// A malformed id names no task, so it is a 404 like any other missing task.
fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).ok_or(ApiError::NotFound)
}

fn found<T: Serialize>(value: Option<T>) -> Result<Response, ApiError> {
    json(200, &value.ok_or(ApiError::NotFound)?)
}

fn content_type(request: &Request) -> Option<String> {
    request.headers().get("content-type").ok().flatten()
}

fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|error| ApiError::Internal(error.to_string()))?;
    let response = Response::from_bytes(body)
        .map_err(|error| ApiError::Internal(error.to_string()))?
        .with_status(status);
    set_header(response, "Content-Type", "application/json")
}

fn set_header(response: Response, name: &str, value: &str) -> Result<Response, ApiError> {
    response
        .headers()
        .set(name, value)
        .map_err(|error| ApiError::Internal(format!("setting {name}: {error}")))?;
    Ok(response)
}

/// Percent-encodes a path segment, leaving RFC 3986 unreserved characters as they are.
fn encode_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_segments_are_percent_encoded() {
        assert_eq!(encode_segment("user_1-a.b~c"), "user_1-a.b~c");
        assert_eq!(encode_segment("a b/c@é"), "a%20b%2Fc%40%C3%A9");
    }
}
