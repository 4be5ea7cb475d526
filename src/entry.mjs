// The worker's JavaScript entry module: hands each request to the Rust `fetch` handler that
// wasm-bindgen exports (src/lib.rs), bundled into build/index.js by scripts/lib/build.mjs.
//
// A trap in the wasm (an abort, a panic with panic=abort) leaves its memory in an undefined
// state. The worker crate flags that in a shared state object; the next request then resets the
// module (wasm-bindgen's reset-state function) instead of running on corrupt memory.
//
// Not an async function: a request answered without I/O (a 401, a 404) comes back from the
// wasm as a Response, and goes to the runtime as one, with no promise made for it.

import * as wasm from './index.js';

const state = wasm.__worker_init_state();

function flagTrap(error) {
  if (error instanceof WebAssembly.RuntimeError) state.criticalError = true;
  throw error;
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
    } catch (error) {
      flagTrap(error);
    }
    return answer instanceof Promise ? answer.catch(flagTrap) : answer;
  },
};
