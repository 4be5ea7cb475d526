// `npm run deploy`: `wrangler deploy` with the project's toolchain (Node 22, the cached Rust
// tools). Extra arguments go to wrangler, e.g. `npm run deploy -- --dry-run --outdir dist`.

import { ensureAll, projectEnv, run } from './lib/toolchain.mjs';

ensureAll();
run('wrangler', ['deploy', ...process.argv.slice(2)], { env: projectEnv() });
