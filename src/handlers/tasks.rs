//! The task routes: `GET|POST /api/{user_id}/tasks`, `GET|PUT|DELETE
//! /api/{user_id}/tasks/{id}` and `PATCH /api/{user_id}/tasks/{id}/complete`.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::{content_type, header, not_modified, Context};
use crate::{
    auth::Caller,
    domain::{tasks_fitting_page, IdempotencyKey, ListQuery, Task, TaskId},
    error::ApiError,
    etag,
    request::{self, read_body},
    response,
    runtime::http::Reply,
    store::Created,
};

/// What a path segment may hold unescaped: RFC 3986's unreserved characters.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `GET /api/{user_id}/tasks`: a page of the user's tasks, filtered and sorted, with a `next`
/// link when more follow and a strong ETag over the page.
pub async fn list(context: &Context<'_>, caller: &Caller) -> Result<Reply, ApiError> {
    let url = context.request.url();
    let pairs = request::query_pairs(url);
    let query = ListQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(ApiError::Validation)?;
    let user = caller.user().as_str();
    let cursor_key = &context.config.cursor_key;
    let after = query
        .cursor
        .as_deref()
        .map(|cursor| cursor_key.decode(user, &query, cursor))
        .transpose()
        .map_err(|error| ApiError::Validation(vec![error]))?;
    let mut tasks = context.store.list(caller, &query, after.as_ref()).await?;
    // One task more than a page was asked for: it says another page follows. So does a page
    // cut short by its byte budget.
    tasks.truncate(query.limit as usize + 1);
    let fits = tasks_fitting_page(&tasks[..tasks.len().min(query.limit as usize)]);
    let more = tasks.len() > fits;
    tasks.truncate(fits);
    let link = tasks.last().filter(|_| more).map(|last| {
        let next = cursor_key.encode(user, &query, last);
        format!(
            "<{}>; rel=\"next\"",
            request::with_cursor(url, &pairs, &next)
        )
    });
    let etag = etag::for_list(&tasks, link.as_deref());
    if etag::none_match(header(context.request, "if-none-match").as_deref(), &etag) {
        return not_modified(&etag);
    }
    let reply = response::tasks(&tasks).with("ETag", etag);
    Ok(match link {
        Some(link) => reply.with("Link", link),
        None => reply,
    })
}

/// `POST /api/{user_id}/tasks`: 201 with the task, its `Location` and ETag; under an
/// `Idempotency-Key`, a retry answers the first request's task.
pub async fn create(context: &Context<'_>, caller: &Caller) -> Result<Reply, ApiError> {
    let request = context.request;
    let body = read_body(request).await?;
    let task = request::parse_new_task(content_type(request).as_deref(), &body)?;
    // An empty header is a 400 (the key's 1-255 rule): ignored, it would let a retry create
    // a second task.
    let key = header(request, "idempotency-key");
    let quota = context.config.task_quota;
    let created = match key {
        None => context.store.create(caller, &task, quota).await?,
        Some(key) => {
            let key =
                IdempotencyKey::parse(&key).map_err(|error| ApiError::Validation(vec![error]))?;
            match context
                .store
                .create_once(caller, &task, &key, quota)
                .await?
            {
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

/// `GET /api/{user_id}/tasks/{id}`: the task with its ETag, or 304 when `If-None-Match` has it.
pub async fn get(context: &Context<'_>, caller: &Caller, task: &str) -> Result<Reply, ApiError> {
    let task = task_id(task)?;
    let task = context
        .store
        .get(caller, task)
        .await?
        .ok_or(ApiError::NotFound)?;
    let etag = etag::for_version(&task.version);
    if etag::none_match(header(context.request, "if-none-match").as_deref(), &etag) {
        return not_modified(&etag);
    }
    with_etag(&task)
}

/// `PUT /api/{user_id}/tasks/{id}`: a partial update, under `If-Match` when sent.
pub async fn update(context: &Context<'_>, caller: &Caller, task: &str) -> Result<Reply, ApiError> {
    let task = task_id(task)?;
    let request = context.request;
    let body = read_body(request).await?;
    let patch = request::parse_patch(content_type(request).as_deref(), &body)?;
    let precondition = etag::if_match(header(request, "if-match").as_deref());
    let updated = context
        .store
        .update(caller, task, &patch, &precondition)
        .await?;
    with_etag(&updated.ok_or(ApiError::NotFound)?)
}

/// `PATCH /api/{user_id}/tasks/{id}/complete`: no body toggles, `{"completed": b}` sets.
pub async fn complete(
    context: &Context<'_>,
    caller: &Caller,
    task: &str,
) -> Result<Reply, ApiError> {
    let task = task_id(task)?;
    let request = context.request;
    let body = read_body(request).await?;
    let change = request::parse_completion(content_type(request).as_deref(), &body)?;
    let precondition = etag::if_match(header(request, "if-match").as_deref());
    let changed = context
        .store
        .change_completion(caller, task, change, &precondition)
        .await?;
    with_etag(&changed.ok_or(ApiError::NotFound)?)
}

/// `DELETE /api/{user_id}/tasks/{id}`: 204, under `If-Match` when sent.
pub async fn delete(context: &Context<'_>, caller: &Caller, task: &str) -> Result<Reply, ApiError> {
    let task = task_id(task)?;
    let precondition = etag::if_match(header(context.request, "if-match").as_deref());
    if context.store.delete(caller, task, &precondition).await? {
        Ok(response::empty(204))
    } else {
        Err(ApiError::NotFound)
    }
}

/// A malformed id names no task, so it is a 404 like any other missing task.
fn task_id(raw: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(raw).ok_or(ApiError::NotFound)
}

/// A task with its ETag.
fn with_etag(task: &Task) -> Result<Reply, ApiError> {
    Ok(response::task(200, task).with("ETag", etag::for_version(&task.version)))
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
