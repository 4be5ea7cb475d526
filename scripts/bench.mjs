// `npm run bench`: the worker's release build on plain `workerd serve` under load, against
// the floors measured in the same run on the same machine, so that changes are judged by
// ratios rather than by absolute times on a noisy machine.
//
// For each connection model (through PgBouncer in transaction mode, the local stand-in for
// Hyperdrive's pool; direct to PostgreSQL, as `wrangler dev` connects; and, when asked, over
// the local stand-in for Neon's HTTP SQL endpoint) it:
//   1. times the cold start (process spawn to the first 200 from /health);
//   2. runs every scenario with wrk on loopback after a warm-up, at each concurrency level,
//      charging the worker its process CPU time per request and counting its database round
//      trips per request;
//   3. runs every scenario again, briefly, at c=16 with a network delay injected each way;
//   4. does the same for the reference worker (reference/: TypeScript with Hono, node-postgres
//      and jose, bundled by wrangler), on the same data, for the scenarios it serves;
//   5. runs `ready` on the I/O floor (lib/bench/floor-worker.mjs): plain JavaScript making the
//      same database round trip and nothing else, so the CPU a worker spends above it is its
//      own code's rather than the runtime's I/O (trust authentication only: --auth trust, or
//      the neon model);
//   6. runs the database floors: pgbench with a new connection per transaction (-C),
//      executing the worker's own SQL statements through the same connection model, once
//      with the same authentication as the worker and once without any (trust), the cost of
//      connections and statements alone.
// Both workers reach their database (or the Neon endpoint) through the same relay
// (lib/bench/relay.mjs), which counts round trips and injects the delay, so they are measured
// identically. The runtime floor is the 401 scenario: a bad signature, refused before any
// database work.
// Results go to stdout as tables and to results/bench-<time>[-label].json, and the main ratios
// ours/reference (CPU per request and p50 per scenario) to a chart beside it, the same name
// with .svg (lib/bench/chart.mjs).
//
//   npm run bench                       the full run (about 12 minutes)
//   npm run bench -- --quick            a smoke run (what `npm test` runs; no timing asserted)
//   npm run bench -- --label before     names the run in the JSON and its file name
//   npm run bench -- --auth trust       PostgreSQL and PgBouncer without SCRAM, for comparison
//   npm run bench -- --compare A.json B.json   two runs side by side; runs nothing
//   npm run bench -- --chart A.json     draws A.json's ratios ours/reference as A.svg; runs nothing
//   npm run bench -- --profile get      a V8 CPU profile of the worker serving `get`, instead
//   npm run bench -- --models neon      ours over Neon's HTTP endpoint against the reference's neon()
//   npm run bench -- --help             every option

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { ratioChartSvg, ratioPanels } from './lib/bench/chart.mjs';
import { processCpuMs, processTreeCpuMs } from './lib/bench/cpu.mjs';
import { runPgbench } from './lib/bench/pgbench.mjs';
import { connectInspector, formatProfileSummary, profileWhile, summarizeProfile } from './lib/bench/profile.mjs';
import { DEFAULT_DELAY_MS, startRelay } from './lib/bench/relay.mjs';
import { formatComparison, formatReport } from './lib/bench/report.mjs';
import { JWKS_ISSUER, TASKS_PER_USER, Workload } from './lib/bench/workload.mjs';
import { runWrk, sendRaw } from './lib/bench/wrk.mjs';
import { buildWorker, WASM_PATH } from './lib/build.mjs';
import { startPgBouncer } from './lib/pgbouncer.mjs';
import { migrate } from './lib/migrations.mjs';
import { startNeonStandin } from './lib/neon-standin.mjs';
import { freePort } from './lib/net.mjs';
import { startPostgres } from './lib/postgres.mjs';
import { removeTemporaryDir, temporaryDir } from './lib/processes.mjs';
import { bundleReference, ourUploadSize, REFERENCE_COMPATIBILITY_FLAGS, REFERENCE_UNSUPPORTED } from './lib/reference.mjs';
import { ensureBenchTools, machine } from './lib/system.mjs';
import { sleep } from './lib/timing.mjs';
import { ensureAll, ensureNode22, ROOT, step } from './lib/toolchain.mjs';
import { startWorkerd } from './lib/workerd.mjs';

