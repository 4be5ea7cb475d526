// What the benchmark sends: the seeded data, the scenarios as HTTP requests for wrk, and the
// same scenarios as the worker's SQL statements for pgbench (the database floor).
//
// Users and task ids follow fixed patterns, so requests, SQL seeding and pgbench scripts can
// all name the same rows without reading them back:
//   read users   bench-read-NNN, 20 tasks each, ids a0000000-0000-7000-8000-<hex(u*100+k)>
//   write users  bench-write-NNN, no tasks at first (create adds to them)
//   delete pool  task n belongs to bench-delete-<n mod 200>, id d0000000-0000-7000-8000-<hex(n)>
// Every scenario rotates through many users, each with its own token: the isolation-heavy
// shape of a multi-user API, where every statement is filtered by the caller's user id.

import { spawnSync } from 'node:child_process';
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { ROOT } from '../toolchain.mjs';
import { signJwt } from '../jwt.mjs';
import { httpRequest } from './wrk.mjs';

/** Tasks per read user: what `list` returns. */
export const TASKS_PER_USER = 20;
/** Users the delete pool's tasks are spread over. */
export const DELETE_USERS = 200;
/** The tasks of the one user with a long list: the paging, search and tag scenarios. */
const BIG_USER_TASKS = 10_000;
const BIG_USER = 'bench-big-000';
/** How deep the deep-page scenario starts: after this many pages of 100. */
const DEEP_PAGES = 90;

const hex12 = (n) => n.toString(16).padStart(12, '0');
const pad3 = (n) => String(n).padStart(3, '0');
const readUserId = (u) => `bench-read-${pad3(u)}`;
const readTaskId = (u, k) => `a0000000-0000-7000-8000-${hex12(u * 100 + k)}`;
const writeUserId = (w) => `bench-write-${pad3(w)}`;
const deleteUserId = (n) => `bench-delete-${pad3(n % DELETE_USERS)}`;
const deleteTaskId = (n) => `d0000000-0000-7000-8000-${hex12(n)}`;

/** The issuer and audience of the benchmark's JWKS tokens. */
export const JWKS_ISSUER = 'https://auth.bench.invalid';
const JWKS_KID = 'bench-ed25519';

/** An EdDSA JWT as Better Auth's JWT plugin signs one, for `sub`, valid for two hours. */
function signEdDsaToken(sub, privateKey) {
  const now = Math.floor(Date.now() / 1000);
  const segment = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${segment({ alg: 'EdDSA', kid: JWKS_KID })}.${segment({ sub, iss: JWKS_ISSUER, aud: JWKS_ISSUER, iat: now, exp: now + 7200 })}`;
  return `${input}.${sign(null, Buffer.from(input), privateKey).toString('base64url')}`;
}

/** A Better Auth session token, `<token>.<base64 HMAC-SHA-256>`, as its bearer plugin hands out. */
function signSessionToken(token, secret) {
  return `${token}.${createHmac('sha256', secret).update(token).digest('base64')}`;
}

/** Request bodies, identical for the API and the floor's parameters. */
const NEW_TASK = { title: 'Benchmark task', description: 'Created by the benchmark', completed: false };
const PATCH = { title: 'Updated by the benchmark', description: 'Edited by the benchmark', completed: true };

// ---------------------------------------------------------------------------------------------
// The worker's SQL, exactly as src/store/sql.rs builds it for these request bodies: emitted by
// the worker's own code (examples/sql-statements.rs), so the floor cannot drift from it.

let statements;

/** The statements by scenario: { ping, list, select, insert, update, toggle, delete }; built once, when first asked for. */
export function workerStatements() {
  statements ??= emitStatements();
  return statements;
}

function emitStatements() {
  const run = spawnSync('cargo', ['run', '--quiet', '--example', 'sql-statements', '--', JSON.stringify(NEW_TASK), JSON.stringify(PATCH)], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (run.status !== 0) throw new Error(`cargo run --example sql-statements failed:\n${run.stderr}`);
  return JSON.parse(run.stdout);
}


/**
 * A statement for pgbench: each `$n` becomes the pgbench variable `variables[n]` (sent as a
 * parameter in extended mode) or, without one, the worker's own value for it as a literal
 * (NULL for none: pgbench cannot bind NULL). String literals holding a colon are rewritten as
 * equal U&'' literals, because pgbench would take `:MI` inside a literal for a variable.
 */
function pgbenchStatement(statement, variables = {}) {
  const literal = (value) => (value === null ? 'NULL' : `'${value.replaceAll("'", "''")}'`);
  const text = statement.text.replace(/'((?:[^']|'')*)'/g, (quoted, body) =>
    body.includes(':') ? `U&'${body.replaceAll('\\', '\\005C').replaceAll(':', '\\003A')}'` : quoted,
  );
  return text.replace(/\$(\d+)/g, (_, n) => {
    const index = Number(n);
    if (index > statement.params.length) throw new Error(`no parameter for $${n} in ${statement.text}`);
    return variables[index] ? `:${variables[index]}` : literal(statement.params[index - 1]);
  });
}

