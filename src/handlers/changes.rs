//! The change feed: `GET /api/{user_id}/changes`.

use super::Context;
use crate::{
    auth::Caller,
    cursor::FeedPosition,
    domain::ChangesQuery,
    error::ApiError,
    feed::{self, DELETIONS_KEPT_MS},
    request, response,
    runtime::{http::Reply, js},
};

/// `GET /api/{user_id}/changes`: the tasks changed and deleted since `since`, a page at a
/// time, each page with the cursor of the next; 410 once `since` is older than deletions are
/// kept.
pub async fn list(context: &Context<'_>, caller: &Caller) -> Result<Reply, ApiError> {
    let pairs = request::query_pairs(context.request.url());
    let query = ChangesQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(ApiError::Validation)?;
    let user = caller.user().as_str();
    let cursor_key = &context.config.cursor_key;
    let now_ms = i64::try_from(js::now_millis()).unwrap_or(i64::MAX);
    let after = match &query.since {
        None => FeedPosition::start(now_ms),
        Some(since) => cursor_key
            .decode_feed(user, since)
            .map_err(|error| ApiError::Validation(vec![error]))?,
    };
    if now_ms - after.issued_ms > DELETIONS_KEPT_MS {
        return Err(ApiError::CursorExpired);
    }
    let page = context.store.changes(caller, &after, query.limit).await?;
    if feed::missed_pruned(&page, &after) {
        return Err(ApiError::CursorExpired);
    }
    let page = feed::page(page, &after, query.limit, now_ms, |position| {
        cursor_key.encode_feed(user, position)
    });
    Ok(response::json_bytes(200, page.to_json()))
}
