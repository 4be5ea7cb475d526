// The worker's JavaScript entry module: hands each request to the Rust `fetch` handler that
// wasm-bindgen exports (src/lib.rs), bundled into build/index.js by scripts/lib/build.mjs.
//
// A trap in the wasm (an abort, a panic with panic=abort) leaves its memory in an undefined
// state. The worker crate flags that in a shared state object; the next request then resets the
// module (wasm-bindgen's reset-state function) instead of running on corrupt memory.

import * as wasm from './index.js';

const state = wasm.__worker_init_state();

export default {
  async fetch(request, env, ctx) {
    if (state.criticalError) {
      wasm.__wbg_reset_state();
      state.criticalError = false;
    }
    try {
      return await wasm.fetch(request, env, ctx);
    } catch (error) {
      if (error instanceof WebAssembly.RuntimeError) state.criticalError = true;
      throw error;
    }
  },
};