// ---------------------------------------------------------------------------------------------

/** An HS256 JWT for `sub`, valid for two hours, signed as Better Auth signs. */
export function signToken(sub, secret) {
  const now = Math.floor(Date.now() / 1000);
  return signJwt({ sub, iat: now, exp: now + 7200 }, secret);
}

/**
 * The seeded data set. `readUsers` users with TASKS_PER_USER tasks each (list, get, update,
 * toggle), `writeUsers` users to create tasks for, and a pool of tasks to delete that grows
 * on demand.
 */
export class Workload {
  constructor({ secret, readUsers, writeUsers }) {
    this.secret = secret;
    this.readUsers = Array.from({ length: readUsers }, (_, u) => ({ id: readUserId(u), token: signToken(readUserId(u), secret) }));
    this.writeUsers = Array.from({ length: writeUsers }, (_, w) => ({ id: writeUserId(w), token: signToken(writeUserId(w), secret) }));
    this.deleteTokens = Array.from({ length: DELETE_USERS }, (_, d) => signToken(deleteUserId(d), secret));
    // A token for a real user, signed with another key: the 401 path.
    this.forgedTokens = this.readUsers.map((user) => signToken(user.id, `not-the-secret-${secret}`));
    // Better Auth's own credentials: JWT-plugin tokens under a key of an inline JWKS, and
    // session tokens whose rows seed() creates in a Better Auth-shaped session table.
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    /** The JWKS the worker is configured with. */
    this.jwks = { keys: [{ ...publicKey.export({ format: 'jwk' }), kid: JWKS_KID, alg: 'EdDSA' }] };
    this.jwksTokens = this.readUsers.map((user) => signEdDsaToken(user.id, privateKey));
    this.sessions = this.readUsers.map((user, u) => `bench-session-${pad3(u)}`);
    this.sessionTokens = this.sessions.map((token) => signSessionToken(token, secret));
    this.bigUser = { id: BIG_USER, token: signToken(BIG_USER, secret) };
    /** The path of a page deep in the big user's list, found by following its links. */
    this.deepPage = null;
    /** Delete pool: tasks n in [1, seeded) exist unless used; `next` is the first unused. */
    this.pool = { next: 1, seeded: 1 };
  }

