// Builds the worker into build/ with worker-build (release profile: size-tuned, see
// Cargo.toml). wrangler.toml's [build] runs this, so `wrangler dev` and `wrangler deploy`
// build the same way. `--dev` skips wasm-opt for a faster edit loop.

import { ensureAll, run, step, workerBuildEnv } from './lib/toolchain.mjs';

const tools = ensureAll();
const dev = process.argv.includes('--dev');
step(`building the worker (${dev ? 'release, no wasm-opt' : 'release'})`);
run(tools.workerBuild, ['--release', ...(dev ? ['--no-opt'] : [])], { env: workerBuildEnv(tools) });
