// Several devices on one account: ETags, conditional writes (If-Match), conditional reads
// (If-None-Match) and idempotent creates (Idempotency-Key), end to end over both transports.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { assertProblem, newUser } from './support/api.mjs';
import { ALLOWED_ORIGIN, forEachTransport } from './support/stack.mjs';

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
    assert.equal((await t.api.list(user)).body.length, 2);
  });
});

});