  /** Creates the rows: read users' tasks, the floor's helper sequences. */
  async seed(client) {
    await client.query(
      `INSERT INTO tasks (id, user_id, title, description, completed, created_at, updated_at)
       SELECT ('a0000000-0000-7000-8000-' || lpad(to_hex(u * 100 + k), 12, '0'))::uuid,
              'bench-read-' || lpad(u::text, 3, '0'),
              'Task ' || k, 'Seeded task number ' || k || ' of its user', k % 3 = 0,
              now() - make_interval(mins => ${TASKS_PER_USER} - k), now() - make_interval(mins => ${TASKS_PER_USER} - k)
       FROM generate_series(0, $1::int - 1) AS u, generate_series(0, ${TASKS_PER_USER} - 1) AS k`,
      [this.readUsers.length],
    );
    // Fresh ids for the create floor and the next task of the delete pool for the delete floor:
    // pgbench cannot make strings, so each such transaction reads one with \gset first.
    // Better Auth's session table, with the columns the worker reads.
    await client.query(`CREATE TABLE "session" ("id" text PRIMARY KEY, "token" text NOT NULL UNIQUE,
      "userId" text NOT NULL, "expiresAt" timestamptz NOT NULL)`);
    await client.query(
      `INSERT INTO "session" ("id", "token", "userId", "expiresAt")
       SELECT token, token, 'bench-read-' || lpad(n::text, 3, '0'), now() + interval '1 day'
       FROM unnest($1::text[]) WITH ORDINALITY AS sessions(token, position), LATERAL (SELECT position - 1 AS n) AS numbered`,
      [this.sessions],
    );
    await client.query('ANALYZE "session"');
    // One user with a long list: tags t0-t19, descriptions naming one of 50 topics, a due
    // date on two tasks in three, priorities in turn.
    await client.query(
      `INSERT INTO tasks (id, user_id, title, description, completed, created_at, updated_at, due_date, priority, tags)
       SELECT ('b0000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid, $1::text,
              'Big task ' || n, 'About topic ' || (n % 50) || ' and more', n % 4 = 0,
              now() - make_interval(secs => $2::int - n), now() - make_interval(secs => $2::int - n),
              CASE WHEN n % 3 = 0 THEN NULL ELSE date '2026-01-01' + (n % 400) END, n % 4,
              ARRAY['t' || (n % 20), 'all']
       FROM generate_series(0, $2::int - 1) AS n`,
      [BIG_USER, BIG_USER_TASKS],
    );
    await client.query('CREATE SEQUENCE bench_floor_ids');
    await client.query('CREATE SEQUENCE bench_delete_ids');
    // VACUUM, not only ANALYZE: it also merges the GIN indexes' pending lists (tags, search),
    // which a bulk insert leaves long; otherwise whichever worker runs first pays for scanning
    // them until autovacuum happens to come by.
    await client.query('VACUUM ANALYZE tasks');
  }

  /** Makes sure `count` unused delete-pool tasks exist; returns the first one's number. */
  async reserveDeletes(client, count) {
    const end = this.pool.next + count;
    if (end > this.pool.seeded) {
      await client.query(
        `INSERT INTO tasks (id, user_id, title, description, completed)
         SELECT ('d0000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0'))::uuid,
                'bench-delete-' || lpad((n % ${DELETE_USERS})::text, 3, '0'),
                'Task to delete', 'Seeded for the delete scenario', false
         FROM generate_series($1::bigint, $2::bigint - 1) AS n`,
        [this.pool.seeded, end],
      );
      this.pool.seeded = end;
    }
    return this.pool.next;
  }

  /** Marks delete-pool tasks up to and including `last` as used. */
  usedDeletesThrough(last) {
    this.pool.next = Math.max(this.pool.next, last + 1);
  }

  /** Finds the deep page by following the big user's `next` links from the first page. */
  async findDeepPage(origin) {
    if (this.deepPage) return;
    let path = `/api/${BIG_USER}/tasks?limit=100`;
    for (let page = 0; page < DEEP_PAGES; page += 1) {
      const response = await fetch(`${origin}${path}`, { headers: { authorization: `Bearer ${this.bigUser.token}` } });
      await response.arrayBuffer();
      const next = response.headers.get('link')?.match(/^<([^>]+)>/)?.[1];
      if (!next) throw new Error(`the big user's list ended after ${page + 1} pages`);
      const url = new URL(next);
      path = `${url.pathname}${url.search}`;
    }
    this.deepPage = path;
  }

  /** Every (user, task) pair of the read users. */
  readPairs() {
    return this.readUsers.flatMap((user, u) =>
      Array.from({ length: TASKS_PER_USER }, (_, k) => ({ user, task: readTaskId(u, k) })),
    );
  }

