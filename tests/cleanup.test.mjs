// The hourly clean-up job (src/jobs.rs, the statement in src/store/sql.rs `clean_up`), fired
// through the `scheduled` handler as Cloudflare's Cron Trigger would fire it
// (scripts/lib/scheduled-trigger.js, startWorkerd's `scheduled: true`):
// - "17 * * * *" removes idempotency keys past 24 hours and tombstones past 31 days (the feed's 30 and a day), and
//   keeps the fresh ones; any other expression runs nothing;
// - per user it keeps the newest 10,000 keys and 10,000 tombstones; tombstones removed for the
//   cap move the user's feed horizon, and a change-feed cursor from before them is then a 410
//   while one from after them still syncs;
// - one run makes at most 10 statements of at most 10,000 rows of a kind;
// - each run logs a JSON line with the job, its cron expression and its counts.
//
// Rows are written behind the worker's back (the ages the job looks at cannot be reached
// through the API), for fresh random users. Other suites share the database, so assertions
// about rows are about this suite's users only; only the per-run bound reads the job's own
// counts, which no other user's rows can push past it.
// Hyperdrive only: the job's statement is the same text over either transport.
//
// Run: node --test tests/cleanup.test.mjs

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { until } from '../scripts/lib/timing.mjs';
import { startWorkerd } from '../scripts/lib/workerd.mjs';
import { Api, assertProblem, newUser } from './support/api.mjs';
import { ALLOWED_ORIGIN, RATE_LIMITS, sharedDatabase, TEST_SECRET } from './support/stack.mjs';

/** The clean-up's expression (src/jobs.rs CLEANUP_CRON, wrangler.toml `crons`). */
const CLEANUP_CRON = '17 * * * *';
/** What one statement removes at most of each kind, and what is kept per user. */
const BATCH = 10_000;
const KEPT_PER_USER = 10_000;
/** The most statements one run makes. */
const ROUNDS = 10;

/** A user id the API would accept, for rows no request made. */
const freshUserId = () => `user_${randomUUID().replaceAll('-', '')}`;

/** The payload of a feed cursor (base64url JSON before the signature): `x` is its position. */
const cursorPayload = (cursor) => JSON.parse(Buffer.from(cursor.split('.')[0], 'base64url').toString());

