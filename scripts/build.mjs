// Builds the worker into build/ (cargo for wasm32, wasm-bindgen, esbuild, wasm-opt; see
// scripts/lib/build.mjs). wrangler.toml's [build] runs this, so `wrangler dev` and
// `wrangler deploy` build the same way. `--dev` skips wasm-opt for a faster edit loop.

import { buildWorker } from './lib/build.mjs';
import { ensureAll, step } from './lib/toolchain.mjs';

const tools = ensureAll();
const optimize = !process.argv.includes('--dev');
step(`building the worker (release${optimize ? '' : ', no wasm-opt'})`);
buildWorker(tools, { optimize });