  /**
   * The scenarios, in the order they run. Each has a label, the status every response must
   * have, whether it touches the database, `requests(origin, opts)` for wrk (raw HTTP; for
   * `delete`, `opts.first` and `opts.count` pick pool tasks) and `floor()` for pgbench
   * ({ scripts, defines }, or null when no database is involved).
   */
  scenarios() {
    const auth = (token) => ({ Authorization: `Bearer ${token}` });
    const pairs = this.readPairs();
    // pgbench cannot compute strings, so each floor script names its rows through -D
    // variables; FLOOR_ROWS scripts spread over the users stand for "many users".
    const FLOOR_ROWS = Math.min(64, this.readUsers.length);
    const floorPairs = Array.from({ length: FLOOR_ROWS }, (_, i) => {
      const u = Math.floor((i * this.readUsers.length) / FLOOR_ROWS);
      return { user: this.readUsers[u].id, task: readTaskId(u, i % TASKS_PER_USER) };
    });
    const pairDefines = Object.fromEntries(floorPairs.flatMap((pair, i) => [[`u${i}`, pair.user], [`t${i}`, pair.task]]));
    const perPair = (statement, variables) => floorPairs.map((_, i) => pgbenchStatement(statement, variables(i)));

    return [
      {
        name: 'ready',
        label: 'GET /ready (a database round trip)',
        expect: 200,
        requests: (origin) => [httpRequest(origin, { method: 'GET', path: '/ready' })],
        floor: () => ({ scripts: [pgbenchStatement(workerStatements().ping)], defines: {} }),
      },
      {
        name: 'unauthorized',
        label: 'GET list, bad signature → 401',
        expect: 401,
        requests: (origin) =>
          this.readUsers.map((user, u) =>
            httpRequest(origin, { method: 'GET', path: `/api/${user.id}/tasks`, headers: auth(this.forgedTokens[u]) }),
          ),
        floor: () => null,
      },
      {
        name: 'list',
        label: `GET list (${TASKS_PER_USER} tasks)`,
        expect: 200,
        requests: (origin) =>
          this.readUsers.map((user) => httpRequest(origin, { method: 'GET', path: `/api/${user.id}/tasks`, headers: auth(user.token) })),
        // The default query: all tasks, newest first.
        floor: () => ({
          scripts: perPair(workerStatements().list, (i) => ({ 1: `u${i}` })),
          defines: pairDefines,
        }),
      },
      {
        name: 'list-jwks',
        label: `GET list (${TASKS_PER_USER} tasks), Better Auth JWT-plugin token (EdDSA, JWKS)`,
        expect: 200,
        requests: (origin) =>
          this.readUsers.map((user, u) =>
            httpRequest(origin, { method: 'GET', path: `/api/${user.id}/tasks`, headers: auth(this.jwksTokens[u]) }),
          ),
        // The same statement as with HS256: the difference is the signature check alone.
        floor: () => ({
          scripts: perPair(workerStatements().list, (i) => ({ 1: `u${i}` })),
          defines: pairDefines,
        }),
      },
      {
        name: 'list-session',
        label: `GET list (${TASKS_PER_USER} tasks), Better Auth session token (checked in the statement)`,
        expect: 200,
        requests: (origin) =>
          this.readUsers.map((user, u) =>
            httpRequest(origin, { method: 'GET', path: `/api/${user.id}/tasks`, headers: auth(this.sessionTokens[u]) }),
          ),
        // Its statement wraps the list in the session check; pgbench has no floor of that form.
        floor: () => null,
      },
      ...[
        ['page-first', 'GET the first 100 of 10,000 tasks', () => `/api/${BIG_USER}/tasks?limit=100`],
        ['page-deep', `GET 100 tasks ${DEEP_PAGES * 100} deep, through the cursor`, () => this.deepPage, (origin) => this.findDeepPage(origin)],
        ['search', 'GET a search (q) in 10,000 tasks, 100 at most', () => `/api/${BIG_USER}/tasks?q=topic%2037&limit=100`],
        ['tag', 'GET a tag filter in 10,000 tasks, 100 at most', () => `/api/${BIG_USER}/tasks?tag=t7&limit=100`],
      ].map(([name, label, path, prepare]) => ({
        name,
        label,
        expect: 200,
        prepare,
        requests: (origin) => [httpRequest(origin, { method: 'GET', path: path(), headers: auth(this.bigUser.token) })],
        // Compared with the 20-task list, not with a pgbench floor.
        floor: () => null,
      })),
      {
        name: 'get',
        label: 'GET one task',
        expect: 200,
        requests: (origin) =>
          pairs.map(({ user, task }) =>
            httpRequest(origin, { method: 'GET', path: `/api/${user.id}/tasks/${task}`, headers: auth(user.token) }),
          ),
        floor: () => ({ scripts: perPair(workerStatements().select, (i) => ({ 1: `u${i}`, 2: `t${i}` })), defines: pairDefines }),
      },
      {
        name: 'update',
        label: 'PUT title, description, completed',
        expect: 200,
        requests: (origin) =>
          pairs.map(({ user, task }) =>
            httpRequest(origin, { method: 'PUT', path: `/api/${user.id}/tasks/${task}`, headers: auth(user.token), body: PATCH }),
          ),
        floor: () => ({
          scripts: perPair(workerStatements().update, (i) => ({ 1: `u${i}`, 2: `t${i}` })),
          defines: pairDefines,
        }),
      },
      {
        name: 'toggle',
        label: 'PATCH …/complete (toggle)',
        expect: 200,
        requests: (origin) =>
          pairs.map(({ user, task }) =>
            httpRequest(origin, { method: 'PATCH', path: `/api/${user.id}/tasks/${task}/complete`, headers: auth(user.token) }),
          ),
        // An empty body toggles: the completion parameter is NULL.
        floor: () => ({ scripts: perPair(workerStatements().toggle, (i) => ({ 1: `u${i}`, 2: `t${i}` })), defines: pairDefines }),
      },
      {
        name: 'create',
        label: 'POST a task',
        expect: 201,
        requests: (origin) =>
          this.writeUsers.map((user) =>
            httpRequest(origin, { method: 'POST', path: `/api/${user.id}/tasks`, headers: auth(user.token), body: NEW_TASK }),
          ),
        // Ids from a sequence, time-ordered like the worker's UUIDv7s (appended to the index).
        floor: () => {
          const users = this.writeUsers.slice(0, FLOOR_ROWS);
          return {
            scripts: users.map(
              (_, i) =>
                "SELECT 'ffffffff-0000-7000-8000-' || lpad(to_hex(nextval('bench_floor_ids')), 12, '0') AS id \\gset\n" +
                pgbenchStatement(workerStatements().insert, { 1: `w${i}`, 2: 'id' }),
            ),
            defines: Object.fromEntries(users.map((user, i) => [`w${i}`, user.id])),
          };
        },
      },
      {
        name: 'delete',
        label: 'DELETE a task',
        expect: 204,
        requests: (origin, { first, count }) =>
          Array.from({ length: count }, (_, i) => {
            const n = first + i;
            return httpRequest(origin, {
              method: 'DELETE',
              path: `/api/${deleteUserId(n)}/tasks/${deleteTaskId(n)}`,
              headers: auth(this.deleteTokens[n % DELETE_USERS]),
            });
          }),
        // The next unused pool task, from a sequence the bench sets before the run.
        floor: () => ({
          scripts: [
            `SELECT 'bench-delete-' || lpad((n % ${DELETE_USERS})::text, 3, '0') AS user_id, ` +
              "'d0000000-0000-7000-8000-' || lpad(to_hex(n), 12, '0') AS task_id " +
              "FROM (SELECT nextval('bench_delete_ids') AS n) AS next \\gset\n" +
              pgbenchStatement(workerStatements().delete, { 1: 'user_id', 2: 'task_id' }),
          ],
          defines: {},
        }),
      },
    ];
  }
}
