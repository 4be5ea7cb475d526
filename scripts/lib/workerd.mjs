// Runs the built worker on plain `workerd serve`, the runtime Cloudflare deploys, without
// wrangler's dev proxy in front (which costs about 9x on a trivial route). Used by the
// end-to-end tests and the benchmark; `npm start` uses `wrangler dev` instead.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { bin, ROOT } from './toolchain.mjs';
import { freePort } from './postgres.mjs';

const COMPATIBILITY_DATE = '2026-11-01';

const quote = (text) => JSON.stringify(String(text));

/**
 * Writes a workerd config for build/ and returns its path. `database` is a local PostgreSQL
 * ({ port, user, password, database }) bound as HYPERDRIVE; `vars` become text bindings.
 */
function writeConfig(dir, { port, database, vars }) {
  const bindings = Object.entries(vars)
    .filter(([, value]) => value !== undefined)
    .map(([name, value]) => `(name = ${quote(name)}, text = ${quote(value)})`);
  const services = [
    '(name = "main", worker = .worker)',
    // Loopback included: the Neon HTTP stand-in and the local database live there.
    '(name = "internet", network = (allow = ["public", "private", "local"]))',
  ];
  if (database) {
    bindings.push(
      `(name = "HYPERDRIVE", hyperdrive = (designator = "postgres", database = ${quote(database.database)}, ` +
        `user = ${quote(database.user)}, password = ${quote(database.password)}, scheme = "postgresql"))`,
    );
    services.push(`(name = "postgres", external = (address = ${quote(`127.0.0.1:${database.port}`)}, tcp = ()))`);
  }
  const config = `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    ${services.join(',\n    ')}
  ],
  sockets = [(name = "http", address = ${quote(`127.0.0.1:${port}`)}, http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed ${quote(relative(dir, join(ROOT, 'build', 'index.js')))}),
    (name = "index_bg.wasm", wasm = embed ${quote(relative(dir, join(ROOT, 'build', 'index_bg.wasm')))}),
  ],
  compatibilityDate = ${quote(COMPATIBILITY_DATE)},
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

/** Waits until something answers HTTP on the port. */
async function waitForHttp(url, child, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`workerd exited with ${child.exitCode} before serving`);
    try {
      await fetch(url);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  throw new Error(`workerd did not answer on ${url} within ${timeoutMs} ms`);
}

/**
 * Starts workerd serving build/. Returns { url, pid, logs(), stop() }; `logs()` is everything
 * the worker printed so far (its structured log lines).
 */
export async function startWorkerd({ database, vars = {}, port } = {}) {
  port ??= await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'edge-task-api-workerd-'));
  const configPath = writeConfig(dir, { port, database, vars });
  const child = spawn(bin('workerd'), ['serve', configPath, '--verbose'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}/`, child);
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`${error.message}\n${output}`);
  }
  return {
    url,
    pid: child.pid,
    logs: () => output,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
