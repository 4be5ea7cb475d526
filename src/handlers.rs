//! One function per route. Each parses its input into domain types, authorizes, makes one
//! storage call and builds the response; everything else lives in the modules they call.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::{
    auth::{self, Caller, Denied},
    cursor::FeedPosition,
    domain::{ChangesQuery, IdempotencyKey, ListQuery, Task, TaskId, UserId},
    error::ApiError,
    etag,
    feed::{self, DELETIONS_KEPT_MS},
    health,
    request::{self, read_body},
    response,
    routes::Route,
    runtime::http::{Incoming, Reply},
    store::{Created, StoreError, TaskStore},
    telemetry::RequestLog,
    Config,
};

/// What a path segment may hold unescaped: RFC 3986's unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The API's OpenAPI 3.1 document: the repository's openapi.json, compacted by build.rs.
const OPENAPI_DOCUMENT: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

/// Serves one resolved route.
pub async fn handle(
    route: Route,
    request: &Incoming,
    config: &Config,
    store: &dyn TaskStore,
    log: &mut RequestLog,
) -> Result<Reply, ApiError> {
    match route {
        Route::Health => database_state(health::liveness(store).await),
        Route::Ready => database_state(health::readiness(store).await),
        Route::OpenApi => Ok(response::text(OPENAPI_DOCUMENT, "application/json")),
        Route::ListTasks { user } => {
            let caller = authorize(request, config, &user, log).await?;
            let url = request.url();
            let pairs = request::query_pairs(url);
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
            let link = tasks.last().filter(|_| more).map(|last| {
                let next = config.cursor_key.encode(user, &query, last);
                format!(
                    "<{}>; rel=\"next\"",
                    request::with_cursor(url, &pairs, &next)
                )
            });
            let etag = etag::for_list(&tasks, link.as_deref());
            if etag::none_match(header(request, "if-none-match").as_deref(), &etag) {
                return not_modified(&etag);
            }
            let reply = response::tasks(&tasks).with("ETag", etag);
            Ok(match link {
                Some(link) => reply.with("Link", link),
                None => reply,
            })
        }
        Route::ListChanges { user } => {
            let caller = authorize(request, config, &user, log).await?;
            let pairs = request::query_pairs(request.url());
            let query = ChangesQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(ApiError::Validation)?;
            let user = caller.user().as_str();
            let now_ms = i64::try_from(crate::runtime::js::now_millis()).unwrap_or(i64::MAX);
            let after = match &query.since {
                None => FeedPosition::start(now_ms),
                Some(since) => config
                    .cursor_key
                    .decode_feed(user, since)
                    .map_err(|error| ApiError::Validation(vec![error]))?,
            };
            if now_ms - after.issued_ms > DELETIONS_KEPT_MS {
                return Err(ApiError::CursorExpired);
            }
            let page = store.changes(&caller, &after, query.limit).await?;
            let page = feed::page(page, &after, query.limit, now_ms, |position| {
                config.cursor_key.encode_feed(user, position)
            });
            Ok(response::json_bytes(200, page.to_json()))
        }
        Route::CreateTask { user } => {
            let caller = authorize(request, config, &user, log).await?;
            let body = read_body(request).await?;
            let task = request::parse_new_task(content_type(request).as_deref(), &body)?;
            // An empty header is as none.
            let key = header(request, "idempotency-key").filter(|key| !key.is_empty());
            let created = match key {
                None => store.create(&caller, &task).await?,
                Some(key) => {
                    let key = IdempotencyKey::parse(&key)
                        .map_err(|error| ApiError::Validation(vec![error]))?;
                    match store.create_once(&caller, &task, &key).await? {
                        Created::New(task) | Created::Replayed(Some(task)) => task,
                        // The key's task has been deleted since; there is nothing to replay.
                        Created::Replayed(None) => return Err(ApiError::NotFound),
                    }
                }
            };
            let location = format!(
                "/api/{}/tasks/{}",
                utf8_percent_encode(caller.user().as_str(), PATH_SEGMENT),
                created.id
            );
            let etag = etag::for_version(&created.version);
            Ok(response::task(201, &created)
                .with("Location", location)
                .with("ETag", etag))
        }
        Route::GetTask { user, task } => {
            let caller = authorize(request, config, &user, log).await?;
            let task = task_id(&task)?;
            let task = store.get(&caller, task).await?.ok_or(ApiError::NotFound)?;
            let etag = etag::for_version(&task.version);
            if etag::none_match(header(request, "if-none-match").as_deref(), &etag) {
                return not_modified(&etag);
            }
            with_etag(&task)
        }
        Route::UpdateTask { user, task } => {
            let caller = authorize(request, config, &user, log).await?;
            let task = task_id(&task)?;
            let body = read_body(request).await?;
            let patch = request::parse_patch(content_type(request).as_deref(), &body)?;
            let precondition = etag::if_match(header(request, "if-match").as_deref());
            let updated = store.update(&caller, task, &patch, &precondition).await?;
            with_etag(&updated.ok_or(ApiError::NotFound)?)
        }
        Route::CompleteTask { user, task } => {
            let caller = authorize(request, config, &user, log).await?;
            let task = task_id(&task)?;
            let body = read_body(request).await?;
            let change = request::parse_completion(content_type(request).as_deref(), &body)?;
            let precondition = etag::if_match(header(request, "if-match").as_deref());
            let changed = store
                .change_completion(&caller, task, change, &precondition)
                .await?;
            with_etag(&changed.ok_or(ApiError::NotFound)?)
        }
        Route::DeleteTask { user, task } => {
            let caller = authorize(request, config, &user, log).await?;
            let task = task_id(&task)?;
            let precondition = etag::if_match(header(request, "if-match").as_deref());
            if store.delete(&caller, task, &precondition).await? {
                Ok(response::empty(204))
            } else {
                Err(ApiError::NotFound)
            }
        }
    }
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

/// Authenticates the bearer credential and checks it against the path's user, before any body
/// is read or any storage call is made. (A session token's owner is checked by the storage
/// call itself; see [`auth::Caller::Session`].)
async fn authorize(
    request: &Incoming,
    config: &Config,
    path_user: &str,
    log: &mut RequestLog,
) -> Result<Caller, ApiError> {
    let header = request.header("authorization");
    match auth::authorize(header.as_deref(), path_user, &config.auth, arrival(log)).await {
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

/// The request's arrival as a date, which tokens are checked against: authorization is each
/// route's first step, and the runtime's clock stands still until a request's first I/O, so
/// a fresh read of the clock would give the same time.
fn arrival(log: &RequestLog) -> chrono::DateTime<chrono::Utc> {
    let millis = i64::try_from(log.arrived_ms()).unwrap_or(i64::MAX);
    chrono::DateTime::from_timestamp_millis(millis)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// A malformed id names no task, so it is a 404 like any other missing task.
fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).ok_or(ApiError::NotFound)
}

/// A task with its ETag.
fn with_etag(task: &Task) -> Result<Reply, ApiError> {
    Ok(response::task(200, task).with("ETag", etag::for_version(&task.version)))
}

/// 304: the client's copy (If-None-Match) is current.
fn not_modified(etag: &str) -> Result<Reply, ApiError> {
    Ok(response::empty(304).with("ETag", etag.to_owned()))
}

fn content_type(request: &Incoming) -> Option<String> {
    header(request, "content-type")
}

fn header(request: &Incoming, name: &str) -> Option<String> {
    request.header(name)
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
