// The worker's build: worker-build (cargo → wasm-bindgen → JS shim) and our own wasm-opt pass.
//
// worker-build's built-in wasm-opt step optimizes for speed (-O) and keeps the 160 KB name
// section; we run it with --no-opt and apply -Oz without names ourselves, which makes the
// deployed module about a quarter smaller gzipped (cold starts parse and compile less).

import { join } from 'node:path';
import { bin, ROOT, run, workerBuildEnv } from './toolchain.mjs';

/** The built module. */
export const WASM_PATH = join(ROOT, 'build', 'index_bg.wasm');

/** Builds build/index.js and build/index_bg.wasm. */
export function buildWorker(tools, { optimize = true } = {}) {
  run(tools.workerBuild, ['--release', '--no-opt'], { env: workerBuildEnv(tools) });
  if (optimize) {
    run(bin('wasm-opt'), ['-Oz', '--all-features', '--strip-debug', '--strip-producers', WASM_PATH, '-o', WASM_PATH]);
  }
}
