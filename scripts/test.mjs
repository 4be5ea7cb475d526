// `npm test` and `npm run test:full`: install what is missing, then run every check in order.
//
// `npm test` (the everyday loop):
//   1. formatting and lints (rustfmt, clippy on the native and wasm32 targets)
//   2. unit tests of the pure Rust code (cargo test)
//   3. the worker's release build (skipped steps when nothing changed; see scripts/lib/build.mjs)
//   4. the node suites in tests/, in one process: the end-to-end suites over both transports
//      (one PostgreSQL and one worker per transport, shared by every suite), the contract and
//      type checks, the Neon stand-in's fidelity tests with Neon's driver, and the script
//      tests (platform selection, clean exits).
// `npm run test:full` (what CI runs) adds Schemathesis, the browser test, the database failing
// under load (tests/faults.test.mjs), the benchmark's quick run, the benchmark's reference
// worker against ours (it is bundled with wrangler) and the deploy dry run.
//
// Extra arguments are test files to run instead of the tier's (`npm test -- tests/auth.test.mjs`).
// The suites run in a process group of their own; an interrupt stops the whole group.

import { buildWorker } from './lib/build.mjs';
import { spawnManaged, stopProcess } from './lib/processes.mjs';
import { ensureAll, projectEnv, run, step, testIsolationNone } from './lib/toolchain.mjs';

/** The suites of `npm test`. */
const CORE = [
  'tests/platform.test.mjs',
  'tests/local-tooling.test.mjs',
  'tests/processes.test.mjs',
  'tests/openapi.test.mjs',
  'tests/reference-sql.test.mjs',
  'tests/neon-standin.test.mjs',
  'tests/relay.test.mjs',
  'tests/bench-chart.test.mjs',
  'tests/entry.test.mjs',
  'tests/tasks.test.mjs',
  'tests/task-model.test.mjs',
  'tests/completed-at.test.mjs',
  'tests/sync.test.mjs',
  'tests/validation.test.mjs',
  'tests/auth.test.mjs',
  'tests/better-auth.test.mjs',
  'tests/better-auth-tokens.test.mjs',
  'tests/platform-standins.test.mjs',
  'tests/security-review.test.mjs',
  'tests/rate-limits.test.mjs',
  'tests/cleanup.test.mjs',
  'tests/cors.test.mjs',
  'tests/health.test.mjs',
  'tests/security.test.mjs',
  'tests/postgres-auth.test.mjs',
];
/** What `npm run test:full` adds. */
const FULL = ['tests/schemathesis.test.mjs', 'tests/browser.test.mjs', 'tests/faults.test.mjs', 'tests/bench.test.mjs', 'tests/reference.test.mjs', 'tests/deploy.test.mjs'];

const args = process.argv.slice(2);
const full = args.includes('--full');
const files = args.filter((arg) => !arg.startsWith('--'));

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

const suites = files.length > 0 ? files : full ? [...CORE, ...FULL] : CORE;
step(`node suites (${suites.length} files, one process)`);
const child = spawnManaged(process.execPath, ['--test', testIsolationNone(), '--test-reporter=spec', ...suites], {
  stdio: 'inherit',
  env: projectEnv(),
});
const status = await new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
// Anything a suite left behind in the group goes too.
await stopProcess(child);
if (status !== 0) {
  console.error(`node suites failed (${status})`);
  process.exit(1);
}
