//! One module per resource; each handler parses its input into domain types, makes one
//! storage call and builds the response. This module dispatches a resolved route to its
//! handler, authorizing every user route on the way, and holds the request's header helpers.

pub mod changes;
pub mod health;
pub mod tasks;

use worker::Env;

use crate::{
    auth::{self, Caller, Denied},
    config::Config,
    domain::UserId,
    error::ApiError,
    response,
    routes::{Route, UserRoute},
    runtime::{
        http::{Incoming, Reply},
        ratelimit,
    },
    store::TaskStore,
    telemetry::RequestLog,
};

/// Everything a handler may read: the request, the configuration, the store and the
/// worker's bindings.
pub struct Context<'a> {
    /// The request.
    pub request: &'a Incoming,
    /// The isolate's configuration.
    pub config: &'a Config,
    /// The store the configuration selects.
    pub store: &'a dyn TaskStore,
    /// The worker's bindings (the rate limiters).
    pub env: &'a Env,
}

/// Serves one resolved route.
pub async fn handle(
    route: Route,
    context: &Context<'_>,
    log: &mut RequestLog,
) -> Result<Reply, ApiError> {
    match route {
        Route::Health => health::health(context).await,
        Route::Ready => {
            // A monitor needs a few a minute; every one goes to the database.
            limit(context, Budget::Client).await?;
            health::ready(context).await
        }
        Route::OpenApi => Ok(health::openapi()),
        // Every user route is authorized here, first, before any body is read: a handler
        // cannot forget to, and gets the caller it proved.
        Route::User { user, route } => {
            let caller = authorize(context, &user, log).await?;
            let caller = &caller;
            match route {
                UserRoute::ListTasks => tasks::list(context, caller).await,
                UserRoute::ListChanges => changes::list(context, caller).await,
                UserRoute::CreateTask => tasks::create(context, caller).await,
                UserRoute::GetTask { task } => tasks::get(context, caller, &task).await,
                UserRoute::UpdateTask { task } => tasks::update(context, caller, &task).await,
                UserRoute::CompleteTask { task } => tasks::complete(context, caller, &task).await,
                UserRoute::DeleteTask { task } => tasks::delete(context, caller, &task).await,
            }
        }
    }
}

/// Authenticates the bearer credential and checks it against the path's user, before any body
/// is read or any storage call is made. (A session token's owner is checked by the storage
/// call itself; see [`auth::Caller::Session`].) Every outcome spends from a rate limit before
/// any database work: a verified user's own budget; for a session token, whose user only
/// the statement knows, the client address's; for a failed authentication, the address's
/// budget of failures.
async fn authorize(
    context: &Context<'_>,
    path_user: &str,
    log: &mut RequestLog,
) -> Result<Caller, ApiError> {
    let header = context.request.header("authorization");
    match auth::authorize(
        header.as_deref(),
        path_user,
        &context.config.auth,
        arrival(log),
    )
    .await
    {
        Ok(caller) => {
            log.user_id = Some(caller.user().as_str().to_owned());
            let budget = match &caller {
                Caller::User(user) => Budget::User(user),
                Caller::Session { .. } => Budget::Address,
            };
            limit(context, budget).await?;
            Ok(caller)
        }
        Err(Denied::Unauthenticated(error)) => {
            limit(context, Budget::Client).await?;
            Err(ApiError::Unauthenticated(error))
        }
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

/// Whose rate limit a request spends from.
enum Budget<'a> {
    /// A verified user's requests.
    User(&'a UserId),
    /// The requests of a client address whose user is not known yet (a session token).
    Address,
    /// A client address's failed authentications and readiness checks.
    Client,
}

/// Spends one request from `budget`: 429 past it. A missing binding, or one that does not
/// answer, limits nothing: the API stays up without its limiter.
async fn limit(context: &Context<'_>, budget: Budget<'_>) -> Result<(), ApiError> {
    let limits = &context.config.limits;
    let address = || {
        let address = context.request.header("cf-connecting-ip");
        format!(
            "address:{}",
            client_network(address.as_deref().unwrap_or("unknown"))
        )
    };
    let (binding, key, scope) = match budget {
        Budget::User(user) => (limits.requests, format!("user:{}", user.as_str()), "user"),
        Budget::Address => (limits.requests, address(), "client address"),
        Budget::Client => (limits.client, address(), "client address"),
    };
    match ratelimit::allows(context.env, binding, &key).await {
        Some(false) => Err(ApiError::RateLimited {
            scope,
            retry_after: limits.period_seconds,
        }),
        Some(true) | None => Ok(()),
    }
}

/// The network a client address speaks for: an IPv4 address itself, an IPv6 address's /64
/// (one subscriber's, who can use any address in it), so that changing the address within
/// it never buys a fresh budget.
fn client_network(address: &str) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            let [a, b, c, d, ..] = v6.segments();
            format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
        }
        _ => address.to_owned(),
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

/// 304: the client's copy (If-None-Match) is current.
pub(crate) fn not_modified(etag: &str) -> Result<Reply, ApiError> {
    Ok(response::empty(304).with("ETag", etag.to_owned()))
}

pub(crate) fn content_type(request: &Incoming) -> Option<String> {
    header(request, "content-type")
}

pub(crate) fn header(request: &Incoming, name: &str) -> Option<String> {
    request.header(name)
}

#[cfg(test)]
mod tests {
    use super::client_network;

    #[test]
    fn an_ipv6_client_is_limited_by_its_64_and_an_ipv4_one_by_its_address() {
        assert_eq!(
            client_network("2001:db8:1:2:aaaa::1"),
            client_network("2001:db8:1:2:ffff:1:2:3")
        );
        assert_eq!(client_network("2001:db8:1:2::9"), "2001:db8:1:2::/64");
        assert_ne!(
            client_network("2001:db8:1:3::1"),
            client_network("2001:db8:1:2::1")
        );
        assert_eq!(client_network("203.0.113.7"), "203.0.113.7");
        assert_eq!(client_network("unknown"), "unknown");
    }
}
