// Builds the worker into build/ with worker-build (release profile: size-tuned, see
// Cargo.toml), then shrinks the wasm with wasm-opt. wrangler.toml's [build] runs this, so
// `wrangler dev` and `wrangler deploy` build the same way. `--dev` skips wasm-opt for a
// faster edit loop.

import { ensureAll, step } from './lib/toolchain.mjs';
import { buildWorker } from './lib/build.mjs';

const tools = ensureAll();
const optimize = !process.argv.includes('--dev');
step(`building the worker (release${optimize ? '' : ', no wasm-opt'})`);
buildWorker(tools, { optimize });
