//! One function per route. Each parses its input into domain types, authorizes, makes one
//! storage call and builds the response; everything else lives in the modules they call.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use worker::{Request, Response};

use crate::{
    auth::{self, Caller, Denied},
    domain::{ListQuery, TaskId, UserId},
    error::ApiError,
    health,
    request::{self, read_body},
    response::{self, json},
    routes::Route,
    store::{StoreError, TaskStore},
    telemetry::RequestLog,
    Config,
};

/// What a path segment may hold unescaped: RFC 3986's unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

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
        Route::Health => database_state(health::liveness(store).await),
        Route::Ready => database_state(health::readiness(store).await),
        Route::OpenApi => response::text(OPENAPI_DOCUMENT, "application/json"),
        Route::ListTasks { user } => {
            let caller = authorize(request, config, &user, log).await?;
            let url = request.inner().url();
            let pairs = request::query_pairs(&url);
            let query = ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(ApiError::Validation)?;
            let user = caller.user().as_str();
            let after = query
                .cursor
                .as_deref()
                .map(|cursor| config.cursor_key.decode(user, &query, cursor))
                .transpose()
                .map_err(|error| ApiError::Validation(vec![error]))?;
            let mut tasks = store.list(&caller, &query, after.as_ref()).await?;
            // One task more than a page was asked for: it says another page follows.
            let more = tasks.len() > query.limit as usize;
            tasks.truncate(query.limit as usize);
            let response = json(200, &tasks)?;
            match tasks.last().filter(|_| more) {
                Some(last) => {
                    let next = config.cursor_key.encode(user, &query, last);
                    let link = format!(
                        "<{}>; rel=\"next\"",
                        request::with_cursor(&url, &pairs, &next)
                    );
                    response::with_headers(response, [("Link", link)])
                }
                None => Ok(response),
            }
        }
        Route::CreateTask { user } => {
            let caller = authorize(request, config, &user, log).await?;
            let body = read_body(request).await?;
            let task = request::parse_new_task(content_type(request).as_deref(), &body)?;
            let created = store.create(&caller, &task).await?;
            let location = format!(
                "/api/{}/tasks/{}",
                utf8_percent_encode(caller.user().as_str(), PATH_SEGMENT),
                created.id
            );
            response::with_headers(json(201, &created)?, [("Location", location)])
        }
        Route::GetTask { user, task } => {
            let caller = authorize(request, config, &user, log).await?;
            let task = task_id(&task)?;
            found(store.get(&caller, task).await?)
        }
        Route::UpdateTask { user, task } => {
            let caller = authorize(request, config, &user, log).await?;
            let task = task_id(&task)?;
            let body = read_body(request).await?;
            let patch = request::parse_patch(content_type(request).as_deref(), &body)?;
            found(store.update(&caller, task, &patch).await?)
        }
        Route::CompleteTask { user, task } => {
            let caller = authorize(request, config, &user, log).await?;
            let task = task_id(&task)?;
            let body = read_body(request).await?;
            let change = request::parse_completion(content_type(request).as_deref(), &body)?;
            found(store.change_completion(&caller, task, change).await?)
        }
        Route::DeleteTask { user, task } => {
            let caller = authorize(request, config, &user, log).await?;
            let task = task_id(&task)?;
            if store.delete(&caller, task).await? {
                response::empty(204)
            } else {
                Err(ApiError::NotFound)
            }
        }
    }
}

/// `/health` and `/ready`: 200 when the database answered, 503 when it failed for any reason.
fn database_state(result: Result<(), StoreError>) -> Result<Response, ApiError> {
    match result {
        Ok(()) => json(
            200,
            &serde_json::json!({ "status": "ok", "database": "ok" }),
        ),
        Err(StoreError::Unavailable(cause) | StoreError::Internal(cause)) => {
            Err(ApiError::Unavailable(cause))
        }
        Err(other) => Err(ApiError::Internal(format!(
            "a health check returned {other:?}"
        ))),
    }
}

/// Authenticates the bearer credential and checks it against the path's user, before any body
/// is read or any storage call is made. (A session token's owner is checked by the storage
/// call itself; see [`auth::Caller::Session`].)
async fn authorize(
    request: &Request,
    config: &Config,
    path_user: &str,
    log: &mut RequestLog,
) -> Result<Caller, ApiError> {
    let header = request.headers().get("authorization").ok().flatten();
    match auth::authorize(header.as_deref(), path_user, &config.auth, now()).await {
        Ok(caller) => {
            log.user_id = Some(caller.user().as_str().to_owned());
            Ok(caller)
        }
        Err(Denied::Unauthenticated(error)) => Err(ApiError::Unauthenticated(error)),
        Err(Denied::Unavailable(cause)) => Err(ApiError::Unavailable(cause)),
        Err(Denied::Forbidden { token_user }) => {
            let token_user = token_user
                .as_ref()
                .map_or("(unparsable path user)", UserId::as_str);
            log.warn_forbidden(token_user, path_user);
            Err(ApiError::Forbidden)
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_segments_are_percent_encoded() {
        let encode = |segment| utf8_percent_encode(segment, PATH_SEGMENT).to_string();
        assert_eq!(encode("user_1-a.b~c"), "user_1-a.b~c");
        assert_eq!(encode("a b/c@é"), "a%20b%2Fc%40%C3%A9");
    }
}