const HELP = `Usage: npm run bench -- [options]

  --quick                 smoke run: 1 s per scenario at one concurrency level, short floors
  --no-build              use build/ as it is (default: build the worker first)
  --label TEXT            a name for this run, written into the JSON and its file name
  --auth scram|trust      how clients authenticate to PostgreSQL and PgBouncer (default scram)
  --models LIST           pgbouncer,direct,neon (default pgbouncer,direct; neon: Neon's HTTP
                          endpoint, the local stand-in, for ours and the reference's neon())
  --scenarios LIST        ready,unauthorized,list,list-jwks,list-session,page-first,page-deep,search,tag,
                          get,update,toggle,create,delete (default all)
  --concurrency LIST      connection counts (default 1,16; quick: 2)
  --duration S            seconds per measurement (default 3)
  --warmup S              seconds of warm-up per scenario and model (default 1)
  --floor-duration S      seconds per pgbench floor run (default 2)
  --cold-starts N         worker starts timed per model (default 3; quick: 1)
  --reference             also measure the reference worker (reference/); default in a full run
  --no-reference          do not (the default with --quick)
  --floor                 also run the I/O floor worker (GET /ready, nothing else) on the ready
                          scenario; default in a full run: for the neon model always, for the
                          others under --auth trust (it authenticates with trust only)
  --no-floor              do not (the default with --quick)
  --delay-ms N            the delay the relay adds each way for the p50-with-delay measurement,
                          at c=16 (default 5; quick: 0; 0 skips that measurement)
  --out DIR               where the JSON goes (default results/)
  --markdown              print the tables as markdown (for docs/benchmark.md)
  --compare A.json B.json print two result files side by side and exit
  --report A.json         print a result file's tables again (with --markdown, for docs/benchmark.md)
  --chart A.json          draw a result file's ratios ours/reference per scenario (CPU per
                          request, p50) as an SVG beside it (A.svg) and exit; a run with the
                          reference worker writes that chart beside its JSON anyway
  --profile LIST          instead of measuring, record a V8 CPU profile of the worker serving
                          each listed scenario (--duration s at the highest concurrency) into
                          results/profile-*.cpuprofile and print where its CPU time goes
`;

const MODELS = ['pgbouncer', 'direct', 'neon'];
const SCENARIOS = ['ready', 'unauthorized', 'list', 'list-jwks', 'list-session', 'page-first', 'page-deep', 'search', 'tag', 'get', 'update', 'toggle', 'create', 'delete'];
/** The role the floor without key derivation connects as (trusted by PostgreSQL and PgBouncer). */
const TRUST_ROLE = 'bench_trust';
/** The concurrency of the measurement with an injected delay. */
const DELAY_CONCURRENCY = 16;
/** The I/O floor worker, as workerd runs it: its module and the encoders it imports, no bundling (names as under scripts/lib). */
const IO_FLOOR_MODULES = [
  { name: 'bench/floor-worker.mjs', type: 'esModule', path: join(ROOT, 'scripts', 'lib', 'bench', 'floor-worker.mjs') },
  { name: 'pg-wire.mjs', type: 'esModule', path: join(ROOT, 'scripts', 'lib', 'pg-wire.mjs') },
];

const list = (text) => text.split(',').map((item) => item.trim()).filter(Boolean);
/** Where the chart of a result file goes: beside it, .svg for .json. */
const chartPath = (json) => `${json.replace(/\.json$/i, '')}.svg`;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
const cores = cpus().length;

/** Reads the command line into the run's settings (written into the JSON as they are). */
function parseSettings() {
  const { values: options, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      quick: { type: 'boolean', default: false },
      'no-build': { type: 'boolean', default: false },
      label: { type: 'string', default: '' },
      auth: { type: 'string', default: 'scram' },
      models: { type: 'string', default: 'pgbouncer,direct' },
      scenarios: { type: 'string', default: SCENARIOS.join(',') },
      concurrency: { type: 'string' },
      duration: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '1' },
      'floor-duration': { type: 'string', default: '2' },
      'cold-starts': { type: 'string' },
      reference: { type: 'boolean' },
      'no-reference': { type: 'boolean', default: false },
      floor: { type: 'boolean' },
      'no-floor': { type: 'boolean', default: false },
      'delay-ms': { type: 'string' },
      out: { type: 'string', default: join(ROOT, 'results') },
      markdown: { type: 'boolean', default: false },
      compare: { type: 'boolean', default: false },
      report: { type: 'string' },
      chart: { type: 'string' },
      profile: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const whole = (text, name, min, max) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < min || value > max) throw new Error(`--${name} must be a whole number, ${min}-${max}`);
    return value;
  };
  const quick = options.quick;
  const settings = {
    quick,
    label: options.label,
    auth: { scram: 'scram-sha-256', trust: 'trust' }[options.auth],
    models: list(options.models),
    scenarios: list(options.scenarios),
    concurrency: (options.concurrency ? list(options.concurrency) : quick ? ['2'] : ['1', '16']).map((c) => whole(c, 'concurrency', 1, 256)),
    durationS: quick ? 1 : whole(options.duration, 'duration', 1, 60),
    // Quick runs warm up once per model (before the first scenario), full runs before each.
    warmupS: quick ? 1 : whole(options.warmup, 'warmup', 0, 60),
    floorDurationS: whole(options['floor-duration'], 'floor-duration', 1, 60),
    // Quick runs give each pgbench client this many transactions instead of a duration.
    floorTransactions: quick ? 10 : undefined,
    coldStarts: whole(options['cold-starts'] ?? (quick ? '1' : '3'), 'cold-starts', 1, 20),
    readUsers: quick ? 20 : 200,
    writeUsers: quick ? 20 : 200,
    tasksPerUser: TASKS_PER_USER,
    profile: options.profile ? list(options.profile) : undefined,
    // A profile is of our worker only.
    reference: !options['no-reference'] && !options.profile && (options.reference ?? !quick),
    // Whether the I/O floor runs (on `ready`, for the models it can authenticate to; see main).
    ioFloor: !options['no-floor'] && !options.profile && (options.floor ?? !quick),
    delayMs: whole(options['delay-ms'] ?? (quick ? '0' : String(DEFAULT_DELAY_MS)), 'delay-ms', 0, 1000),
    delayConcurrency: DELAY_CONCURRENCY,
  };
  if (!settings.auth) throw new Error('--auth must be scram or trust');
  for (const model of settings.models) if (!MODELS.includes(model)) throw new Error(`unknown model ${model}`);
  for (const name of [...settings.scenarios, ...(settings.profile ?? [])]) {
    if (!SCENARIOS.includes(name)) throw new Error(`unknown scenario ${name}`);
  }
  if (settings.profile) settings.scenarios = settings.profile;
  if (options.floor && settings.auth !== 'trust' && settings.models.some((model) => model !== 'neon')) {
    throw new Error('--floor: the I/O floor authenticates to PostgreSQL with trust only; add --auth trust (or use --models neon)');
  }
  // The runtime floor is needed for the ratios, so it always runs.
  if (!settings.scenarios.includes('unauthorized')) settings.scenarios.unshift('unauthorized');
  return { options, positionals, settings };
}

