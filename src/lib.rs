//! The edge-native task API: a Cloudflare Worker serving user-scoped tasks from PostgreSQL.
//!
//! The routes are [`routes`]' table, and openapi.json documents them (all JSON; errors are
//! RFC 9457 problem+json).
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
pub mod jobs;
pub mod request;
pub mod response;
pub mod routes;
pub mod runtime;
pub mod store;
pub mod telemetry;

use wasm_bindgen::prelude::*;
use worker::{js_sys, web_sys, Env};

use config::Config;
use error::ApiError;
use routes::Resolution;
use runtime::http::{Incoming, Reply};
use telemetry::RequestLog;

/// The fetch handler src/entry.mjs calls: the runtime's request in, its response out (or a
/// promise of it).
///
/// Exported directly rather than through worker's `#[event(fetch)]`, whose wrapper converts
/// to and from worker's own request and response types, compiling them (and their streams)
/// into the module for a conversion this worker never needs. [`driver::run`] polls the
/// request's future: a request that needs no I/O (a 401, a 404, a preflight, a cached
/// `/health`) is answered by this call, anything else by the promise it returns.
#[wasm_bindgen]
pub fn fetch(request: web_sys::Request, env: Env, _context: JsValue) -> JsValue {
    runtime::driver::run(async move {
        serve(Incoming::new(request), &env)
            .await
            .into_js()
            .map(JsValue::from)
            .map_err(|cause| {
                // Only a header the runtime refuses gets here; none of ours can be one.
                telemetry::error_line("the runtime refused a response", &cause);
                JsValue::from(js_sys::Error::new(
                    "the worker could not build its response",
                ))
            })
    })
}

/// The scheduled handler src/entry.mjs calls with the trigger's cron expression: a promise
/// that settles when the job it names is done, and rejects (the runtime records the run as
/// failed) with a cause that names no secret.
#[wasm_bindgen]
pub fn scheduled(cron: String, env: Env) -> JsValue {
    runtime::driver::run(async move {
        jobs::run(&cron, &env)
            .await
            .map(|()| JsValue::UNDEFINED)
            .map_err(|cause| {
                telemetry::error_line("a scheduled job failed", &cause);
                JsValue::from(js_sys::Error::new("the scheduled job failed; see the log"))
            })
    })
}

/// Serves one request. Every error becomes a problem response here; the only failure left is
/// the runtime refusing to construct a response at all.
async fn serve(request: Incoming, env: &Env) -> Reply {
    let started = runtime::js::now_millis();
    let request_id = request
        .header("cf-ray")
        .unwrap_or_else(|| telemetry::generated_request_id(started));
    let origin = request.header("origin");
    // The raw method: methods outside the standard set (QUERY, PROPFIND…) must reach the
    // router as they are, to be answered 405 rather than served as reads.
    let method = request.method().to_owned();
    let mut log = RequestLog::new(request_id.clone(), method.clone(), started);

    let resolution = routes::resolve(&method, request.path());
    // A preflight's response carries its own CORS headers; every other response gets them below.
    let is_preflight = matches!(resolution, Resolution::Preflight { .. });
    let config = Config::for_isolate(env);
    let outcome = match config.as_ref() {
        Err(error) => Err(ApiError::Misconfigured(error.0.clone())),
        Ok(config) => {
            let origin = origin.as_deref();
            route(resolution, &request, origin, env, config, &mut log).await
        }
    };
    let mut reply = match outcome {
        Ok(reply) => reply,
        Err(error) => problem_response(&error, &log),
    };

    reply.set("X-Request-Id", request_id);
    reply.set("Vary", "Origin");
    reply.set("Cache-Control", "no-store");
    reply.set("X-Content-Type-Options", "nosniff");
    if !is_preflight {
        // Even when the rest of the configuration failed, the browser may read the 500
        // problem if its origin is allowed.
        let cors = match config.as_ref() {
            Ok(config) => config.cors.response_headers(origin.as_deref()),
            Err(_) => config::cors(env).response_headers(origin.as_deref()),
        };
        for (name, value) in cors {
            reply.set(name, value);
        }
    }

    log.emit(reply.status(), runtime::js::now_millis());
    reply
}

async fn route(
    resolution: Resolution,
    request: &Incoming,
    origin: Option<&str>,
    env: &Env,
    config: &Config,
    log: &mut RequestLog,
) -> Result<Reply, ApiError> {
    match resolution {
        Resolution::NotFound => Err(ApiError::NotFound),
        Resolution::MethodNotAllowed { allowed, pattern } => {
            log.route = Some(pattern);
            Err(ApiError::MethodNotAllowed(allowed.header_value()))
        }
        Resolution::Preflight { allowed } => {
            let methods = allowed.header_value();
            let mut reply = response::empty(204);
            for (name, value) in config.cors.preflight_headers(origin, &methods) {
                reply.set(name, value);
            }
            reply.set("Allow", methods);
            Ok(reply)
        }
        Resolution::Serve { route, pattern } => {
            log.route = Some(pattern);
            let store = store::open(&config.database, env);
            let context = handlers::Context {
                request,
                config,
                store: store.as_ref(),
                env,
            };
            handlers::handle(route, &context, log).await
        }
    }
}

/// The problem+json response for an error; logs the cause of server-side failures.
fn problem_response(error: &ApiError, log: &RequestLog) -> Reply {
    if let Some(cause) = error.server_cause() {
        log.error_cause(error.status(), cause);
    }
    response::problem(error)
}
