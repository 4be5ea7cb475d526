// The rate limits and the task quota, end to end:
// - a verified user's requests spend that user's budget (USER_RATE_LIMITER, key `user:<id>`);
//   past it, 429 with Retry-After and the rate-limited problem, and other users are unaffected;
// - failed authentications spend the client address's budget (CLIENT_RATE_LIMITER, key
//   `address:<CF-Connecting-IP>`), as GET /ready does; another address, and a valid token from
//   the spent address, are unaffected;
// - a 429 does no database work: no connection, no byte to PostgreSQL;
// - a user with TASK_QUOTA tasks gets 409 quota-exceeded for a create, with or without an
//   Idempotency-Key, and a refused key is not claimed: its retry after a delete creates.
//
// The limits run over Hyperdrive only: the limiter is consulted before the store is opened, so
// the transport behind it makes no difference to them. The quota is the store's, so it runs
// over both transports.
//
// The stand-in counts in fixed windows aligned to the clock's minute
// (scripts/lib/ratelimit-standin.js): each burst starts only when enough of its window is
// left, so that no burst straddles two windows.
//
// Run: node --test tests/rate-limits.test.mjs

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startRelay } from '../scripts/lib/bench/relay.mjs';
import { sleep, until } from '../scripts/lib/timing.mjs';
import { startWorkerd } from '../scripts/lib/workerd.mjs';
import { Api, assertProblem, newUser } from './support/api.mjs';
import { ALLOWED_ORIGIN, sharedDatabase, stackWith, TEST_SECRET, TRANSPORTS } from './support/stack.mjs';

const RATE_LIMITED = 'tag:edge-task-api,2026:rate-limited';
const QUOTA_EXCEEDED = 'tag:edge-task-api,2026:quota-exceeded';

/** Small budgets, so that a test reaches them in a few requests. */
const SMALL_LIMITS = {
  USER_RATE_LIMITER: { limit: 5, period: 60 },
  CLIENT_RATE_LIMITER: { limit: 3, period: 60 },
};

/** The stand-in's window: the clock's minute. */
const WINDOW_MS = 60_000;

/**
 * Waits for the next window when fewer than `neededMs` of this one are left, so that the
 * burst that follows falls in one window.
 */
async function awayFromWindowEdge(neededMs = 3_000) {
  const left = WINDOW_MS - (Date.now() % WINDOW_MS);
  if (left < neededMs) await sleep(left + 50);
}

/** Addresses from TEST-NET-3 (RFC 5737), one per test, so that no two share a budget. */
const address = (last) => ({ 'cf-connecting-ip': `203.0.113.${last}` });

/** A token no key signed: a failed authentication. */
const FORGED = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.bm90LWEtc2lnbmF0dXJl';

/** Asserts the 429 of the contract: the problem, its type and `Retry-After` of the period. */
function assertRateLimited(response, message) {
  const problem = assertProblem(assert, response, 429);
  assert.equal(problem.type, RATE_LIMITED, message);
  assert.equal(response.headers.get('retry-after'), '60', `${message}: Retry-After is the period`);
  return problem;
}

