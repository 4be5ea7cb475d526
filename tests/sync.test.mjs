// Several devices on one account: ETags, conditional writes (If-Match), conditional reads
// (If-None-Match), idempotent creates (Idempotency-Key) and the change feed, end to end over
// both transports.

import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import pg from 'pg';
import { sleep } from '../scripts/lib/timing.mjs';
import { assertProblem, newUser } from './support/api.mjs';
import { ALLOWED_ORIGIN, forEachTransport, TEST_SECRET } from './support/stack.mjs';

forEachTransport((t) => {

describe('ETags and conditional writes', () => {
  test('every response with one task carries a strong ETag that changes on every write', async () => {
    const user = newUser();
    const created = await t.api.create(user, { title: 'v1' });
    const etags = [created.headers.get('etag')];
    const got = await t.api.get(user, created.body.id);
    assert.equal(got.headers.get('etag'), etags[0], 'GET returns the same version');
    etags.push((await t.api.update(user, created.body.id, { title: 'v2' })).headers.get('etag'));
    etags.push((await t.api.complete(user, created.body.id)).headers.get('etag'));
    for (const etag of etags) assert.match(etag, /^"[^"]+"$/, 'strong: no W/');
    assert.equal(new Set(etags).size, 3);
  });

  test('If-None-Match on a task is 304 with no body while it is unchanged', async () => {
    const user = newUser();
    const task = await t.api.create(user, { title: 'cached' });
    const etag = task.headers.get('etag');
    const fresh = await t.api.request('GET', `/api/${user.id}/tasks/${task.body.id}`, { token: user.token, headers: { 'if-none-match': etag } });
    assert.equal(fresh.status, 304);
    assert.equal(fresh.text, '');
    assert.equal(fresh.headers.get('etag'), etag);
    await t.api.update(user, task.body.id, { title: 'changed' });
    const stale = await t.api.request('GET', `/api/${user.id}/tasks/${task.body.id}`, { token: user.token, headers: { 'if-none-match': etag } });
    assert.equal(stale.status, 200);
    assert.equal(stale.body.title, 'changed');
  });

  test('If-Match that does not match is a 412 carrying the current ETag, and nothing changes', async () => {
    const user = newUser();
    const task = await t.api.create(user, { title: 'mine' });
    const current = (await t.api.update(user, task.body.id, { title: 'moved on' })).headers.get('etag');
    const old = task.headers.get('etag');
    const writes = [
      ['PUT', `/api/${user.id}/tasks/${task.body.id}`, { title: 'lost update' }],
      ['PATCH', `/api/${user.id}/tasks/${task.body.id}/complete`, undefined],
      ['DELETE', `/api/${user.id}/tasks/${task.body.id}`, undefined],
    ];
    for (const [method, path, json] of writes) {
      const response = await t.api.request(method, path, { token: user.token, json, headers: { 'if-match': old } });
      const problem = assertProblem(assert, response, 412);
      assert.equal(response.headers.get('etag'), current, method);
      assert.match(problem.detail, /changed/);
    }
    const unchanged = await t.api.get(user, task.body.id);
    assert.deepEqual([unchanged.body.title, unchanged.body.completed, unchanged.headers.get('etag')], ['moved on', false, current]);

    const matching = await t.api.request('PUT', `/api/${user.id}/tasks/${task.body.id}`, { token: user.token, json: { title: 'in step' }, headers: { 'if-match': current } });
    assert.equal(matching.status, 200);
    const star = await t.api.request('PATCH', `/api/${user.id}/tasks/${task.body.id}/complete`, { token: user.token, headers: { 'if-match': '*' } });
    assert.equal(star.status, 200, 'If-Match: * asks only that the task exists');
    const gone = await t.api.request('DELETE', `/api/${user.id}/tasks/${randomUUID()}`, { token: user.token, headers: { 'if-match': '*' } });
    assertProblem(assert, gone, 404);
    const deleted = await t.api.request('DELETE', `/api/${user.id}/tasks/${task.body.id}`, { token: user.token, headers: { 'if-match': star.headers.get('etag') } });
    assert.equal(deleted.status, 204);
  });

  test('of 10 writers with the same ETag, exactly one succeeds', async () => {
    const user = newUser();
    const task = await t.api.create(user, { title: 'contended' });
    const etag = task.headers.get('etag');
    const responses = await Promise.all(Array.from({ length: 10 }, (_, n) =>
      t.api.request('PUT', `/api/${user.id}/tasks/${task.body.id}`, { token: user.token, json: { title: `writer ${n}` }, headers: { 'if-match': etag } })));
    const statuses = responses.map((response) => response.status).sort();
    assert.deepEqual(statuses, [200, ...Array(9).fill(412)]);
    const winner = responses.find((response) => response.status === 200);
    for (const loser of responses.filter((response) => response.status === 412)) {
      assert.equal(loser.headers.get('etag'), winner.headers.get('etag'), 'each loser is told the winner\'s version');
    }
    assert.equal((await t.api.get(user, task.body.id)).body.title, winner.body.title);
  });

  test('the list has an ETag that changes with any create, change or delete, and If-None-Match gives 304', async () => {
    const user = newUser();
    const task = await t.api.seed(user, { title: 'one' });
    const list = () => t.api.list(user);
    const first = (await list()).headers.get('etag');
    const cached = await t.api.request('GET', `/api/${user.id}/tasks`, { token: user.token, headers: { 'if-none-match': first } });
    assert.equal(cached.status, 304);
    assert.equal(cached.text, '');
    await t.api.seed(user, { title: 'two' });
    const afterCreate = (await list()).headers.get('etag');
    await t.api.update(user, task.id, { priority: 'high' });
    const afterChange = (await list()).headers.get('etag');
    await t.api.remove(user, task.id);
    const afterDelete = (await list()).headers.get('etag');
    assert.equal(new Set([first, afterCreate, afterChange, afterDelete]).size, 4);
  });

  test('a browser may send If-Match and If-None-Match and read ETag', async () => {
    const preflight = await t.api.request('OPTIONS', '/api/u/tasks/0190f0a0-0000-7000-8000-000000000000', {
      headers: { origin: ALLOWED_ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'if-match' },
    });
    assert.match(preflight.headers.get('access-control-allow-headers'), /If-Match/);
    assert.match(preflight.headers.get('access-control-allow-headers'), /If-None-Match/);
    const user = newUser();
    const created = await t.api.request('POST', `/api/${user.id}/tasks`, { token: user.token, json: { title: 'x' }, headers: { origin: ALLOWED_ORIGIN } });
    assert.match(created.headers.get('access-control-expose-headers'), /ETag/);
  });
});

});

