// The benchmark's reference worker (reference/) is a fair stand-in for ours: on the same
// database, with the same tokens, every route and every bench scenario it serves answers with
// the same status and the same JSON, and sends PostgreSQL the same SQL, over both transports.
// Each worker reaches the database through its own recording relay (scripts/lib/bench/relay.mjs):
// over Hyperdrive the relay sits between the worker and PostgreSQL; over Neon's HTTP endpoint,
// between the local stand-in and PostgreSQL, where the worker's statements arrive as Parse messages.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startRelay } from '../scripts/lib/bench/relay.mjs';
import { Workload } from '../scripts/lib/bench/workload.mjs';
import { sendRaw } from '../scripts/lib/bench/wrk.mjs';
import { migrate } from '../scripts/lib/migrations.mjs';
import { startNeonStandin } from '../scripts/lib/neon-standin.mjs';
import { removeTemporaryDir, temporaryDir } from '../scripts/lib/processes.mjs';
import { bundleReference, REFERENCE_COMPATIBILITY_FLAGS, REFERENCE_UNSUPPORTED } from '../scripts/lib/reference.mjs';
import { startWorkerd } from '../scripts/lib/workerd.mjs';
import { newUser, signToken } from './support/api.mjs';
import { ALLOWED_ORIGIN, sharedDatabase, TEST_SECRET } from './support/stack.mjs';

/** What the Neon stand-in runs on a connection it returns to its pool: not the worker's SQL. */
const STANDIN_RESET = /^ROLLBACK; CLOSE ALL;/;
const normalize = (text) => text.replace(/\s+/g, ' ').trim();

/** The value's JSON shape: every leaf replaced by its type, so two tasks with other ids compare equal. */
function shape(value) {
  if (Array.isArray(value)) return value.map(shape);
  if (value && typeof value === 'object') return Object.fromEntries(Object.keys(value).sort().map((key) => [key, shape(value[key])]));
  return value === null ? 'null' : typeof value;
}

/** `value` without the fields a second write necessarily changes, at any depth. */
function without(value, fields) {
  if (Array.isArray(value)) return value.map((item) => without(item, fields));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).filter(([key]) => !fields.includes(key)).map(([key, item]) => [key, without(item, fields)]));
  }
  return value;
}

const bodyOf = (answer) => (answer.text ? JSON.parse(answer.text) : undefined);

