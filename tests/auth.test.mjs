// Authentication (401), authorization (403) and isolation between users (404), end to end.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Api, assertProblem, newUser, now, signToken } from './support/api.mjs';
import { forEachTransport } from './support/stack.mjs';

forEachTransport((t) => {

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('401: no valid bearer token', () => {
  const user = newUser();
  const claims = { sub: user.id, exp: now() + 600 };
  const valid = signToken(claims);
  const [, validPayload, validSignature] = valid.split('.');
  const cases = [
    ['no Authorization header', undefined],
    ['another scheme', `Basic ${Buffer.from('u:p').toString('base64')}`],
    ['Bearer with no token', 'Bearer '],
    ['a malformed token', 'Bearer not.a.jwt'],
    ['a token with two segments', `Bearer ${valid.split('.').slice(0, 2).join('.')}`],
    ['a token signed with another secret', `Bearer ${signToken(claims, { secret: 'some-other-secret-that-is-long-enough!!' })}`],
    ['alg none', `Bearer ${b64({ alg: 'none', typ: 'JWT' })}.${validPayload}.`],
    ['the right signature with alg changed', `Bearer ${b64({ alg: 'HS512', typ: 'JWT' })}.${validPayload}.${validSignature}`],
    ['an RS256 header', `Bearer ${b64({ alg: 'RS256', typ: 'JWT' })}.${validPayload}.${validSignature}`],
    ['an expired token', `Bearer ${signToken({ sub: user.id, exp: now() - 120 })}`],
    ['a token without exp', `Bearer ${signToken({ sub: user.id })}`],
    ['a token not valid yet', `Bearer ${signToken({ sub: user.id, exp: now() + 600, nbf: now() + 300 })}`],
    ['a token without a user id', `Bearer ${signToken({ exp: now() + 600 })}`],
    ['a tampered payload', `Bearer ${valid.split('.')[0]}.${b64({ sub: 'someone-else', exp: now() + 600 })}.${validSignature}`],
  ];
  // RFC 6750 section 3.1: without any bearer token the challenge carries no error code.
  const noBearerToken = new Set(['no Authorization header', 'another scheme', 'Bearer with no token']);
  for (const [name, authorization] of cases) {
    test(name, async () => {
      const headers = authorization === undefined ? {} : { authorization };
      const response = await t.api.request('GET', `/api/${user.id}/tasks`, { headers });
      assertProblem(assert, response, 401);
      const challenge = noBearerToken.has(name) ? 'Bearer' : 'Bearer error="invalid_token"';
      assert.equal(response.headers.get('www-authenticate'), challenge);
    });
  }

  test('a token that is not a JWT is refused as malformed, whatever its header says', async () => {
    const [validHeader] = valid.split('.');
    for (const token of [
      'not.a.jwt',
      // A header that is a JSON array, not an object.
      `${b64(['HS256', null, null, null])}.${validPayload}.${validSignature}`,
      // A claims segment that is not base64url, under a well-formed HS256 header.
      `${validHeader}.!!.${validSignature}`,
    ]) {
      const response = await t.api.request('GET', `/api/${user.id}/tasks`, { headers: { authorization: `Bearer ${token}` } });
      const problem = assertProblem(assert, response, 401);
      assert.match(problem.detail, /neither a well-formed JWT nor a session token/, token);
    }
  });

  test('authentication comes before any body is parsed', async () => {
    const response = await t.api.request('POST', `/api/${user.id}/tasks`, {
      body: '{not json', headers: { 'content-type': 'application/json' },
    });
    assertProblem(assert, response, 401);
  });
});

describe('accepted tokens', () => {
  test('a token must name its user in sub: user_id and userId alone are refused by default', async () => {
    // Better Auth signs its email-verification token, mailed in a link, as {email, userId}
    // with the same secret; JWT_USER_ID_CLAIMS=true opts into these claims.
    for (const claim of ['user_id', 'userId']) {
      const id = `user_${claim}_${Date.now()}`;
      const token = signToken({ [claim]: id, exp: now() + 600 });
      const response = await t.api.request('GET', `/api/${id}/tasks`, { token });
      const problem = assertProblem(assert, response, 401);
      assert.match(problem.detail, /`sub`/, claim);
    }
  });

  test('an expiry within the clock-skew leeway is accepted', async () => {
    const id = `user_skew_${Date.now()}`;
    const token = signToken({ sub: id, exp: now() - 5 });
    assert.equal((await t.api.request('GET', `/api/${id}/tasks`, { token })).status, 200);
  });
});

describe('403 and 404 between two users', () => {
  test("a path naming another user is 403 on every route, and is logged with both ids", async () => {
    const alice = newUser();
    const bob = newUser();
    const task = await t.api.seed(bob, { title: "bob's" });
    const attempts = [
      ['GET', `/api/${bob.id}/tasks`],
      ['POST', `/api/${bob.id}/tasks`],
      ['GET', `/api/${bob.id}/tasks/${task.id}`],
      ['PUT', `/api/${bob.id}/tasks/${task.id}`],
      ['PATCH', `/api/${bob.id}/tasks/${task.id}/complete`],
      ['DELETE', `/api/${bob.id}/tasks/${task.id}`],
    ];
    for (const [method, path] of attempts) {
      const json = ['POST', 'PUT'].includes(method) ? { title: 'hijack' } : undefined;
      const response = await t.api.request(method, path, { token: alice.token, json });
      assertProblem(assert, response, 403);
    }
    const warning = t.stack.worker.logs().split('\n').find((line) =>
      line.includes('"token_user_id"') && line.includes(alice.id) && line.includes(bob.id));
    assert.ok(warning, 'a warning names both user ids');
    assert.deepEqual((await t.api.get(bob, task.id)).body, task, "bob's task is unchanged");
  });

  test("another user's task does not exist for the caller, and stays unchanged", async () => {
    const alice = newUser();
    const bob = newUser();
    const bobs = await t.api.seed(bob, { title: 'private', description: 'secret plans' });
    await t.api.seed(alice, { title: 'mine' });

    assertProblem(assert, await t.api.get(alice, bobs.id), 404);
    assertProblem(assert, await t.api.update(alice, bobs.id, { title: 'stolen' }), 404);
    assertProblem(assert, await t.api.complete(alice, bobs.id, { completed: true }), 404);
    assertProblem(assert, await t.api.request('PATCH', `/api/${alice.id}/tasks/${bobs.id}/complete`, { token: alice.token }), 404);
    assertProblem(assert, await t.api.remove(alice, bobs.id), 404);
    const alicesList = (await t.api.list(alice)).body;
    assert.deepEqual(alicesList.map((task) => task.title), ['mine'], "alice's list has only her task");

    assert.deepEqual((await t.api.get(bob, bobs.id)).body, bobs, "bob's task is exactly as it was");
    assert.deepEqual((await t.api.list(bob)).body, [bobs]);
  });

  test('a missing task and a foreign task are indistinguishable', async () => {
    const alice = newUser();
    const bob = newUser();
    const bobs = await t.api.seed(bob);
    const foreign = await t.api.get(alice, bobs.id);
    const missing = await t.api.get(alice, '0190f0a0-0000-7000-8000-000000000000');
    assert.deepEqual(foreign.body, missing.body);
  });
});

describe('logs', () => {
  test('one structured line per request, never the token', async () => {
    const user = newUser();
    const response = await t.api.list(user);
    const id = response.headers.get('x-request-id');
    const lines = t.stack.worker.logs().split('\n').filter((line) => line.includes(`"request_id":"${id}"`));
    assert.equal(lines.length, 1);
    const entry = JSON.parse(lines[0].slice(lines[0].indexOf('{')));
    assert.equal(entry.method, 'GET');
    assert.equal(entry.route, '/api/{user_id}/tasks');
    assert.equal(entry.status, 200);
    assert.equal(entry.user_id, user.id);
    assert.equal(typeof entry.duration_ms, 'number');
    assert.ok(!t.stack.worker.logs().includes(user.token.split('.')[2]), 'no token signature in the logs');
  });
});
});