forEachTransport((t) => {

describe('Idempotency-Key on create', () => {
  const post = (user, key, json) =>
    t.api.request('POST', `/api/${user.id}/tasks`, { token: user.token, json, headers: key ? { 'idempotency-key': key } : {} });

  test('a repeat with the same key and body answers as the first did and creates nothing', async () => {
    const user = newUser();
    const key = randomUUID();
    const first = await post(user, key, { title: 'pay rent', tags: ['Home'] });
    assert.equal(first.status, 201);
    // The same request after a timeout, its JSON laid out differently.
    const retry = await post(user, key, { tags: ['home'], title: '  pay rent ' });
    assert.equal(retry.status, 201);
    assert.equal(retry.body.id, first.body.id);
    assert.equal(retry.headers.get('location'), first.headers.get('location'));
    assert.equal((await t.api.list(user)).body.length, 1);
  });

  test('the same key with another body is a 422; keys are per user', async () => {
    const user = newUser();
    const key = randomUUID();
    assert.equal((await post(user, key, { title: 'one thing' })).status, 201);
    const problem = assertProblem(assert, await post(user, key, { title: 'another thing' }), 422);
    assert.match(problem.detail, /different request body/);
    assert.equal((await t.api.list(user)).body.length, 1);
    const other = newUser();
    assert.equal((await post(other, key, { title: 'another thing' })).status, 201, "another user's key space");
  });

  test('parallel requests with one key create exactly one task; each gets that 201 or a 409', async () => {
    const user = newUser();
    const key = randomUUID();
    const responses = await Promise.all(Array.from({ length: 8 }, () => post(user, key, { title: 'once' })));
    const created = responses.filter((response) => response.status === 201);
    assert.ok(created.length >= 1);
    assert.equal(new Set(created.map((response) => response.body.id)).size, 1, 'one task id');
    for (const response of responses.filter((r) => r.status !== 201)) {
      assert.match(assertProblem(assert, response, 409).detail, /still being processed/);
    }
    assert.equal((await t.api.list(user)).body.length, 1);
  });

  test('an invalid key is a 400 naming the header; no key creates as before', async () => {
    const user = newUser();
    const problem = assertProblem(assert, await post(user, 'has spaces', { title: 'x' }), 400);
    assert.deepEqual(problem.errors.map((error) => error.field), ['Idempotency-Key']);
    assert.equal((await post(user, undefined, { title: 'x' })).status, 201);
    assert.equal((await post(user, undefined, { title: 'x' })).status, 201);
    // An empty header is a 400 (the 1-255 rule), not as none: ignored, it would let a retry
    // create a second task.
    const empty = (json) => t.api.request('POST', `/api/${user.id}/tasks`, { token: user.token, json, headers: { 'idempotency-key': '' } });
    const emptyProblem = assertProblem(assert, await empty({ title: 'y' }), 400);
    assert.deepEqual(emptyProblem.errors.map((error) => error.field), ['Idempotency-Key']);
    assert.equal((await t.api.list(user)).body.length, 2);
  });
});

});