describe('rate limits (hyperdrive)', () => {
  let stack;
  let api;
  before(async () => {
    stack = await stackWith({}, 'hyperdrive', { rateLimits: SMALL_LIMITS });
    api = new Api(stack.url);
  });
  after(() => stack?.stop());

  test("a user's burst: 5 pass, the rest are 429 with Retry-After; another user meanwhile passes", async () => {
    const alice = newUser();
    const bob = newUser();
    await awayFromWindowEdge();
    const statuses = [];
    const bobs = [];
    for (let n = 0; n < 8; n += 1) {
      const response = await api.list(alice);
      statuses.push(response.status);
      if (response.status === 429) {
        const problem = assertRateLimited(response, `request ${n + 1}`);
        assert.match(problem.detail, /user/, 'the detail says whose budget is spent');
      }
      // Bob's requests are interleaved with Alice's, within his own budget.
      if (n % 2 === 1) bobs.push((await api.list(bob)).status);
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429, 429]);
    assert.deepEqual(bobs, [200, 200, 200, 200], 'another user has a budget of their own');
    // The budget is the user's, wherever the requests come from.
    const elsewhere = await api.request('GET', `/api/${alice.id}/tasks`, { token: alice.token, headers: address(1) });
    assertRateLimited(elsewhere, 'the same user from another address');
  });

  test("failed authentications spend the address's budget: 3 are 401, then 429; other addresses and valid tokens pass", async () => {
    const target = newUser();
    const carol = newUser();
    const spent = address(7);
    await awayFromWindowEdge();
    const statuses = [];
    for (let n = 0; n < 5; n += 1) {
      const response = await api.request('GET', `/api/${target.id}/tasks`, { token: FORGED, headers: spent });
      statuses.push(response.status);
      if (response.status === 429) assertRateLimited(response, `failure ${n + 1}`);
    }
    assert.deepEqual(statuses, [401, 401, 401, 429, 429]);
    // Missing credentials are failures too, from the same budget.
    assertRateLimited(await api.request('GET', `/api/${target.id}/tasks`, { headers: spent }), 'no Authorization at all');

    const other = await api.request('GET', `/api/${target.id}/tasks`, { token: FORGED, headers: address(8) });
    assertProblem(assert, other, 401);
    const valid = await api.request('GET', `/api/${carol.id}/tasks`, { token: carol.token, headers: spent });
    assert.equal(valid.status, 200, `a valid token from the spent address is limited by its user's budget only: ${valid.text}`);
  });

  test("GET /ready spends the address's budget: 3 pass, the 4th is 429", async () => {
    const monitor = address(9);
    await awayFromWindowEdge();
    const statuses = [];
    for (let n = 0; n < 4; n += 1) {
      const response = await api.request('GET', '/ready', { headers: monitor });
      statuses.push(response.status);
      if (response.status === 429) assertRateLimited(response, `readiness check ${n + 1}`);
    }
    assert.deepEqual(statuses, [200, 200, 200, 429]);
    assert.equal((await api.request('GET', '/ready', { headers: address(10) })).status, 200, 'another address');
    // /health, the liveness probe, is not limited.
    assert.equal((await api.request('GET', '/health', { headers: monitor })).status, 200);
  });
});

describe('a 429 does no database work (hyperdrive)', () => {
  // Counted on the wire rather than in PostgreSQL's statistics: a relay between workerd and
  // PostgreSQL (scripts/lib/bench/relay.mjs) sees every connection and byte the worker sends.
  // pg_stat_database's counters are flushed by each backend on its own schedule (up to seconds
  // later, at exit for short connections) and include our own queries and autovacuum, so
  // "unchanged" would be a guess; the relay's counts are exact and only the worker's.
  let relay;
  let worker;
  let api;
  before(async () => {
    const postgres = await sharedDatabase();
    relay = await startRelay({ target: { port: postgres.port } });
    worker = await startWorkerd({
      database: { ...postgres, port: relay.port },
      vars: { BETTER_AUTH_SECRET: TEST_SECRET, ALLOWED_ORIGINS: ALLOWED_ORIGIN, ENVIRONMENT: 'test' },
      rateLimits: { USER_RATE_LIMITER: { limit: 1, period: 60 }, CLIENT_RATE_LIMITER: { limit: 1, period: 60 } },
    });
    api = new Api(worker.url);
  });
  after(async () => {
    await worker?.stop();
    await relay?.close();
  });

  /** The relay's counts once nothing has moved for a few polls (a connection's Terminate comes after its response). */
  async function settled() {
    let last = JSON.stringify(relay.snapshot());
    let quiet = 0;
    return until(async () => {
      await sleep(100);
      const now = JSON.stringify(relay.snapshot());
      quiet = now === last ? quiet + 1 : 0;
      last = now;
      return quiet >= 3 ? relay.snapshot() : undefined;
    }, { timeoutMs: 10_000 });
  }

  test('refused requests of every budget open no connection and send PostgreSQL nothing', async () => {
    const user = newUser();
    const from = address(20);
    await awayFromWindowEdge(5_000);
    // One allowed request of each budget: they reach the database, through the relay.
    const before = relay.snapshot();
    assert.equal((await api.list(user)).status, 200);
    assertProblem(assert, await api.request('GET', `/api/${user.id}/tasks`, { token: FORGED, headers: from }), 401);
    const spent = await settled();
    assert.ok(spent.connections > before.connections && spent.bytesToServer > before.bytesToServer,
      `the allowed request went through the relay: ${JSON.stringify({ before, spent })}`);
    // The budgets are now spent; every one of these is refused.
    const refused = [
      await api.list(user),
      await api.create(user, { title: 'refused' }),
      await api.request('GET', `/api/${user.id}/tasks`, { token: FORGED, headers: from }),
      await api.request('GET', '/ready', { headers: from }),
    ];
    for (const [n, response] of refused.entries()) assertRateLimited(response, `refused request ${n + 1}`);
    const afterwards = await settled();
    assert.deepEqual(afterwards, spent, 'no connection, round trip or byte for the 429s');
  });
});

