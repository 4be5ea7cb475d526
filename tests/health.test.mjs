// /health and failure modes: the database going away and coming back, and misconfiguration.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { until } from '../scripts/lib/timing.mjs';
import { startWorkerd } from '../scripts/lib/workerd.mjs';
import { Api, assertProblem, newUser } from './support/api.mjs';
import { forEachTransport } from './support/stack.mjs';

forEachTransport((t) => {

/** Polls `path` every 100 ms until it answers `status`; returns that response (or the last one). */
const answering = (api, path, status, timeoutMs) =>
  until(() => api.request('GET', path), { done: (response) => response.status === status, timeoutMs });

describe('GET /health and GET /ready', () => {
  test('200 after a real database round trip, no auth needed', async () => {
    for (const path of ['/health', '/ready']) {
      const response = await t.api.request('GET', path);
      assert.equal(response.status, 200, path);
      assert.deepEqual(response.body, { status: 'ok', database: 'ok' });
    }
  });

  test('503 with Retry-After while the database is down (/ready at once, /health within its cache time), 200 once it is back', async () => {
    const user = newUser();
    await t.api.seed(user, { title: 'survives the outage' });
    await t.api.request('GET', '/health');
    await t.stack.postgres.stop({ remove: false });
    try {
      const ready = await t.api.request('GET', '/ready');
      const problem = assertProblem(assert, ready, 503);
      assert.equal(ready.headers.get('retry-after'), '5');
      assert.doesNotMatch(problem.detail, /ECONNREFUSED|connect|postgres/i, 'no driver text in the body');

      const list = await t.api.list(user);
      assertProblem(assert, list, 503);
      assert.equal(list.headers.get('retry-after'), '5');

      // The liveness answer reuses a success for up to 5 s.
      assertProblem(assert, await answering(t.api, '/health', 503, 7_000), 503);
    } finally {
      await t.stack.postgres.restart();
    }
    assert.equal((await t.api.request('GET', '/ready')).status, 200);
    // ...and a failure for up to 1 s.
    assert.equal((await answering(t.api, '/health', 200, 3_000)).status, 200);
    const tasks = (await t.api.list(user)).body;
    assert.deepEqual(tasks.map((task) => task.title), ['survives the outage'], 'data survived');
    const causeLine = t.stack.worker.logs().split('\n').find((line) =>
      line.includes('"level":"error"') && line.includes('"status":503') && line.includes('"cause"'));
    assert.ok(causeLine, 'the cause is logged server-side');
  });
});

});

describe('misconfiguration', () => {
  // Configuration is checked before any database work, so nothing needs to listen here.
  const unusedDatabase = { port: 9, user: 'postgres', password: 'postgres', database: 'tasks' };

  test('a missing secret is a 500 problem naming nothing, and a log line naming the setting', async () => {
    const worker = await startWorkerd({ database: unusedDatabase, vars: { ALLOWED_ORIGINS: '*' } });
    try {
      const user = newUser();
      const response = await new Api(worker.url).request('GET', `/api/${user.id}/tasks`, {
        token: user.token, headers: { origin: 'http://localhost:3000' },
      });
      const problem = assertProblem(assert, response, 500);
      assert.equal(response.headers.get('access-control-allow-origin'), 'http://localhost:3000',
        'the browser can still read the problem');
      assert.doesNotMatch(problem.detail, /BETTER_AUTH_SECRET/);
      assert.match(worker.logs(), /BETTER_AUTH_SECRET is not set/);
    } finally {
      await worker.stop();
    }
  });

  const cases = [
    ['no database at all', {}, /no database is configured/],
    ['DB_TRANSPORT=neon-http without DATABASE_URL', { DB_TRANSPORT: 'neon-http' }, /DATABASE_URL is not set/],
    ['DB_TRANSPORT=hyperdrive without the binding', { DB_TRANSPORT: 'hyperdrive', DATABASE_URL: 'postgres://u:p@127.0.0.1:9/db' }, /no Hyperdrive binding/],
    ['an unknown DB_TRANSPORT', { DB_TRANSPORT: 'carrier-pigeon' }, /expected hyperdrive or neon-http/],
    // The connection string, password included, would travel to an endpoint derived from
    // someone else's domain, or in cleartext.
    ['a DATABASE_URL that is not Neon without NEON_HTTP_ENDPOINT', { DATABASE_URL: 'postgres://u:p@db.example.com/db' }, /NEON_HTTP_ENDPOINT is not set/],
    ['a plain-http NEON_HTTP_ENDPOINT that is not loopback', { DATABASE_URL: 'postgres://u:p@ep-a.us-east-2.aws.neon.tech/db', NEON_HTTP_ENDPOINT: 'http://sql.example.com/sql' }, /NEON_HTTP_ENDPOINT must be an https/],
    ['a plain-http NEON_HTTP_ENDPOINT whose loopback prefix is userinfo', { DATABASE_URL: 'postgres://u:p@ep-a.us-east-2.aws.neon.tech/db', NEON_HTTP_ENDPOINT: 'http://127.0.0.1:80@sql.example.com/sql' }, /NEON_HTTP_ENDPOINT must be an https/],
    ['ALLOWED_ORIGINS=* in production', { DB_TRANSPORT: 'carrier-pigeon', ALLOWED_ORIGINS: '*', ENVIRONMENT: 'production' }, /ENVIRONMENT is production/],
  ];
  for (const [name, vars, logged] of cases) {
    test(`${name}: a 500 problem and a log line naming the setting`, async () => {
      const worker = await startWorkerd({ vars: { BETTER_AUTH_SECRET: 'x'.repeat(40), ...vars } });
      try {
        assertProblem(assert, await new Api(worker.url).request('GET', '/health'), 500);
        assert.match(worker.logs(), logged);
        assert.doesNotMatch(worker.logs(), /u:p@/, 'the connection string is never logged');
      } finally {
        await worker.stop();
      }
    });
  }
});