describe('the clean-up job (hyperdrive)', () => {
  let worker;
  let api;
  let database;
  before(async () => {
    const postgres = await sharedDatabase();
    worker = await startWorkerd({
      database: postgres,
      vars: { BETTER_AUTH_SECRET: TEST_SECRET, ALLOWED_ORIGINS: ALLOWED_ORIGIN, ENVIRONMENT: 'test' },
      rateLimits: RATE_LIMITS,
      scheduled: true,
    });
    api = new Api(worker.url);
    database = new pg.Pool({ connectionString: postgres.url, max: 2 });
  });
  after(async () => {
    await database?.end();
    await worker?.stop();
  });

  const sql = async (text, params = []) => (await database.query(text, params)).rows;

  /** `count` keys for `user`, named `<prefix>-<n>`, created `age` (an SQL interval expression in n) ago. */
  const seedKeys = (user, prefix, count, age) => sql(
    `INSERT INTO idempotency_keys (user_id, key, request_hash, task_id, created_at)
     SELECT $1, $2 || '-' || n, 'seeded', gen_random_uuid(), now() - (${age})
     FROM generate_series(1, $3::int) AS n`,
    [user, prefix, count],
  );
  /** `count` tombstones for `user`, deleted `age` ago, all in this statement's transaction; returns their ids and xid. */
  async function seedTombstones(user, count, age = "interval '0'") {
    const rows = await sql(
      `INSERT INTO task_deletions (user_id, task_id, deleted_at)
       SELECT $1, gen_random_uuid(), now() - (${age}) FROM generate_series(1, $2::int)
       RETURNING task_id::text AS id, deleted_xid::text AS xid`,
      [user, count],
    );
    return { ids: rows.map((row) => row.id).sort(), xid: rows[0].xid };
  }
  const keysOf = async (user) => (await sql('SELECT key FROM idempotency_keys WHERE user_id = $1', [user])).map((row) => row.key).sort();
  const keyCount = async (user) => Number((await sql('SELECT count(*) FROM idempotency_keys WHERE user_id = $1', [user]))[0].count);
  const tombstonesOf = async (user) => (await sql('SELECT task_id::text AS id FROM task_deletions WHERE user_id = $1', [user])).map((row) => row.id).sort();
  const horizonOf = async (user) => (await sql('SELECT pruned_xid::text AS xid FROM feed_horizons WHERE user_id = $1', [user]))[0]?.xid;

  /** The worker's JSON log lines that `keep` selects, parsed. */
  const logLines = (keep) => worker.logs().split('\n')
    .filter((line) => line.startsWith('{') && keep(line))
    .map((line) => JSON.parse(line));
  const cleanupLines = () => logLines((line) => line.includes('"job":"clean-up"'));

  /** Fires `cron`, asserts the run succeeded, and returns the clean-up's log line of it (or undefined). */
  async function run(cron) {
    const before = cleanupLines().length;
    const result = await worker.runScheduled(cron);
    assert.equal(result.outcome, 'ok', `the scheduled run of "${cron}": ${JSON.stringify(result)}`);
    if (cron !== CLEANUP_CRON) return undefined;
    // The line is written before the handler resolves; give the pipe a moment to bring it.
    const lines = await until(cleanupLines, { done: (found) => found.length > before, timeoutMs: 5_000 });
    assert.equal(lines.length, before + 1, 'one clean-up line per run');
    return lines.at(-1);
  }

  /** Follows the user's change feed from `since` to its end; returns the pages and the last cursor. */
  async function sync(user, since) {
    const pages = [];
    let cursor = since;
    for (let hasMore = true; hasMore;) {
      const query = cursor ? `?since=${encodeURIComponent(cursor)}` : '';
      const response = await api.request('GET', `/api/${user.id}/changes${query}`, { token: user.token });
      assert.equal(response.status, 200, response.text);
      pages.push(response.body);
      ({ cursor, has_more: hasMore } = response.body);
      assert.ok(pages.length < 200, 'the feed ends');
    }
    return { pages, cursor };
  }

  test('"17 * * * *" removes keys past 24 hours and tombstones past 31 days, keeps the fresh ones, and logs its counts', async () => {
    const user = freshUserId();
    await seedKeys(user, 'expired', 3, "interval '25 hours'");
    await seedKeys(user, 'live', 2, "interval '0'");
    await seedKeys(user, 'almost', 1, "interval '23 hours'");
    await seedTombstones(user, 3, "interval '32 days'");
    const fresh = await seedTombstones(user, 2);
    const almost = await seedTombstones(user, 1, "interval '30 days 12 hours'");

    const line = await run(CLEANUP_CRON);

    assert.deepEqual(await keysOf(user), ['almost-1', 'live-1', 'live-2']);
    assert.deepEqual(await tombstonesOf(user), [...fresh.ids, ...almost.ids].sort());
    assert.equal(await horizonOf(user), undefined, 'tombstones past their 31 days leave the feed horizon alone');

    assert.equal(line.level, 'info');
    assert.equal(line.cron, CLEANUP_CRON);
    assert.deepEqual(Object.keys(line.counts).sort(), ['excess_keys', 'excess_tombstones', 'expired_keys', 'old_tombstones', 'rounds']);
    assert.ok(line.counts.expired_keys >= 3 && line.counts.old_tombstones >= 3, JSON.stringify(line.counts));
    assert.ok(line.counts.rounds >= 1 && line.counts.rounds <= ROUNDS, JSON.stringify(line.counts));
  });

  test('any other cron expression removes nothing, and says so in the log', async () => {
    const user = freshUserId();
    await seedKeys(user, 'expired', 1, "interval '25 hours'");
    const old = await seedTombstones(user, 1, "interval '32 days'");
    const linesBefore = cleanupLines().length;

    await run('* * * * *');
    assert.deepEqual(await keysOf(user), ['expired-1'], 'the expired key stays');
    assert.deepEqual(await tombstonesOf(user), old.ids, 'the old tombstone stays');
    assert.equal(cleanupLines().length, linesBefore, 'no clean-up ran');
    const refusal = await until(
      () => logLines((line) => line.includes('no job has this cron expression') && line.includes('"cause":"* * * * *"')),
      { done: (found) => found.length > 0, timeoutMs: 5_000 },
    );
    assert.equal(refusal.length, 1, 'the unknown expression is logged');

    // The same rows were due: the clean-up's own expression removes them.
    await run(CLEANUP_CRON);
    assert.deepEqual(await keysOf(user), []);
    assert.deepEqual(await tombstonesOf(user), []);
  });

  test('per user, the newest 10,000 keys stay and older ones beyond them go', async () => {
    const over = freshUserId();
    const atCap = freshUserId();
    // Key n was created n seconds ago: key-10001 to key-10020 are the 20 oldest.
    await seedKeys(over, 'key', KEPT_PER_USER + 20, "n * interval '1 second'");
    await seedKeys(atCap, 'key', KEPT_PER_USER, "n * interval '1 second'");

    const line = await run(CLEANUP_CRON);

    assert.equal(await keyCount(over), KEPT_PER_USER);
    const gone = Array.from({ length: 20 }, (_, i) => `key-${KEPT_PER_USER + 1 + i}`);
    const remaining = new Set(await keysOf(over));
    assert.deepEqual(gone.filter((key) => remaining.has(key)), [], 'the 20 oldest are the ones removed');
    assert.ok(remaining.has('key-1') && remaining.has(`key-${KEPT_PER_USER}`));
    assert.equal(await keyCount(atCap), KEPT_PER_USER, 'a user at the cap keeps every key');
    assert.ok(line.counts.excess_keys >= 20, JSON.stringify(line.counts));
  });

  test('tombstones past the cap go and move the feed horizon: a cursor from before them is a 410, one from after still syncs', async () => {
    const user = newUser();
    // A client's cursor from before any of the deletions.
    const { cursor: before } = await sync(user);
    // 5 deletions in one transaction, then a client's sync, then 10,000 more deletions: the 5
    // are the oldest, and past the cap of 10,000.
    const first = await seedTombstones(user.id, 5);
    const { cursor: between } = await sync(user);
    const rest = await seedTombstones(user.id, KEPT_PER_USER);
    assert.ok(BigInt(cursorPayload(before).x) <= BigInt(first.xid), 'the early cursor is at or before the 5 deletions');
    assert.ok(BigInt(cursorPayload(between).x) > BigInt(first.xid), 'the later cursor is past them');
    assert.ok(BigInt(rest.xid) > BigInt(first.xid));
    const deliveredBefore = (await sync(user, before)).pages.flatMap((page) => page.deleted);
    assert.equal(deliveredBefore.length, KEPT_PER_USER + 5, 'before the run, the early cursor gets every deletion');

    const line = await run(CLEANUP_CRON);

    assert.deepEqual(await tombstonesOf(user.id), rest.ids, 'the newest 10,000 stay');
    assert.equal(await horizonOf(user.id), first.xid, 'the horizon is the newest transaction of the removed ones');
    assert.ok(line.counts.excess_tombstones >= 5, JSON.stringify(line.counts));

    const expired = await api.request('GET', `/api/${user.id}/changes?since=${encodeURIComponent(before)}`, { token: user.token });
    const problem = assertProblem(assert, expired, 410);
    assert.equal(problem.type, 'tag:edge-task-api,2026:cursor-expired');
    const delivered = (await sync(user, between)).pages.flatMap((page) => page.deleted);
    assert.deepEqual(delivered.sort(), rest.ids, 'the later cursor gets the deletions that remain, none missed');
    // A new first sync is the way back for the early client.
    const { pages } = await sync(user);
    assert.deepEqual(pages.flatMap((page) => [...page.tasks, ...page.deleted]), []);
  });

  test('one run makes at most 10 statements of at most 10,000 rows of a kind; the next run goes on', async () => {
    const user = freshUserId();
    const seeded = ROUNDS * BATCH + 5;
    // Key n expired n milliseconds before key n - 1: the highest n are the oldest.
    await seedKeys(user, 'expired', seeded, "interval '25 hours' + n * interval '1 millisecond'");

    const line = await run(CLEANUP_CRON);
    assert.equal(line.counts.rounds, ROUNDS, JSON.stringify(line.counts));
    assert.equal(line.counts.expired_keys, ROUNDS * BATCH, 'the run stops at its bound');
    const left = await keysOf(user);
    // This user's newest 5 at least are left (more only if other users' expired keys were older).
    assert.ok(left.length >= 5, `${left.length} left`);
    const newest = Array.from({ length: left.length }, (_, i) => `expired-${i + 1}`).sort();
    assert.deepEqual(left, newest, 'the oldest went first');

    const next = await run(CLEANUP_CRON);
    assert.deepEqual(await keysOf(user), [], 'the next run removes the rest');
    assert.ok(next.counts.rounds < ROUNDS, JSON.stringify(next.counts));
  });
});