describe('the task quota', () => {
  for (const transport of TRANSPORTS) {
    describe(`over ${transport}`, () => {
      let stack;
      let api;
      before(async () => {
        stack = await stackWith({ TASK_QUOTA: '3' }, transport);
        api = new Api(stack.url);
      });
      after(() => stack?.stop());

      const createWithKey = (user, key, title) => api.request('POST', `/api/${user.id}/tasks`, {
        token: user.token, json: { title }, headers: { 'idempotency-key': key },
      });
      const titles = async (user) => {
        const listed = await api.list(user);
        assert.equal(listed.status, 200, listed.text);
        return listed.body.map((task) => task.title).sort();
      };

      test('a full account refuses creates with 409, with or without a key, until a task is deleted', async () => {
        const user = newUser();
        const seeded = [];
        for (const title of ['one', 'two', 'three']) {
          const created = await api.create(user, { title });
          assert.equal(created.status, 201, created.text);
          seeded.push(created.body);
        }

        const refused = assertProblem(assert, await api.create(user, { title: 'four' }), 409);
        assert.equal(refused.type, QUOTA_EXCEEDED);
        assert.match(refused.detail, /\b3\b/, 'the detail names the quota');
        assert.deepEqual(await titles(user), ['one', 'three', 'two'], 'nothing was created');

        const key = randomUUID();
        const refusedWithKey = assertProblem(assert, await createWithKey(user, key, 'keyed'), 409);
        assert.equal(refusedWithKey.type, QUOTA_EXCEEDED);
        assert.deepEqual(await titles(user), ['one', 'three', 'two']);

        assert.equal((await api.remove(user, seeded[0].id)).status, 204);
        // The refused key was not claimed: its retry creates the task now that there is room.
        const retried = await createWithKey(user, key, 'keyed');
        assert.equal(retried.status, 201, retried.text);
        assert.equal(retried.body.title, 'keyed');
        assert.deepEqual(await titles(user), ['keyed', 'three', 'two']);

        const full = assertProblem(assert, await api.create(user, { title: 'five' }), 409);
        assert.equal(full.type, QUOTA_EXCEEDED, 'full again');
        // A replay of the key that created a task is still a replay, not a create.
        const replayed = await createWithKey(user, key, 'keyed');
        assert.equal(replayed.status, 201, replayed.text);
        assert.equal(replayed.body.id, retried.body.id, 'the same task');
        assert.deepEqual(await titles(user), ['keyed', 'three', 'two']);
      });

      test('a full account gets 409 for a key that expired, not that key\'s old answer', async () => {
        const user = newUser();
        const key = randomUUID();
        const first = await createWithKey(user, key, 'first');
        assert.equal(first.status, 201, first.text);
        for (const title of ['two', 'three']) assert.equal((await api.create(user, { title })).status, 201);
        const postgres = await sharedDatabase();
        const { default: pg } = await import('pg');
        const client = new pg.Client({ connectionString: postgres.url });
        await client.connect();
        try {
          await client.query(
            `UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1 AND key = $2`,
            [user.id, key],
          );
        } finally {
          await client.end();
        }
        // Past its 24 hours the key is free: with room it would create; without, it is the quota.
        const reused = assertProblem(assert, await createWithKey(user, key, 'another body'), 409);
        assert.equal(reused.type, QUOTA_EXCEEDED);
        const same = assertProblem(assert, await createWithKey(user, key, 'first'), 409);
        assert.equal(same.type, QUOTA_EXCEEDED);
      });

      test('the quota is per user', async () => {
        const full = newUser();
        for (let n = 0; n < 3; n += 1) await api.seed(full, { title: `t${n}` });
        assert.equal((await api.create(full, { title: 'over' })).status, 409);
        const other = newUser();
        assert.equal((await api.create(other, { title: 'mine' })).status, 201);
      });
    });
  }
});
