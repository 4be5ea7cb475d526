// /health and failure modes: the database going away and coming back, and misconfiguration.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startWorkerd } from '../scripts/lib/workerd.mjs';
import { Api, assertProblem, newUser } from './support/api.mjs';
import { startStack } from './support/stack.mjs';

let stack;
let api;
before(async () => {
  stack = await startStack();
  api = new Api(stack.url);
});
after(() => stack?.stop());

describe('GET /health', () => {
  test('200 after a real database round trip, no auth needed', async () => {
    const response = await api.request('GET', '/health');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, { status: 'ok', database: 'ok' });
  });

  test('503 with Retry-After while the database is down, 200 once it is back', async () => {
    const user = newUser();
    await api.seed(user, { title: 'survives the outage' });
    await stack.postgres.stop({ remove: false });
    try {
      const health = await api.request('GET', '/health');
      const problem = assertProblem(assert, health, 503);
      assert.equal(health.headers.get('retry-after'), '5');
      assert.doesNotMatch(problem.detail, /ECONNREFUSED|connect|postgres/i, 'no driver text in the body');

      const list = await api.list(user);
      assertProblem(assert, list, 503);
      assert.equal(list.headers.get('retry-after'), '5');
    } finally {
      await stack.postgres.restart();
    }
    assert.equal((await api.request('GET', '/health')).status, 200);
    const tasks = (await api.list(user)).body;
    assert.deepEqual(tasks.map((task) => task.title), ['survives the outage'], 'data survived');
    const causeLine = stack.worker.logs().split('\n').find((line) =>
      line.includes('"level":"error"') && line.includes('"status":503') && line.includes('"cause"'));
    assert.ok(causeLine, 'the cause is logged server-side');
  });
});

describe('misconfiguration', () => {
  test('a missing secret is a 500 problem naming nothing, and a log line naming the setting', async () => {
    const worker = await startWorkerd({ database: stack.postgres, vars: { ALLOWED_ORIGINS: '*' } });
    try {
      const user = newUser();
      const response = await new Api(worker.url).list(user);
      const problem = assertProblem(assert, response, 500);
      assert.doesNotMatch(problem.detail, /BETTER_AUTH_SECRET/);
      assert.match(worker.logs(), /BETTER_AUTH_SECRET is not set/);
    } finally {
      await worker.stop();
    }
  });

  test('no database binding is a 500 problem and a log line naming the binding', async () => {
    const worker = await startWorkerd({ vars: { BETTER_AUTH_SECRET: 'x'.repeat(40) } });
    try {
      assertProblem(assert, await new Api(worker.url).request('GET', '/health'), 500);
      assert.match(worker.logs(), /HYPERDRIVE/);
    } finally {
      await worker.stop();
    }
  });
});