for (const transport of ['hyperdrive', 'neon-http']) {
  describe(`the reference worker beside ours, over ${transport}`, () => {
    const cleanups = [];
    const workers = {}; // ours, reference → { url, relay, worker }
    let database;
    let workload;

    before(async () => {
      const postgres = await sharedDatabase();
      // A database of its own: the bench data set has fixed ids and a Better Auth-shaped table.
      const name = `reference_${transport.replace('-', '_')}_${randomUUID().slice(0, 8)}`;
      const admin = new pg.Client({ connectionString: postgres.url });
      await admin.connect();
      await admin.query(`CREATE DATABASE ${name}`);
      await admin.end();
      const url = postgres.url.replace(/\/[^/]+$/, `/${name}`);
      await migrate(url, { quiet: true });
      database = new pg.Client({ connectionString: url });
      await database.connect();
      cleanups.push(() => database.end());
      workload = new Workload({ secret: TEST_SECRET, readUsers: 3, writeUsers: 3 });
      await workload.seed(database);

      const bundleDir = temporaryDir('edge-task-api-reference-');
      cleanups.push(() => removeTemporaryDir(bundleDir));
      const { modules } = bundleReference(bundleDir);
      let standin;
      if (transport === 'neon-http') {
        standin = await startNeonStandin();
        cleanups.push(() => standin.close());
      }
      const starts = {
        ours: { vars: { BETTER_AUTH_SECRET: TEST_SECRET, ALLOWED_ORIGINS: ALLOWED_ORIGIN, ENVIRONMENT: 'test' } },
        reference: { vars: { BETTER_AUTH_SECRET: TEST_SECRET }, modules, compatibilityFlags: REFERENCE_COMPATIBILITY_FLAGS },
      };
      for (const [who, start] of Object.entries(starts)) {
        const relay = await startRelay({ target: { port: postgres.port }, record: true });
        cleanups.push(() => relay.close());
        const viaRelay = { ...postgres, port: relay.port, database: name };
        const connection =
          transport === 'neon-http'
            ? { vars: { DATABASE_URL: `postgres://${postgres.user}:${postgres.password}@127.0.0.1:${relay.port}/${name}`, NEON_HTTP_ENDPOINT: standin.url } }
            : { database: viaRelay, vars: {} };
        const worker = await startWorkerd({ ...start, database: connection.database, vars: { ...start.vars, ...connection.vars } });
        cleanups.push(() => worker.stop());
        workers[who] = { url: worker.url, relay, worker };
      }
    });
    after(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    /** Sends a request to one worker; resolves { status, headers, text, body, sql }. */
    async function send(who, method, path, { token, json, raw } = {}) {
      const { url, relay } = workers[who];
      relay.clearStatements();
      let answer;
      if (raw) {
        answer = await sendRaw(url, raw(url));
      } else {
        const headers = token ? { authorization: `Bearer ${token}` } : {};
        if (json !== undefined) headers['content-type'] = 'application/json';
        const response = await fetch(`${url}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
        answer = { status: response.status, headers: response.headers, text: await response.text() };
      }
      const sql = relay.statements().map((statement) => normalize(statement.text)).filter((text) => !STANDIN_RESET.test(text));
      return { ...answer, body: bodyOf(answer), sql };
    }

    /**
     * The same request to both workers, ours first: the same status, the same JSON shape, the
     * same content but for `changing` fields, and the same SQL (some, when `queries` is set).
     */
    async function both(what, method, path, options = {}) {
      const { status, changing = [], queries = true, ...request } = options;
      const ours = await send('ours', method, typeof path === 'function' ? path('ours') : path, request);
      const theirs = await send('reference', method, typeof path === 'function' ? path('reference') : path, request);
      assert.equal(ours.status, status, `${what}: ours answered ${ours.status}: ${ours.text.slice(0, 300)}`);
      assert.equal(theirs.status, status, `${what}: the reference answered ${theirs.status}: ${theirs.text.slice(0, 300)}\n${workers.reference.worker.logs().slice(-1500)}`);
      assert.deepEqual(shape(theirs.body), shape(ours.body), `${what}: the same JSON shape`);
      if (ours.body?.type) {
        // Problems: the same kind; the sentences are each worker's own.
        assert.deepEqual(without(theirs.body, ['detail']), without(ours.body, ['detail']), `${what}: the same problem`);
      } else {
        assert.deepEqual(without(theirs.body, changing), without(ours.body, changing), `${what}: the same content`);
      }
      assert.deepEqual(theirs.sql, ours.sql, `${what}: the same SQL`);
      if (queries) assert.ok(ours.sql.length > 0, `${what}: reached the database`);
      else assert.deepEqual(ours.sql, [], `${what}: no database work`);
      return { ours, theirs };
    }

    test('every route: the same statuses, JSON and SQL', async () => {
      const user = newUser();
      const task = { title: '  Buy milk ', description: 'two litres', due_date: '2026-12-24', priority: 'high', tags: ['Home', 'errands', 'home'] };
      const tasks = `/api/${user.id}/tasks`;
      const fresh = ['id', 'created_at', 'updated_at', 'completed_at'];

      await both('GET /ready', 'GET', '/ready', { status: 200 });
      // Ours answers /health from its isolate's last check, so no SQL is compared there.
      const health = [await send('ours', 'GET', '/health'), await send('reference', 'GET', '/health')];
      assert.deepEqual(health.map((answer) => [answer.status, answer.body]), [[200, { status: 'ok', database: 'ok' }], [200, { status: 'ok', database: 'ok' }]]);

      const created = await both('POST a task', 'POST', tasks, { token: user.token, json: task, status: 201, changing: fresh });
      assert.deepEqual(created.ours.body.tags, ['home', 'errands']);
      const ids = { ours: created.ours.body.id, reference: created.theirs.body.id };
      const own = (suffix = '') => (who) => `${tasks}/${ids[who]}${suffix}`;

      // Both tasks, newest first, in both lists: the same bodies.
      const listed = await both('GET the list', 'GET', tasks, { token: user.token, status: 200 });
      assert.deepEqual(listed.ours.body.map((t) => t.id), [ids.reference, ids.ours]);
      await both('GET the list with limit, q and tag', 'GET', `${tasks}?limit=1&q=milk&tag=HOME`, { token: user.token, status: 200 });
      await both('GET a search that finds nothing', 'GET', `${tasks}?q=100%25_sure`, { token: user.token, status: 200 });

      await both('GET one task', 'GET', `${tasks}/${ids.ours}`, { token: user.token, status: 200 });
      await both('PUT a partial update', 'PUT', own(), {
        token: user.token,
        json: { title: 'Buy oat milk', description: null, completed: true, due_date: null, tags: [] },
        status: 200,
        changing: fresh,
      });
      await both('PATCH …/complete with no body (toggle)', 'PATCH', own('/complete'), { token: user.token, status: 200, changing: fresh });
      await both('PATCH …/complete setting it', 'PATCH', own('/complete'), { token: user.token, json: { completed: true }, status: 200, changing: fresh });
      await both('DELETE a task', 'DELETE', own(), { token: user.token, status: 204 });
      await both('GET a deleted task', 'GET', own(), { token: user.token, status: 404 });
      await both('DELETE a deleted task', 'DELETE', own(), { token: user.token, status: 404 });
      await both('PUT a task that does not exist', 'PUT', `${tasks}/${randomUUID()}`, { token: user.token, json: { title: 'x' }, status: 404 });

      await both('a malformed task id', 'GET', `${tasks}/not-a-uuid`, { token: user.token, status: 404, queries: false });
      await both('POST without a title', 'POST', tasks, { token: user.token, json: { description: 'no title' }, status: 400, queries: false });
      await both('no token', 'GET', tasks, { status: 401, queries: false });
      const forged = signToken({ sub: user.id, exp: Math.floor(Date.now() / 1000) + 600 }, { secret: 'not-the-secret' });
      await both('a bad signature', 'GET', tasks, { token: forged, status: 401, queries: false });
      await both("another user's path", 'GET', `/api/someone-else/tasks`, { token: user.token, status: 403, queries: false });
    });

    test('every bench scenario the reference serves: the same statuses, JSON and SQL', async () => {
      const scenarios = workload.scenarios().filter((scenario) => !REFERENCE_UNSUPPORTED[scenario.name]);
      assert.deepEqual(
        scenarios.map((scenario) => scenario.name),
        ['ready', 'unauthorized', 'list', 'page-first', 'search', 'tag', 'get', 'update', 'toggle', 'create', 'delete'],
      );
      for (const scenario of scenarios) {
        // Each worker deletes a pool task of its own.
        const first = scenario.name === 'delete' ? await workload.reserveDeletes(database, 2) : 0;
        const offset = { ours: 0, reference: 1 };
        const raw = (who) => (origin) => scenario.requests(origin, { first: first + offset[who], count: 1 })[0];
        const ours = await send('ours', null, null, { raw: raw('ours') });
        const theirs = await send('reference', null, null, { raw: raw('reference') });
        if (scenario.name === 'delete') workload.usedDeletesThrough(first + 1);
        const what = `scenario ${scenario.name}`;
        assert.equal(ours.status, scenario.expect, `${what}: ours: ${ours.text.slice(0, 300)}`);
        assert.equal(theirs.status, scenario.expect, `${what}: the reference: ${theirs.text.slice(0, 300)}`);
        // A write's second run changes what the first set: its time, and a toggle's flag.
        const changing = { create: ['id', 'created_at', 'updated_at', 'completed_at'], update: ['updated_at', 'completed_at'], toggle: ['updated_at', 'completed', 'completed_at'] }[scenario.name] ?? [];
        // The two workers toggle different pool tasks, so one may complete while the other reopens:
        // `completed_at` is then a time on one side and null on the other, as `completed` says.
        const nullableByState = scenario.name === 'toggle' ? ['completed_at'] : [];
        assert.deepEqual(shape(without(theirs.body, nullableByState)), shape(without(ours.body, nullableByState)), `${what}: the same JSON shape`);
        for (const answer of nullableByState.length ? [ours, theirs] : []) {
          assert.equal(answer.body.completed_at === null, !answer.body.completed, `${what}: completed_at is set exactly when completed`);
        }
        const content = (answer) => (answer.body?.type ? without(answer.body, ['detail']) : without(answer.body, changing));
        assert.deepEqual(content(theirs), content(ours), `${what}: the same content`);
        assert.deepEqual(theirs.sql, ours.sql, `${what}: the same SQL`);
        assert.equal(ours.sql.length, scenario.name === 'unauthorized' ? 0 : 1, `${what}: one statement`);
      }
    });
  });
}