/** A UUIDv7, as the worker makes them, for rows written behind its back. */
function uuidV7() {
  const hex = Date.now().toString(16).padStart(12, '0') + randomUUID().replaceAll('-', '').slice(12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

forEachTransport((t) => {

describe('the change feed', () => {
  const feed = (user, since, limit) => {
    const query = new URLSearchParams();
    if (since) query.set('since', since);
    if (limit !== undefined) query.set('limit', String(limit));
    return t.api.request('GET', `/api/${user.id}/changes?${query}`, { token: user.token });
  };
  /** Follows `cursor` until has_more is false; returns every page's body. */
  async function sync(user, since, limit) {
    const pages = [];
    let cursor = since;
    for (;;) {
      const response = await feed(user, cursor, limit);
      assert.equal(response.status, 200, response.text);
      pages.push(response.body);
      cursor = response.body.cursor;
      if (!response.body.has_more) return { pages, cursor };
    }
  }

  test('a first sync returns everything; later syncs return changes and deletions since', async () => {
    const user = newUser();
    const a = await t.api.seed(user, { title: 'a' });
    const b = await t.api.seed(user, { title: 'b' });
    const gone = await t.api.seed(user, { title: 'gone' });
    await t.api.remove(user, gone.id);
    const first = await sync(user);
    assert.deepEqual(first.pages.flatMap((page) => page.tasks.map((task) => task.id)).sort(), [a.id, b.id].sort());
    assert.deepEqual(first.pages.flatMap((page) => page.deleted), [], 'a first sync has nothing to delete');

    const quiet = await sync(user, first.cursor);
    assert.deepEqual([quiet.pages[0].tasks, quiet.pages[0].deleted], [[], []], 'nothing changed');

    await t.api.update(user, a.id, { title: 'a2' });
    await t.api.remove(user, b.id);
    const c = await t.api.seed(user, { title: 'c' });
    const later = await sync(user, quiet.cursor);
    const tasks = later.pages.flatMap((page) => page.tasks);
    assert.deepEqual(tasks.map((task) => [task.id, task.title]).sort(), [[a.id, 'a2'], [c.id, 'c']].sort());
    assert.deepEqual(later.pages.flatMap((page) => page.deleted), [b.id]);
  });

  test('pages of 2 cover every change once, in order, with has_more', async () => {
    const user = newUser();
    const created = [];
    for (let n = 0; n < 5; n += 1) created.push(await t.api.seed(user, { title: `p${n}` }));
    const { pages } = await sync(user, undefined, 2);
    assert.deepEqual(pages.map((page) => [page.tasks.length, page.has_more]), [[2, true], [2, true], [1, false]]);
    assert.deepEqual(pages.flatMap((page) => page.tasks.map((task) => task.id)), created.map((task) => task.id));
  });

  test('a transaction that commits late, behind later ones, is still delivered', async () => {
    const user = newUser();
    const { pages, cursor } = await sync(user);
    assert.equal(pages[0].tasks.length, 0);
    const client = new pg.Client({ connectionString: t.stack.postgres.url });
    client.on('error', () => {});
    await client.connect();
    try {
      // An older transaction writes first and commits last.
      await client.query('BEGIN');
      await client.query(`INSERT INTO tasks (id, user_id, title) VALUES ($1, $2, 'slow writer')`, [uuidV7(), user.id]);
      const fast = await t.api.seed(user, { title: 'fast writer' });
      const meanwhile = await sync(user, cursor);
      const seen = meanwhile.pages.flatMap((page) => page.tasks.map((task) => task.title));
      assert.deepEqual(seen, [], `nothing is delivered past an unfinished transaction: ${seen}`);
      await client.query('COMMIT');
      const after = await sync(user, meanwhile.cursor);
      const titles = after.pages.flatMap((page) => page.tasks.map((task) => task.title)).sort();
      assert.deepEqual(titles, ['fast writer', 'slow writer']);
      assert.ok(after.pages.flatMap((page) => page.tasks).some((task) => task.id === fast.id));
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
    }
  });

  test('one statement deleting 2,000 tasks leaves a tombstone for each, written once per statement', async () => {
    const user = newUser();
    const client = new pg.Client({ connectionString: t.stack.postgres.url });
    client.on('error', () => {});
    await client.connect();
    try {
      const ids = Array.from({ length: 2000 }, () => uuidV7());
      await client.query(`INSERT INTO tasks (id, user_id, title) SELECT id, $1, 'bulk' FROM unnest($2::uuid[]) AS id`, [user.id, ids]);
      const before = await sync(user, undefined, 1000);
      assert.equal(before.pages.flatMap((page) => page.tasks).length, 2000);
      const { rows: gone } = await client.query('DELETE FROM tasks WHERE user_id = $1 RETURNING id::text', [user.id]);
      // The feed delivers a transaction once every older one has finished; other suites'
      // may still be running, so sync again until the deletions arrive.
      const deleted = new Set();
      let cursor = before.cursor;
      for (let attempt = 0; attempt < 40 && deleted.size < gone.length; attempt += 1) {
        if (attempt > 0) await sleep(100);
        const after = await sync(user, cursor, 1000);
        for (const id of after.pages.flatMap((page) => page.deleted)) deleted.add(id);
        cursor = after.cursor;
      }
      assert.deepEqual(deleted, new Set(gone.map((row) => row.id)));
      // The trigger runs per statement (tgtype bit 0 clear), over the transition table.
      const { rows: triggers } = await client.query(
        `SELECT tgname, (tgtype & 1) = 1 AS per_row FROM pg_trigger WHERE tgrelid = 'tasks'::regclass AND tgname LIKE 'tasks_remember%'`,
      );
      assert.deepEqual(triggers, [{ tgname: 'tasks_remember_deletions', per_row: false }]);
    } finally {
      await client.end();
    }
  });

  test('a cursor is its user\'s own, a tampered one is a 400, and one older than 30 days is a 410', async () => {
    const user = newUser();
    const { cursor } = await sync(user);
    const other = newUser();
    assertProblem(assert, await feed(other, cursor), 400);
    assertProblem(assert, await feed(user, `${cursor}x`), 400);
    assertProblem(assert, await feed(user, undefined, 0), 400);

    // A cursor issued 31 days ago, signed as the worker signs them (the test knows the secret).
    const key = createHmac('sha256', TEST_SECRET).update('edge-task-api list cursor v1').digest();
    const payload = JSON.stringify({ x: '1', i: '00000000-0000-0000-0000-000000000000', f: false, t: Date.now() - 31 * 86_400_000 });
    const signature = createHmac('sha256', key).update(`${user.id}\u0000feed:${payload}`).digest().subarray(0, 16);
    const old = `${Buffer.from(payload).toString('base64url')}.${signature.toString('base64url')}`;
    const gone = assertProblem(assert, await feed(user, old), 410);
    assert.match(gone.detail, /sync again without `since`/);
  });
});

});
