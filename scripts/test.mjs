// `npm test`: installs what is missing, then runs every check and test.
//   1. formatting and lints (rustfmt, clippy on the native and wasm32 targets)
//   2. unit tests of the pure Rust code (cargo test)
//   3. the worker's release build (worker-build)
//   4. end-to-end tests (node --test tests/): each file starts a fresh PostgreSQL and the
//      built worker on workerd, and talks HTTP to it; plus the deploy dry run and the Neon
//      stand-in's fidelity tests with Neon's own driver.

import { buildWorker } from './lib/build.mjs';
import { ensureAll, projectEnv, run, step } from './lib/toolchain.mjs';

const tools = ensureAll();

step('rustfmt --check');
run('cargo', ['fmt', '--check']);
step('clippy (native, tests included)');
run('cargo', ['clippy', '--quiet', '--all-targets', '--', '-D', 'warnings']);
step('clippy (wasm32)');
run('cargo', ['clippy', '--quiet', '--target', 'wasm32-unknown-unknown', '--', '-D', 'warnings']);

step('unit tests (cargo test)');
run('cargo', ['test', '--quiet']);

step('building the worker (release)');
buildWorker(tools);

step('end-to-end tests (node --test)');
// One file at a time: the deploy test rebuilds build/ while others serve it, and two files
// may install system packages with apt, which takes a lock.
run(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', 'tests/*.test.mjs'], { env: projectEnv() });
