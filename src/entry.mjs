// The worker's JavaScript entry module: hands each request to the Rust `fetch` handler that
// wasm-bindgen exports (src/lib.rs), bundled into build/index.js by scripts/lib/build.mjs.
//
// A trap in the wasm (an abort, a panic with panic=abort) leaves its memory in an undefined
// state. The worker crate flags that in a shared state object (its panic hook sets
// `criticalError`, and so does a trap seen here); the next request then resets the module
// (wasm-bindgen's reset-state function) instead of running on corrupt memory. The requests
// still waiting on the wasm at that moment can never be answered by it, since their futures
// lived in that memory: the trap answers each of them with the worker's internal-error
// problem instead of leaving it to hang.
//
// Not an async function: a request answered without I/O (a 401, a 404) comes back from the
// wasm as a Response, and goes to the runtime as one, with no promise made for it.

import * as wasm from './index.js';

// The problem document src/error.rs writes for an internal error, byte for byte (a unit test
// there keeps the two equal).
const INTERNAL_ERROR =
  '{"type":"tag:edge-task-api,2026:internal-error","title":"Internal server error","status":500,"detail":"Something went wrong on our side; the error has been logged."}';

// What src/cors.rs exposes to an allowed origin; a unit test there keeps the two equal.
const EXPOSED_HEADERS = 'ETag, Location, Link, X-Request-Id, Retry-After, WWW-Authenticate';

/** `origin` as src/cors.rs compares it: trimmed, without a trailing slash, lower-case. */
const normalizeOrigin = (origin) => origin.trim().replace(/\/+$/, '').toLowerCase();

/**
 * The headers every response of the worker carries, for a 500 the wasm could not write: the
 * request id, `Vary`, and CORS as src/cors.rs grants it, so a browser lets the frontend read
 * the problem. Read from the bindings directly: the wasm's memory is not to be trusted here.
 */
function internalError(request, env) {
  const headers = {
    'Content-Type': 'application/problem+json',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'X-Request-Id': request?.headers.get('cf-ray') ?? crypto.randomUUID().replaceAll('-', ''),
    Vary: 'Origin',
  };
  const origin = request?.headers.get('origin');
  const listed = String(env?.ALLOWED_ORIGINS ?? '').split(',').map(normalizeOrigin).filter(Boolean);
  const anyAllowed = listed.includes('*') && env?.ENVIRONMENT !== 'production';
  if (origin && normalizeOrigin(origin) !== 'null' && (anyAllowed || listed.includes(normalizeOrigin(origin)))) {
    headers['Access-Control-Allow-Origin'] = origin;
    headers['Access-Control-Expose-Headers'] = EXPOSED_HEADERS;
    if (String(env?.CORS_ALLOW_CREDENTIALS ?? '').trim() === 'true') headers['Access-Control-Allow-Credentials'] = 'true';
  }
  return new Response(INTERNAL_ERROR, { status: 500, headers });
}

const state = wasm.__worker_init_state();

// For each request the wasm still owes a response, how to give up on it. Both the promise
// and the Response that answers it belong to the request: the runtime settles a promise, and
// lets a Response be used, only within the request that made it. So a trap (in whichever
// request it happens) only settles each owed request's own promise, empty, and each request
// writes its own 500.
const owed = new Set();

let critical = false;
Object.defineProperty(state, 'criticalError', {
  get: () => critical,
  set(value) {
    if (value && !critical) {
      for (const abandon of owed) abandon();
      owed.clear();
    }
    critical = value;
  },
});

// Answers what the wasm could not, and has the next request reset it. Not only a trap
// (`RuntimeError`) means the module is unusable: the glue throws a plain Error for a module a
// trap left terminated, which a callback of an earlier instance can do even after a reset.
function failed(request, env) {
  state.criticalError = true;
  return internalError(request, env);
}

/** A fresh instance when a trap left the last one's memory undefined. */
function recover() {
  if (state.criticalError) {
    wasm.__wbg_reset_state();
    state.criticalError = false;
  }
}

export default {
  // The Cron Triggers' jobs (src/jobs.rs), chosen by the trigger's expression. Owed like a
  // request's answer: a trap while the job waits settles its run as failed instead of leaving
  // it hanging. A throw from the call itself, or a trap, has the next call reset the module;
  // a job that fails (the database down) only fails its run.
  async scheduled(controller, env) {
    recover();
    let abandon;
    const abandoned = new Promise((resolve, reject) => {
      abandon = () => reject(new Error('the worker failed while running the scheduled job'));
    });
    owed.add(abandon);
    try {
      let run;
      try {
        run = wasm.scheduled(controller.cron, env);
      } catch (error) {
        state.criticalError = true;
        throw error;
      }
      await Promise.race([run, abandoned]).catch((error) => {
        if (error instanceof WebAssembly.RuntimeError) state.criticalError = true;
        throw error;
      });
    } finally {
      owed.delete(abandon);
    }
  },

  fetch(request, env, ctx) {
    recover();
    let answer;
    try {
      answer = wasm.fetch(request, env, ctx);
    } catch {
      return failed(request, env);
    }
    if (!(answer instanceof Promise)) return answer;
    let abandon;
    const abandoned = new Promise((resolve) => {
      abandon = resolve;
    });
    owed.add(abandon);
    return Promise.race([answer, abandoned]).then(
      (response) => {
        owed.delete(abandon);
        return response ?? internalError(request, env);
      },
      () => {
        owed.delete(abandon);
        return failed(request, env);
      },
    );
  },
};