// ---------------------------------------------------------------------------------------------
// Everything started is stopped on the way out, in reverse order: on success, error or Ctrl-C.

const cleanups = [];
const defer = (fn) => cleanups.push(fn);
async function cleanUp() {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()();
    } catch (error) {
      console.error(`cleanup: ${error.message}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Builds the worker unless told not to; returns the wasm's size, raw and gzip -9. */
function prepareWorker(noBuild) {
  if (noBuild) {
    ensureNode22();
    step('worker build: using build/ as it is (--no-build)');
  } else {
    const tools = ensureAll();
    step('building the worker (release)');
    buildWorker(tools);
  }
  for (const file of ['index.js', 'index_bg.wasm']) {
    if (!existsSync(join(ROOT, 'build', file))) {
      throw new Error(`build/${file} is missing: run \`npm run build\` (or drop --no-build)`);
    }
  }
  const wasm = readFileSync(WASM_PATH);
  return { path: 'build/index_bg.wasm', bytes: wasm.length, gzipBytes: gzipSync(wasm, { level: 9 }).length };
}

/** The installed versions of these npm packages. */
function packageVersions(names) {
  return Object.fromEntries(names.map((name) => [name, JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version]));
}

function versionOf(command, args, pattern) {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  return `${result.stdout ?? ''}${result.stderr ?? ''}`.match(pattern)?.[1] ?? 'unknown';
}

/**
 * Sets the cluster's client authentication: with `trustAll` (--auth trust) every role is
 * trusted; otherwise only TRUST_ROLE, which the floor without key derivation uses, is.
 */
