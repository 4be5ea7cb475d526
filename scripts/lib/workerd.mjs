// Runs the built worker on plain `workerd serve`, the runtime Cloudflare deploys, without
// wrangler's dev proxy in front (which costs about 9x on a trivial route). Used by the
// end-to-end tests and the benchmark (which also runs the reference worker's bundle with it);
// `npm start` uses `wrangler dev` instead.
//
// Two platform parts plain workerd lacks are stood in for on request: rate limiting bindings
// (`rateLimits`, scripts/lib/ratelimit-standin.js) and the firing of the `scheduled` handler
// (`scheduled`, scripts/lib/scheduled-trigger.js).

import { writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { freePort } from './net.mjs';
import { removeTemporaryDir, spawnManaged, stopProcess, temporaryDir } from './processes.mjs';
import { sleep } from './timing.mjs';
import { bin, ROOT } from './toolchain.mjs';

const COMPATIBILITY_DATE = '2026-11-01';

const quote = (text) => JSON.stringify(String(text));

/** The rate limiting stand-in, loaded by workerd as an internal module behind wrapped bindings. */
const RATELIMIT_MODULE = { name: 'edge-task-api-standin:ratelimit', path: join(import.meta.dirname, 'ratelimit-standin.js') };
/** The worker that fires the main worker's `scheduled` handler. */
const SCHEDULED_TRIGGER = join(import.meta.dirname, 'scheduled-trigger.js');
/** The periods the rate limiting binding accepts, in seconds. */
const RATE_LIMIT_PERIODS = [10, 60];

/** Our worker as `npm run build` leaves it. */
const BUILD_MODULES = [
  { name: 'index.js', type: 'esModule', path: join(ROOT, 'build', 'index.js') },
  { name: 'index_bg.wasm', type: 'wasm', path: join(ROOT, 'build', 'index_bg.wasm') },
];

/**
 * The workerd binding for one entry of `rateLimits`: { limit, period, namespaceId } as
 * wrangler.toml's `simple = { limit, period }` and `namespace_id` (default: the binding's name;
 * bindings sharing a namespace share counters).
 */
function rateLimitBinding(name, { limit, period, namespaceId = name }) {
  if (!Number.isInteger(limit) || limit < 0) throw new Error(`rateLimits.${name}.limit must be a whole number, got ${limit}`);
  if (!RATE_LIMIT_PERIODS.includes(period)) throw new Error(`rateLimits.${name}.period must be 10 or 60 (seconds), got ${period}`);
  const inner = [
    `(name = "limit", json = ${quote(JSON.stringify(limit))})`,
    `(name = "period", json = ${quote(JSON.stringify(period))})`,
    `(name = "namespace", text = ${quote(namespaceId)})`,
  ];
  return `(name = ${quote(name)}, wrapped = (moduleName = ${quote(RATELIMIT_MODULE.name)}, innerBindings = [${inner.join(', ')}]))`;
}

/**
 * Writes a workerd config and returns its path. `modules` are the worker's modules, the first
 * the entry point: { name, type (a workerd module kind: esModule, wasm, text, data, json,
 * commonJsModule), path }. `database` is a local PostgreSQL ({ port, user, password,
 * database }) bound as HYPERDRIVE; `vars` become text bindings; `rateLimits` become rate
 * limiting bindings. With `scheduledPort`, the scheduled trigger serves on that port.
 */
function writeConfig(dir, { port, database, vars, modules, compatibilityFlags, rateLimits, scheduledPort }) {
  const bindings = Object.entries(vars)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `(name = ${quote(name)}, text = ${quote(value)})`);
  const services = [
    '(name = "main", worker = .worker)',
    // Loopback included: the Neon HTTP stand-in and the local database live there.
    '(name = "internet", network = (allow = ["public", "private", "local"]))',
  ];
  const sockets = [`(name = "http", address = ${quote(`127.0.0.1:${port}`)}, http = (), service = "main")`];
  const extensions = [];
  const rateLimitEntries = Object.entries(rateLimits);
  if (rateLimitEntries.length > 0) {
    for (const [name, settings] of rateLimitEntries) bindings.push(rateLimitBinding(name, settings));
    extensions.push(
      `(modules = [(name = ${quote(RATELIMIT_MODULE.name)}, internal = true, esModule = embed ${quote(relative(dir, RATELIMIT_MODULE.path))})])`,
    );
  }
  if (scheduledPort) {
    services.push(`(name = "scheduled-trigger", worker = (
      modules = [(name = "scheduled-trigger.js", esModule = embed ${quote(relative(dir, SCHEDULED_TRIGGER))})],
      compatibilityDate = ${quote(COMPATIBILITY_DATE)},
      compatibilityFlags = ["service_binding_extra_handlers"],
      bindings = [(name = "WORKER", service = "main")],
    ))`);
    sockets.push(`(name = "scheduled", address = ${quote(`127.0.0.1:${scheduledPort}`)}, http = (), service = "scheduled-trigger")`);
  }
  if (database) {
    bindings.push(
      `(name = "HYPERDRIVE", hyperdrive = (designator = "postgres", database = ${quote(database.database)}, ` +
        `user = ${quote(database.user)}, password = ${quote(database.password)}, scheme = "postgresql"))`,
    );
    services.push(`(name = "postgres", external = (address = ${quote(`127.0.0.1:${database.port}`)}, tcp = ()))`);
  }
  const extensionsField = extensions.length > 0 ? `  extensions = [${extensions.join(', ')}],\n` : '';
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${services.join(',\n    ')}
  ],
  sockets = [
    ${sockets.join(',\n    ')}
  ],
${extensionsField});

