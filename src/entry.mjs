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

function internalError() {
  return new Response(INTERNAL_ERROR, {
    status: 500,
    headers: {
      'Content-Type': 'application/problem+json',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
  });
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
function failed() {
  state.criticalError = true;
  return internalError();
}

export default {
  fetch(request, env, ctx) {
    if (state.criticalError) {
      wasm.__wbg_reset_state();
      state.criticalError = false;
    }
    let answer;
    try {
      answer = wasm.fetch(request, env, ctx);
    } catch {
      return failed();
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
        return response ?? internalError();
      },
      () => {
        owed.delete(abandon);
        return failed();
      },
    );
  },
};