async function configureAuthentication(postgres, client, { trustAll }) {
  const path = join(postgres.dataDir, 'pg_hba.conf');
  let text = readFileSync(path, 'utf8');
  if (trustAll) {
    text = text
      .split('\n')
      .map((line) => (line.trim().startsWith('#') ? line : line.replace(/scram-sha-256|md5|password/, 'trust')))
      .join('\n');
  } else {
    await client.query(`CREATE ROLE ${TRUST_ROLE} LOGIN`);
    // tasks, and the tables its triggers write (tombstones of deletions).
    await client.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON tasks, task_deletions TO ${TRUST_ROLE}`);
    await client.query(`GRANT USAGE ON SEQUENCE bench_floor_ids, bench_delete_ids TO ${TRUST_ROLE}`);
    // The first matching line wins.
    text = `host all ${TRUST_ROLE} 127.0.0.1/32 trust\n${text}`;
  }
  writeFileSync(path, text);
  await client.query('SELECT pg_reload_conf()');
}

/** Waits until the worker has logged every request it was sent (bounded: 2 s). */
async function settle(count) {
  let last = -1;
  for (let i = 0; i < 40 && count() !== last; i++) {
    last = count();
    await sleep(50);
  }
}

/**
 * Starts a worker (`start`: startWorkerd's database, vars, modules, compatibilityFlags)
 * `coldStarts` times, timing spawn to the first 200 from `readyPath` (/health, which makes one
 * database round trip; the I/O floor serves only /ready, which makes the same), and keeps the
 * last one running. `onLine` receives the running worker's output lines.
 */
async function startTimedWorkers({ start, coldStarts, readyPath = '/health', onLine, inspectorPort }) {
  const samplesMs = [];
  for (let i = 1; i <= coldStarts; i++) {
    const worker = await startWorkerd({
      ...start,
      ready: { path: readyPath, status: 200, intervalMs: 2 },
      logLimit: 64 * 1024,
      onLine: i === coldStarts ? onLine : undefined,
      inspectorPort: i === coldStarts ? inspectorPort : undefined,
    });
    samplesMs.push(worker.startupMs);
    if (i === coldStarts) {
      defer(() => worker.stop());
      return { worker, coldStart: { medianMs: median(samplesMs), samplesMs } };
    }
    await worker.stop();
  }
  throw new Error('unreachable');
}

/** Sends each scenario's first request, so a broken setup fails with a reason, not a table of errors. */
async function probeScenarios({ model, worker, workload, scenarios, client }) {
  for (const scenario of scenarios) {
    // A scenario whose request depends on the data (a cursor deep in a list) finds it first.
    await scenario.prepare?.(worker.url);
    const first = scenario.name === 'delete' ? await workload.reserveDeletes(client, 1) : 0;
    const [raw] = scenario.requests(worker.url, { first, count: 1 });
    const answer = await sendRaw(worker.url, raw);
    if (scenario.name === 'delete') workload.usedDeletesThrough(first);
    if (answer.status !== scenario.expect) {
      throw new Error(
        `${model}/${scenario.name}: expected ${scenario.expect}, got ${answer.status}: ${answer.text.slice(0, 300)}\n` +
          worker.logs().slice(-2000),
      );
    }
  }
}

/**
 * Runs load against one running worker: `load(scenario, concurrency, seconds)` resolves with
 * the figures, charging the worker its process CPU and counting the relay's database round
 * trips per request served (null with `countRoundTrips` false: the HTTP of Neon's endpoint has
 * no database protocol to count). `rps` keeps `${scenario}/${c}` → req/s, to size the delete pool.
 */
function loadRunner({ worker, requestsServed, dbCpuMs, relay, countRoundTrips, workload, client, workDir }) {
  const rps = new Map();
  const load = async (scenario, concurrency, durationS) => {
    let first = 0;
    let count = 0;
    if (scenario.name === 'delete') {
      // Enough never-used tasks for the whole run: 1.5x what `get` managed, plus a margin.
      const expected = rps.get(`get/${concurrency}`) ?? (rps.size > 0 ? Math.max(...rps.values()) : 2000);
      count = Math.min(200_000, Math.ceil(expected * durationS * 1.5) + 4 * concurrency + 100);
      first = await workload.reserveDeletes(client, count);
    }
    const requests = scenario.requests(worker.url, { first, count });
    const before = { worker: processCpuMs(worker.pid), db: dbCpuMs(), served: requestsServed(), relay: relay.snapshot() };
    const result = await runWrk({ origin: worker.url, requests, expect: scenario.expect, concurrency, seconds: durationS, tempDir: workDir });
    await settle(requestsServed);
    const relayed = relay.snapshot();
    if (scenario.name === 'delete') workload.usedDeletesThrough(first + result.highestIndex);
    // Requests the worker served, including any wrk abandoned in flight at the end of the run.
    const served = requestsServed() - before.served || result.requests;
    const perRequest = (field) => (countRoundTrips ? (relayed[field] - before.relay[field]) / served : null);
    return {
      rps: result.rps,
      p50Ms: result.p50Ms,
      p90Ms: result.p90Ms,
      p99Ms: result.p99Ms,
      maxMs: result.maxMs,
      meanMs: result.meanMs,
      requests: result.requests,
      errors: result.errors,
      statuses: result.statuses,
      socketErrors: result.socketErrors,
      durationS: result.durationS,
      workerRequests: served,
      workerCpuMsPerRequest: (processCpuMs(worker.pid) - before.worker) / served,
      dbCpuMsPerRequest: (dbCpuMs() - before.db) / served,
      dbRoundTripsPerRequest: perRequest('roundTrips'),
      dbConnectionsPerRequest: perRequest('connections'),
      loadgenCpuMs: result.cpuMs,
      loadgenCpuPct: (100 * result.cpuMs) / (result.durationS * 1000 * cores),
    };
  };
  return { load, rps };
}

/** The API side of one worker and connection model: every scenario at every concurrency level. */
async function measureApi({ model, who, settings, runner, scenarios }) {
  const rows = [];
  const name = who === 'ours' ? model : `${model}/${who}`;
  const highest = Math.max(...settings.concurrency);
  for (const [index, scenario] of scenarios.entries()) {
    if (settings.warmupS > 0 && (!settings.quick || index === 0)) {
      step(`${name}/${scenario.name}: warm-up at c=${highest}`);
      await runner.load(scenario, highest, settings.warmupS);
    }
    for (const concurrency of settings.concurrency) {
      const api = await runner.load(scenario, concurrency, settings.durationS);
      runner.rps.set(`${scenario.name}/${concurrency}`, api.rps);
      const trips = api.dbRoundTripsPerRequest === null ? '' : `, ${api.dbRoundTripsPerRequest.toFixed(2)} db round trips/req`;
      step(
        `${name}/${scenario.name} c=${concurrency}: ${api.rps.toFixed(0)} req/s, p50 ${api.p50Ms.toFixed(2)} ms, ` +
          `worker ${api.workerCpuMsPerRequest.toFixed(3)} ms CPU/req${trips}, ${api.errors} errors`,
      );
      rows.push({ model, scenario: scenario.name, label: scenario.label, expect: scenario.expect, concurrency, api });
    }
  }
  return rows;
}

/** Every scenario once more, at DELAY_CONCURRENCY with the relay adding `settings.delayMs` each way. */
async function measureDelayed({ model, who, settings, runner, relay, scenarios }) {
  const rows = [];
  const concurrency = settings.delayConcurrency;
  relay.setDelay(settings.delayMs);
  try {
    for (const scenario of scenarios) {
      const api = await runner.load(scenario, concurrency, settings.durationS);
      step(`${who === 'ours' ? model : `${model}/${who}`}/${scenario.name} c=${concurrency}, +${settings.delayMs} ms each way: p50 ${api.p50Ms.toFixed(2)} ms, ${api.errors} errors`);
      rows.push({ worker: who, model, scenario: scenario.name, concurrency, delayMs: settings.delayMs, api });
    }
  } finally {
    relay.setDelay(0);
  }
  return rows;
}

/** One database floor (pgbench -C) of one connection model for every scenario that has one. */
async function measureFloor({ model, kind, target, settings, dbCpuMs, workload, scenarios, client, workDir }) {
  const results = new Map(); // `${scenario}/${c}` → figures
  for (const scenario of scenarios) {
    const floor = scenario.floor();
    if (!floor) continue;
    for (const concurrency of settings.concurrency) {
      const transactions = settings.floorTransactions;
      if (scenario.name === 'delete') {
        const expected = transactions
          ? transactions * concurrency
          : (results.get(`get/${concurrency}`)?.tps ?? 5000) * settings.floorDurationS * 1.5;
        const first = await workload.reserveDeletes(client, Math.min(200_000, Math.ceil(expected) + 4 * concurrency + 100));
        await client.query("SELECT setval('bench_delete_ids', $1, false)", [first]);
      }
      const beforeDb = dbCpuMs();
      const run = await runPgbench({
        target,
        scripts: floor.scripts,
        defines: floor.defines,
        concurrency,
        seconds: settings.floorDurationS,
        transactions,
        tempDir: workDir,
      });
      const dbCpu = dbCpuMs() - beforeDb;
      if (scenario.name === 'delete') {
        const { rows } = await client.query('SELECT last_value FROM bench_delete_ids');
        workload.usedDeletesThrough(Number(rows[0].last_value));
      }
      step(`${model}/${scenario.name} c=${concurrency}: ${kind} floor ${run.tps.toFixed(0)} tx/s, ${run.errors} errors`);
      if (run.errorDetail) console.error(run.errorDetail);
      results.set(`${scenario.name}/${concurrency}`, {
        auth: target.auth,
        tps: run.tps,
        p50Ms: run.p50Ms,
        p99Ms: run.p99Ms,
        transactions: run.transactions,
        errors: run.errors,
        clientCpuMsPerTransaction: run.cpuMs / run.transactions,
        clientCpuPct: (100 * run.cpuMs) / (run.durationS * 1000 * cores),
        dbCpuMsPerTransaction: dbCpu / run.transactions,
      });
    }
  }
  return results;
}

/** --profile: a CPU profile of the worker per scenario, at the highest concurrency. */
async function profileScenarios({ model, settings, worker, inspectorPort, workload, scenarios, client, workDir, out, stamp }) {
  const inspector = await connectInspector(inspectorPort);
  try {
    const concurrency = Math.max(...settings.concurrency);
    for (const scenario of scenarios) {
      const load = async (seconds) => {
        let first = 0;
        let count = 0;
        if (scenario.name === 'delete') {
          count = 5000 * seconds;
          first = await workload.reserveDeletes(client, count);
        }
        const requests = scenario.requests(worker.url, { first, count });
        const result = await runWrk({ origin: worker.url, requests, expect: scenario.expect, concurrency, seconds, tempDir: workDir });
        if (scenario.name === 'delete') workload.usedDeletesThrough(first + result.highestIndex);
        return result;
      };
      if (settings.warmupS > 0) await load(settings.warmupS);
      let result;
      const profile = await profileWhile(inspector, async () => {
        result = await load(settings.durationS);
      });
      const file = join(out, `profile-${stamp}-${model}-${scenario.name}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      const title = `${model}/${scenario.name} c=${concurrency}, ${result.rps.toFixed(0)} req/s, ${result.errors} errors`;
      console.log(`\n${formatProfileSummary(title, summarizeProfile(profile))}`);
      step(`profile: ${file}`);
    }
  } finally {
    inspector.close();
  }
}