const worker :Workerd.Worker = (
  modules = [
    ${modules.map((module) => `(name = ${quote(module.name)}, ${module.type} = embed ${quote(relative(dir, module.path))})`).join(',\n    ')}
  ],
  compatibilityDate = ${quote(COMPATIBILITY_DATE)},
  compatibilityFlags = [${compatibilityFlags.map(quote).join(', ')}],
  bindings = [
    ${bindings.join(',\n    ')}
  ],
  globalOutbound = "internet",
);
`;
  // capnp resolves `embed` paths relative to the config file.
  const path = join(dir, 'worker.capnp');
  writeFileSync(path, config, { mode: 0o600 });
  return path;
}

/**
 * Polls `url` every `intervalMs` until it answers (with `status`, when given). Resolves with
 * the moment, from performance.now(), of that answer.
 */
async function waitForHttp(url, child, { status, intervalMs = 50, timeoutMs = 20_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode} before serving`);
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (status === undefined || response.status === status) return performance.now();
      last = `status ${response.status}`;
    } catch {
      // Not listening yet.
    }
    await sleep(intervalMs);
  }
  throw new Error(`workerd did not answer on ${url}${status ? ` with ${status}` : ''} within ${timeoutMs} ms (${last})`);
}

/**
 * Starts workerd serving build/ (or `modules`, with `compatibilityFlags`: another worker's
 * bundle, such as the benchmark's reference worker). Returns { url, pid, startupMs, logs(),
 * stop() }; `logs()` is everything the worker printed so far (its structured log lines).
 *
 * Options for the benchmark, all optional:
 * - `ready`: { path = '/', status, intervalMs = 50 }: what counts as serving. `startupMs` is
 *   the time from spawning the process to that first answer (the cold start when `status` is
 *   200 and the interval is small).
 * - `onLine(line)`: called with every line the process prints, as it prints it.
 * - `logLimit`: keep only the last this many characters for `logs()` (default: everything).
 * - `inspectorPort`: serve the V8 inspector (DevTools protocol) on 127.0.0.1 at this port.
 *
 * Platform parts plain workerd lacks, stood in for:
 * - `rateLimits`: { BINDING_NAME: { limit, period, namespaceId? } }, as wrangler.toml's
 *   `[[ratelimits]]` (`simple = { limit, period }`, period 10 or 60 seconds; `namespace_id`,
 *   default the binding's name). The worker gets env.BINDING_NAME with Cloudflare's API:
 *   `limit({ key })` resolves `{ success }` (scripts/lib/ratelimit-standin.js).
 * - `scheduled: true`: the result also has `scheduledUrl`, where `GET
 *   /__scheduled?cron=...&time=...` runs the worker's `scheduled` handler as `wrangler dev
 *   --test-scheduled` does, and `runScheduled(cron, { scheduledTime })` to ask it: resolves
 *   `{ outcome, noRetry }` ("ok" when the handler and its waitUntil work succeeded) once
 *   both have finished (scripts/lib/scheduled-trigger.js). It starts workerd with
 *   `--experimental`, which the trigger's compatibility flag needs.
 */
export async function startWorkerd({
  database,
  vars = {},
  port,
  ready = {},
  onLine,
  logLimit = Infinity,
  inspectorPort,
  modules = BUILD_MODULES,
  compatibilityFlags = [],
  rateLimits = {},
  scheduled = false,
} = {}) {
  port ??= await freePort();
  const scheduledPort = scheduled ? await freePort() : undefined;
  const dir = temporaryDir('edge-task-api-workerd-');
  let configPath;
  try {
    configPath = writeConfig(dir, { port, database, vars, modules, compatibilityFlags, rateLimits, scheduledPort });
  } catch (error) {
    removeTemporaryDir(dir);
    throw error;
  }
  const spawnedAt = performance.now();
  const args = ['serve', configPath, '--verbose'];
  if (scheduled) args.push('--experimental');
  if (inspectorPort) args.push(`--inspector-addr=127.0.0.1:${inspectorPort}`);
  const child = spawnManaged(bin('workerd'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const pending = { stdout: '', stderr: '' };
  const collect = (stream) => (chunk) => {
    const text = chunk.toString();
    output += text;
    if (output.length > logLimit) output = output.slice(-logLimit);
    if (onLine) {
      const lines = (pending[stream] + text).split('\n');
      pending[stream] = lines.pop();
      for (const line of lines) onLine(line);
    }
  };
  child.stdout.on('data', collect('stdout'));
  child.stderr.on('data', collect('stderr'));
  const url = `http://127.0.0.1:${port}`;
  let readyAt;
  try {
    readyAt = await waitForHttp(`${url}${ready.path ?? '/'}`, child, ready);
  } catch (error) {
    await stopProcess(child, { signal: 'SIGKILL' });
    removeTemporaryDir(dir);
    throw new Error(`${error.message}\n${output}`);
  }
  const scheduledUrl = scheduled ? `http://127.0.0.1:${scheduledPort}` : undefined;
  return {
    url,
    scheduledUrl,
    pid: child.pid,
    startupMs: readyAt - spawnedAt,
    logs: () => output,
    async runScheduled(cron, { scheduledTime } = {}) {
      if (!scheduledUrl) throw new Error('runScheduled needs startWorkerd({ scheduled: true })');
      const query = new URLSearchParams({ cron });
      if (scheduledTime !== undefined) query.set('time', String(new Date(scheduledTime).getTime()));
      const response = await fetch(`${scheduledUrl}/__scheduled?${query}`);
      const text = await response.text();
      try {
        return JSON.parse(text);
      } catch {
        throw new Error(`the scheduled trigger answered ${response.status}: ${text}`);
      }
    },
    async stop() {
      await stopProcess(child);
      removeTemporaryDir(dir);
    },
  };
}
