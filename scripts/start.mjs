// `npm start`: the API on http://127.0.0.1:8787 under `wrangler dev` (a real workerd), with a
// local PostgreSQL started here, migrations applied and a dev secret in place.
//
//   PORT=9000 npm start           another port for the API
//   PG_PORT=6000 npm start        another port for the embedded PostgreSQL (default 54329)
//   DATABASE_URL=postgres://… npm start
//                                 use your own PostgreSQL instead; none is started
//   DB_TRANSPORT=neon-http npm start
//                                 reach the database through Neon's HTTP SQL endpoint (a
//                                 local stand-in for it is started) instead of Hyperdrive
//   AUTH_PORT=9001 npm start      another port for the local Better Auth (default 8788)
//   BETTER_AUTH_URL=https://… npm start
//                                 use your own Better Auth; none is started
//
// A local Better Auth (email and password, jwt() and bearer()) runs on the same PostgreSQL
// with the same secret as the worker (.dev.vars), trusting the example client's origin, and
// the worker is pointed at it with BETTER_AUTH_URL.
//
// Data lives in .local/postgres and survives restarts (as root, when the `postgres` user cannot
// reach the checkout, in a private directory under the system's temporary directory). Ctrl-C
// stops everything started here.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onExit, spawnManaged, stopProcess } from './lib/processes.mjs';
import { ensureAll, projectEnv, ROOT, step } from './lib/toolchain.mjs';

ensureAll();
const { reachableByOthers, startPostgres } = await import('./lib/postgres.mjs');
const { migrate } = await import('./lib/migrations.mjs');

const devVars = join(ROOT, '.dev.vars');
if (existsSync(devVars)) {
  step('.dev.vars: present');
} else {
  copyFileSync(join(ROOT, '.dev.vars.example'), devVars);
  step('.dev.vars: created from .dev.vars.example (a dev-only BETTER_AUTH_SECRET)');
}

let postgres;
let databaseUrl = process.env.DATABASE_URL;
if (databaseUrl) {
  step('PostgreSQL: using DATABASE_URL');
} else {
  const port = Number(process.env.PG_PORT ?? 54329);
  // As root, the server runs as the `postgres` user, which must reach its data directory.
  let dataDir = join(ROOT, '.local', 'postgres');
  if (process.getuid?.() === 0 && !reachableByOthers(ROOT)) {
    const checkout = createHash('sha256').update(ROOT).digest('hex').slice(0, 12);
    const parent = join(tmpdir(), `edge-task-api-${checkout}`);
    // Another local user could create this path first and plant a configuration the server
    // would run; use it only when it is ours and writable by no one else.
    mkdirSync(parent, { recursive: true, mode: 0o755 });
    const { uid, mode } = statSync(parent);
    if (uid !== process.getuid() || (mode & 0o022) !== 0) {
      console.error(`${parent} belongs to someone else or is writable by others; remove it, or set DATABASE_URL`);
      process.exit(1);
    }
    dataDir = join(parent, 'postgres');
  }
  step(`PostgreSQL: starting on 127.0.0.1:${port} (data in ${dataDir})`);
  postgres = await startPostgres({ dataDir, port });
  databaseUrl = postgres.url;
}
step('migrations: applying');
await migrate(databaseUrl);

const vars = [];
let betterAuth;
let betterAuthUrl = process.env.BETTER_AUTH_URL;
if (betterAuthUrl) {
  step(`Better Auth: using ${betterAuthUrl}`);
} else {
  const { startBetterAuth } = await import('./lib/better-auth.mjs');
  const secret = readFileSync(devVars, 'utf8').match(/^BETTER_AUTH_SECRET=(.*)$/m)?.[1]?.trim();
  if (!secret) {
    console.error('.dev.vars has no BETTER_AUTH_SECRET; copy it from .dev.vars.example');
    process.exit(2);
  }
  const exampleOrigin = `http://localhost:${process.env.EXAMPLE_PORT ?? 3000}`;
  betterAuth = await startBetterAuth({
    databaseUrl,
    secret,
    port: Number(process.env.AUTH_PORT ?? 8788),
    trustedOrigins: [exampleOrigin],
  });
  betterAuthUrl = betterAuth.url;
  step(`Better Auth: ${betterAuthUrl} (email and password, jwt, bearer; trusts ${exampleOrigin})`);
}
vars.push(`BETTER_AUTH_URL:${betterAuthUrl}`);

const transport = process.env.DB_TRANSPORT ?? 'hyperdrive';
let standin;
if (transport === 'neon-http') {
  const { startNeonStandin } = await import('./lib/neon-standin.mjs');
  standin = await startNeonStandin();
  step(`Neon HTTP stand-in: ${standin.url}`);
  vars.push('DB_TRANSPORT:neon-http', `DATABASE_URL:${databaseUrl}`, `NEON_HTTP_ENDPOINT:${standin.url}`);
} else if (transport !== 'hyperdrive') {
  console.error(`DB_TRANSPORT must be hyperdrive or neon-http, not ${transport}`);
  process.exit(2);
}

const port = process.env.PORT ?? '8787';
step(`wrangler dev: starting on http://127.0.0.1:${port} (database over ${transport})`);
// --test-scheduled: GET /__scheduled?cron=17+*+*+*+* runs the clean-up job (src/jobs.rs).
const args = ['dev', '--ip', '127.0.0.1', '--port', port, '--test-scheduled', ...vars.flatMap((v) => ['--var', v])];
const wrangler = spawnManaged(join(ROOT, 'node_modules', '.bin', 'wrangler'), args, {
  cwd: ROOT,
  stdio: 'inherit',
  env: projectEnv({
    // Wins over localConnectionString in wrangler.toml.
    CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: databaseUrl,
    WRANGLER_SEND_METRICS: 'false',
  }),
});

// Ctrl-C (or SIGTERM) runs the registered cleanups, newest first: wrangler and its workerd
// (their whole process group), then the stand-in, then Better Auth, then PostgreSQL.
let stopping;
function stopServers() {
  stopping ??= (async () => {
    await stopProcess(wrangler, { signal: 'SIGINT' });
    await standin?.close();
    await betterAuth?.close();
    if (postgres) {
      step('PostgreSQL: stopping');
      await postgres.stop();
    }
  })();
  return stopping;
}
const unregister = onExit(stopServers);
wrangler.once('exit', async (code) => {
  unregister();
  await stopServers();
  process.exit(code ?? 0);
});