async function main() {
  const { options, positionals, settings } = parseSettings();
  if (options.help) {
    console.log(HELP);
    return;
  }
  if (options.compare) {
    if (positionals.length !== 2) throw new Error('--compare needs two result files: before.json after.json');
    const [before, after] = positionals.map((path) => JSON.parse(readFileSync(path, 'utf8')));
    console.log(formatComparison(before, after));
    return;
  }
  if (options.report) {
    console.log(formatReport(JSON.parse(readFileSync(options.report, 'utf8')), { markdown: options.markdown }));
    return;
  }
  if (options.chart) {
    const svg = chartPath(options.chart);
    writeFileSync(svg, ratioChartSvg(JSON.parse(readFileSync(options.chart, 'utf8'))));
    console.log(`chart: ${svg}`);
    return;
  }

  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z').replace('T', '-');
  const label = settings.label.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 40);
  const wasm = prepareWorker(options['no-build']);
  const tools = ensureBenchTools();
  const scram = settings.auth === 'scram-sha-256';
  const floorKinds = scram ? ['same-auth', 'trust'] : ['same-auth'];
  const { models, concurrency, scenarios: names } = settings;
  // pgbench speaks PostgreSQL's protocol, not Neon's HTTP: the neon model has no floors.
  const floorModels = models.filter((model) => model !== 'neon');
  const referenceNames = names.filter((name) => !REFERENCE_UNSUPPORTED[name]);
  const floorSeconds = settings.quick ? 0 : settings.floorDurationS;
  const workerSeconds = (count) =>
    settings.warmupS * (settings.quick ? 1 : count) + count * settings.durationS * (concurrency.length + (settings.delayMs > 0 ? 1 : 0));
  // The I/O floor needs trust authentication, which Neon's endpoint does not ask for at all.
  const ioFloorModels = settings.ioFloor && names.includes('ready') ? models.filter((model) => model === 'neon' || !scram) : [];
  const loadSeconds =
    models.length * (workerSeconds(names.length) + (settings.reference ? workerSeconds(referenceNames.length) : 0)) +
    ioFloorModels.length * (settings.warmupS + settings.durationS * concurrency.length) +
    floorModels.length * concurrency.length * floorKinds.length * (names.length - 1) * floorSeconds;
  step(
    `plan: ${models.join(' + ')} x ${names.length} scenarios x c=${concurrency.join(',')}` +
      `${settings.reference ? `, then the reference worker (${referenceNames.length} of them)` : ''}` +
      `${ioFloorModels.length > 0 ? `, then the I/O floor on ready (${ioFloorModels.join(', ')})` : ''}` +
      `${settings.delayMs > 0 ? `, again at c=${settings.delayConcurrency} with +${settings.delayMs} ms each way` : ''}, ` +
      `${settings.durationS} s per measurement, ${floorKinds.length} database floors, about ${loadSeconds} s of load`,
  );
  const withoutFloor = settings.ioFloor && names.includes('ready') ? models.filter((model) => !ioFloorModels.includes(model)) : [];
  if (withoutFloor.length > 0) step(`I/O floor: not for ${withoutFloor.join(', ')} (it authenticates with trust only: --auth trust)`);
  const workDir = temporaryDir('edge-task-api-bench-');
  defer(() => removeTemporaryDir(workDir));

  let reference;
  if (settings.reference) {
    step('reference worker: bundling reference/ (wrangler deploy --dry-run)');
    reference = bundleReference(join(workDir, 'reference-bundle'));
    step(`reference worker: ${reference.upload.kib} KiB, ${reference.upload.gzipKib} KiB gzip; our build/ the same way (nothing compiled)`);
    reference.ours = ourUploadSize(workDir);
  }

  step('PostgreSQL: starting a temporary cluster');
  const postgres = await startPostgres();
  defer(() => postgres.stop());
  await migrate(postgres.url, { quiet: true });
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: postgres.url });
  // A server going away (Ctrl-C reaches PostgreSQL too) is reported by the query that fails.
  client.on('error', () => {});
  await client.connect();
  defer(() => client.end());
  const postmasterPid = Number(readFileSync(join(postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);

  const secret = randomBytes(32).toString('base64url');
  const workload = new Workload({ secret, readUsers: settings.readUsers, writeUsers: settings.writeUsers });
  step(`seeding: ${settings.readUsers} users x ${TASKS_PER_USER} tasks, ${settings.writeUsers} users to create for, a pool to delete from`);
  await workload.seed(client);
  await configureAuthentication(postgres, client, { trustAll: !scram });
  const scenarios = workload.scenarios().filter((scenario) => names.includes(scenario.name));

  let bouncer;
  if (models.includes('pgbouncer')) {
    step(`PgBouncer: starting (transaction mode, auth ${settings.auth})`);
    const { rows } = await client.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [postgres.user]);
    bouncer = await startPgBouncer({
      postgres,
      auth: settings.auth,
      secret: rows[0].rolpassword,
      trustUsers: scram ? [TRUST_ROLE] : [],
      poolSize: Math.max(20, ...concurrency),
    });
    defer(() => bouncer.stop());
  }
  let standin;
  if (models.includes('neon')) {
    step('Neon HTTP endpoint: starting the local stand-in');
    standin = await startNeonStandin();
    defer(() => standin.close());
  }

  const versions = {
    workerd: versionOf(join(ROOT, 'node_modules', '.bin', 'workerd'), ['--version'], /workerd\s+(\S+)/),
    postgres: (await client.query('SHOW server_version')).rows[0].server_version,
    pgbouncer: versionOf(tools.pgbouncer, ['--version'], /PgBouncer\s+(\S+)/i),
    wrk: versionOf(tools.wrk, ['--version'], /(wrk\s+\S+)/),
    pgbench: versionOf(tools.pgbench, ['--version'], /\(PostgreSQL\)\s+(\S+)/),
    node: process.versions.node,
    ...(settings.reference && { reference: packageVersions(['hono', 'pg', 'jose', '@neondatabase/serverless', 'wrangler']) }),
  };

  const rows = [];
  const coldStart = [];
  const referenceRows = [];
  const referenceColdStart = [];
  const ioFloorRows = [];
  const ioFloorColdStart = [];
  const delayed = [];
  // All three credential kinds: HS256 (most scenarios), and Better Auth's JWT-plugin tokens
  // (an inline JWKS, so the cost measured is verification, not fetching) and session tokens.
  const vars = {
    BETTER_AUTH_SECRET: secret,
    ENVIRONMENT: 'bench',
    AUTH_CREDENTIALS: 'hs256,jwks,session',
    JWKS: JSON.stringify(workload.jwks),
    // The JWKS tokens' iss and aud; HS256 tokens are checked without either.
    BETTER_AUTH_URL: JWKS_ISSUER,
  };
  // The rate limiters (stand-ins on plain workerd, as in the tests), with limits no run meets:
  // the 401 scenario alone sends thousands a second from one address. What the check costs is
  // measured apart: the same worker without the bindings, on the scenarios that spend from
  // each limiter (`unauthorized`: the address's; `get`: the user's).
  const rateLimits = {
    USER_RATE_LIMITER: { limit: 1_000_000_000, period: 60 },
    CLIENT_RATE_LIMITER: { limit: 1_000_000_000, period: 60 },
  };
  const limiterScenarios = scenarios.filter((scenario) => ['unauthorized', 'get'].includes(scenario.name));
  const limiter = [];
  for (const model of models) {
    const neonHttp = model === 'neon';
    const port = model === 'pgbouncer' ? bouncer.port : postgres.port;
    const target = { host: '127.0.0.1', port, user: postgres.user, password: postgres.password, database: postgres.database, auth: settings.auth };
    // The database's CPU: the postmaster and every backend, plus PgBouncer when it is in the path.
    const dbCpuMs = () => processTreeCpuMs(postmasterPid) + (model === 'pgbouncer' ? processCpuMs(bouncer.pid) : 0);
    // Both workers reach the database (over Neon's HTTP: the endpoint) through this relay.
    const relay = await startRelay({ target: { port: neonHttp ? standin.port : port } });
    defer(() => relay.close());
    const connection = neonHttp
      ? { vars: { DATABASE_URL: postgres.url, NEON_HTTP_ENDPOINT: `http://127.0.0.1:${relay.port}/sql` } }
      : { database: { ...target, port: relay.port }, vars: {} };
    const context = { model, settings, dbCpuMs, workload, client, workDir };

    /**
     * One worker through this model: cold starts, then (unless profiling) its scenarios, plain
     * and (with `delayedPass`) delayed.
     */
    const measureWorker = async ({ who, start, workerScenarios, coldStarts = settings.coldStarts, readyPath, delayedPass = true }) => {
      const name = who === 'ours' ? model : `${model}/${who}`;
      step(`${name}: cold start x${coldStarts}`);
      // The worker logs one JSON line per request: its own count of the requests it served.
      let served = 0;
      const inspectorPort = settings.profile ? await freePort() : undefined;
      const { worker, coldStart: cold } = await startTimedWorkers({
        start,
        coldStarts,
        readyPath,
        onLine: (line) => line.includes('"duration_ms":') && served++,
        inspectorPort,
      });
      try {
        await probeScenarios({ model: name, worker, workload, scenarios: workerScenarios, client });
        if (settings.profile) {
          mkdirSync(options.out, { recursive: true });
          const file = `${stamp}${label ? `-${label}` : ''}`;
          await profileScenarios({ ...context, scenarios: workerScenarios, worker, inspectorPort, out: options.out, stamp: file });
          return { cold };
        }
        const runner = loadRunner({ worker, requestsServed: () => served, dbCpuMs, relay, countRoundTrips: !neonHttp, workload, client, workDir });
        const measured = await measureApi({ model, who, settings, runner, scenarios: workerScenarios });
        const slow = delayedPass && settings.delayMs > 0 ? await measureDelayed({ model, who, settings, runner, relay, scenarios: workerScenarios }) : [];
        return { cold, rows: measured, delayed: slow };
      } finally {
        await worker.stop();
      }
    };

    const ours = await measureWorker({
      who: 'ours',
      start: { database: connection.database, vars: { ...vars, ...connection.vars }, rateLimits },
      workerScenarios: scenarios,
    });
    coldStart.push({ model, ...ours.cold });
    if (settings.profile) continue;
    delayed.push(...ours.delayed);

    if (limiterScenarios.length > 0) {
      const unlimited = await measureWorker({
        who: 'ours-without-limiters',
        start: { database: connection.database, vars: { ...vars, ...connection.vars } },
        workerScenarios: limiterScenarios,
        coldStarts: 1,
        delayedPass: false,
      });
      for (const row of unlimited.rows) {
        const limited = ours.rows.find((r) => r.scenario === row.scenario && r.concurrency === row.concurrency);
        const costMs = limited.api.workerCpuMsPerRequest - row.api.workerCpuMsPerRequest;
        limiter.push({ model, scenario: row.scenario, concurrency: row.concurrency, withMs: limited.api.workerCpuMsPerRequest, withoutMs: row.api.workerCpuMsPerRequest, costMs });
        step(`${model}/${row.scenario} c=${row.concurrency}: the rate limiter check costs ${costMs.toFixed(3)} ms CPU/req (${limited.api.workerCpuMsPerRequest.toFixed(3)} with, ${row.api.workerCpuMsPerRequest.toFixed(3)} without)`);
      }
    }

    const modelRows = [...ours.rows];
    if (reference) {
      const theirs = await measureWorker({
        who: 'reference',
        start: {
          database: connection.database,
          vars: { BETTER_AUTH_SECRET: secret, ...connection.vars },
          modules: reference.modules,
          compatibilityFlags: REFERENCE_COMPATIBILITY_FLAGS,
        },
        workerScenarios: scenarios.filter((scenario) => !REFERENCE_UNSUPPORTED[scenario.name]),
      });
      referenceColdStart.push({ model, ...theirs.cold });
      referenceRows.push(...theirs.rows);
      modelRows.push(...theirs.rows);
      delayed.push(...theirs.delayed);
    }

    // The I/O floor: `ready` only, started once (its start is not what it is there to measure),
    // no delayed pass (its latency is the database's and the relay's, not its own).
    if (ioFloorModels.includes(model)) {
      const floor = await measureWorker({
        who: 'floor',
        start: { database: connection.database, vars: connection.vars, modules: IO_FLOOR_MODULES },
        workerScenarios: scenarios.filter((scenario) => scenario.name === 'ready'),
        coldStarts: 1,
        readyPath: '/ready',
        delayedPass: false,
      });
      ioFloorColdStart.push({ model, ...floor.cold });
      ioFloorRows.push(...floor.rows);
    }

    // The floors of each scenario, for both workers' rows.
    for (const kind of neonHttp ? [] : floorKinds) {
      const floorTarget = kind === 'trust' ? { ...target, user: TRUST_ROLE, auth: 'trust' } : target;
      const floor = await measureFloor({ ...context, scenarios, kind, target: floorTarget });
      for (const row of modelRows) {
        const figures = floor.get(`${row.scenario}/${row.concurrency}`) ?? null;
        if (kind === 'same-auth') row.dbFloor = figures;
        // Under --auth trust the same-auth floor is the trust floor.
        if (kind === 'trust' || !scram) row.trustFloor = figures;
      }
    }
    for (const row of modelRows) {
      row.dbFloor ??= null;
      row.trustFloor ??= null;
    }
    rows.push(...ours.rows);
  }

  if (settings.profile) return;

  // Ratios: the API against the database floors of the same scenario, model and concurrency,
  // and against the runtime floor (the 401 path) of the same worker, model and concurrency.
  for (const workerRows of [rows, referenceRows]) {
    for (const row of workerRows) {
      const runtime = workerRows.find((r) => r.model === row.model && r.concurrency === row.concurrency && r.scenario === 'unauthorized');
      row.ratios = {
        dbFloor: row.dbFloor ? row.api.rps / row.dbFloor.tps : null,
        trustFloor: row.trustFloor ? row.api.rps / row.trustFloor.tps : null,
        runtimeFloor: row.api.rps / runtime.api.rps,
      };
    }
  }

  // Above the I/O floor: what each worker spends on `ready` beyond the runtime's own I/O for
  // the same round trip, and ours against the reference's on that count.
  for (const row of ioFloorRows) {
    const cpu = (workerRows) =>
      workerRows.find((r) => r.model === row.model && r.scenario === row.scenario && r.concurrency === row.concurrency)?.api.workerCpuMsPerRequest;
    const above = (workerRows) => {
      const value = cpu(workerRows) - row.api.workerCpuMsPerRequest;
      return Number.isFinite(value) ? value : null;
    };
    const ours = above(rows);
    const theirs = above(referenceRows);
    row.aboveFloor = {
      oursCpuMsPerRequest: ours,
      referenceCpuMsPerRequest: theirs,
      oursOverReference: ours !== null && theirs ? ours / theirs : null,
    };
  }

  // Schema 2 adds round trips per request to each row's api, `upload`, `reference` and `delayed`;
  // later additions to it: `ioFloor`, `limiter`.
  const result = {
    schema: 2,
    label: settings.label,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    machine: machine(),
    versions,
    settings,
    wasm,
    upload: reference ? { ours: reference.ours, reference: reference.upload } : null,
    coldStart,
    rows,
    reference: reference
      ? { description: 'reference/: TypeScript, Hono, node-postgres, jose, @neondatabase/serverless', unsupported: REFERENCE_UNSUPPORTED, coldStart: referenceColdStart, rows: referenceRows }
      : null,
    delayed,
    limiter: {
      description: "worker CPU per request with the rate limiting bindings (the tests' stand-in, limits never met) and without them",
      rows: limiter,
    },
    ioFloor:
      ioFloorRows.length > 0
        ? {
            description: 'scripts/lib/bench/floor-worker.mjs: plain JavaScript, GET /ready with the same round trip and nothing else (cold start: to the first 200 from /ready)',
            coldStart: ioFloorColdStart,
            rows: ioFloorRows,
          }
        : null,
  };
  console.log(`\n${formatReport(result, { markdown: options.markdown })}\n`);
  mkdirSync(options.out, { recursive: true });
  const file = join(options.out, `bench-${stamp}${label ? `-${label}` : ''}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  step(`results: ${file} (${Math.round((Date.now() - startedAt) / 1000)} s)`);
  // Without the reference worker there is no ratio to draw.
  if (ratioPanels(result).length > 0) {
    writeFileSync(chartPath(file), ratioChartSvg(result));
    step(`chart: ${chartPath(file)}`);
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping`);
    cleanUp().finally(() => process.exit(130));
  });
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  console.error(`bench failed: ${error.stack ?? error.message}`);
} finally {
  await cleanUp();
}
