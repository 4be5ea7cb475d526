//! The edge-native task API: a Cloudflare Worker serving user-scoped tasks from PostgreSQL.
//!
//! Routes (all JSON; errors are RFC 9457 problem+json):
//! - `GET /health`: database round trip, no auth
//! - `GET /openapi.json`: the API's OpenAPI document, no auth
//! - `GET|POST /api/{user_id}/tasks`
//! - `GET|PUT|DELETE /api/{user_id}/tasks/{id}`
//! - `PATCH /api/{user_id}/tasks/{id}/complete`
//!
//! A request flows: [`routes::resolve`] → [`Config::for_isolate`] → [`handlers::handle`] (auth,
//! parsing into [`domain`] types, one [`store`] call) → [`error::ApiError`] for every failure →
//! the headers every response carries (CORS, request id) → one [`telemetry`] log line.
//! Run it with `npm start`; test it with `npm test` (see README.md).

pub mod auth;
pub mod config;
pub mod cors;
pub mod cursor;
pub mod domain;
pub mod error;
pub mod etag;
pub mod feed;
pub mod handlers;
pub mod health;
pub mod request;
pub mod response;
pub mod routes;
pub mod store;
pub mod telemetry;

use worker::{event, Context, Date, Env, Request, Response};

pub use config::Config;
use error::ApiError;
use routes::Resolution;
use telemetry::RequestLog;

#[event(fetch)]
async fn fetch(request: Request, env: Env, _context: Context) -> worker::Result<Response> {
    serve(request, &env).await
}

/// Serves one request. Every error becomes a problem response here; the only failure left is
/// the runtime refusing to construct a response at all.
async fn serve(mut request: Request, env: &Env) -> worker::Result<Response> {
    let started = Date::now().as_millis();
    let header = |name: &str| request.headers().get(name).ok().flatten();
    let request_id = header("cf-ray").unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
    let origin = header("origin");
    // The raw method: worker's `Method` enum maps methods it does not know (QUERY, PROPFIND…)
    // to GET, which would serve them as reads instead of answering 405.
    let method = request.inner().method();
    let mut log = RequestLog::new(request_id.clone(), method.clone());

    let resolution = routes::resolve(&method, &request.path());
    // A preflight's response carries its own CORS headers; every other response gets them below.
    let is_preflight = matches!(resolution, Resolution::Preflight { .. });
    let config = Config::for_isolate(env);
    let outcome = match config.as_ref() {
        Err(error) => Err(ApiError::Misconfigured(error.0.clone())),
        Ok(config) => {
            let origin = origin.as_deref();
            route(resolution, &mut request, origin, env, config, &mut log).await
        }
    };
    let response = match outcome {
        Ok(response) => response,
        Err(error) => problem_response(&error, &log)?,
    };

    let mut headers = vec![
        ("X-Request-Id", request_id),
        ("Vary", "Origin".to_owned()),
        ("Cache-Control", "no-store".to_owned()),
        ("X-Content-Type-Options", "nosniff".to_owned()),
    ];
    if !is_preflight {
        // Even when the rest of the configuration failed, the browser may read the 500
        // problem if its origin is allowed.
        let cors = match config.as_ref() {
            Ok(config) => config.cors.response_headers(origin.as_deref()),
            Err(_) => config::cors(env).response_headers(origin.as_deref()),
        };
        headers.extend(cors);
    }
    // Values are ours or echo a header the runtime already accepted, so this cannot fail; if
    // it ever did, the response as built so far beats none, and the log says what happened.
    if let Err(ApiError::Internal(cause)) = response::set_headers(&response, headers) {
        log.error_cause(response.status_code(), &cause);
    }

    log.emit(
        response.status_code(),
        (Date::now().as_millis() - started) as f64,
    );
    Ok(response)
}

async fn route(
    resolution: Resolution,
    request: &mut Request,
    origin: Option<&str>,
    env: &Env,
    config: &Config,
    log: &mut RequestLog,
) -> Result<Response, ApiError> {
    match resolution {
        Resolution::NotFound => Err(ApiError::NotFound),
        Resolution::MethodNotAllowed { allowed, pattern } => {
            log.route = Some(pattern);
            Err(ApiError::MethodNotAllowed(allowed))
        }
        Resolution::Preflight { allowed } => {
            let methods = allowed.header_value();
            let mut headers = config.cors.preflight_headers(origin, &methods);
            headers.push(("Allow", methods));
            response::with_headers(response::empty(204)?, headers)
        }
        Resolution::Serve { route, pattern } => {
            log.route = Some(pattern);
            let store = store::open(&config.database, env)?;
            handlers::handle(route, request, config, store.as_ref(), log).await
        }
    }
}

/// The problem+json response for an error; logs the cause of server-side failures.
fn problem_response(error: &ApiError, log: &RequestLog) -> worker::Result<Response> {
    if let Some(cause) = error.server_cause() {
        log.error_cause(error.status(), cause);
    }
    response::problem(error).map_err(|error| worker::Error::RustError(format!("{error:?}")))
}
