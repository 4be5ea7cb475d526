// Better Auth as it really issues identity, end to end: a stock Better Auth server (the npm
// package, email and password, jwt() and bearer()) on the run's PostgreSQL, and the worker
// configured with nothing but BETTER_AUTH_URL. Every route with each of Better Auth's own
// credentials, sign-out, and each way a credential must be refused. Key rotation and an
// unreachable JWKS use a JWKS server of the test's own, with keys made by jose.

import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { startBetterAuth } from '../scripts/lib/better-auth.mjs';
import { freePort } from '../scripts/lib/net.mjs';
import { signJwt } from '../scripts/lib/jwt.mjs';
import { sleep } from '../scripts/lib/timing.mjs';
import { Api, assertProblem, assertTaskShape } from './support/api.mjs';
import { ALLOWED_ORIGIN, TEST_SECRET } from './support/fixtures.mjs';
import { sharedDatabase, stackWith, TRANSPORTS } from './support/stack.mjs';

const PASSWORD = 'correct horse battery staple';
const now = () => Math.floor(Date.now() / 1000);

describe('Better Auth', () => {

let betterAuth;
let database;

before(async () => {
  const postgres = await sharedDatabase();
  // A pool, not one connection: other suites stop and restart the shared database.
  database = new pg.Pool({ connectionString: postgres.url, max: 2 });
  database.on('error', () => {});
  betterAuth = await startBetterAuth({ databaseUrl: postgres.url, secret: TEST_SECRET, trustedOrigins: [ALLOWED_ORIGIN] });
});
after(async () => {
  await betterAuth?.close();
  await database?.end();
});

/** POST to Better Auth as the frontend would (its origin check wants a trusted Origin). */
function authPost(path, body, headers = {}) {
  return fetch(`${betterAuth.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: ALLOWED_ORIGIN, ...headers },
    body: JSON.stringify(body),
  });
}

/** Signs a new user up; returns { id, session, jwt } with Better Auth's own two credentials. */
async function signUp() {
  const email = `${randomUUID()}@example.com`;
  const response = await authPost('/api/auth/sign-up/email', { email, password: PASSWORD, name: 'Test User' });
  assert.equal(response.status, 200, await response.clone().text());
  const { user } = await response.json();
  const session = response.headers.get('set-auth-token');
  assert.match(session, /^[\w-]+\.[\w+/=-]+$/, 'the bearer plugin hands out <token>.<signature>');
  const tokenResponse = await fetch(`${betterAuth.url}/api/auth/token`, { headers: { authorization: `Bearer ${session}` } });
  const { token: jwt } = await tokenResponse.json();
  assert.match(jwt, /^eyJ[\w-]+\.[\w-]+\.[\w-]+$/);
  return { id: user.id, email, session, jwt };
}

const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (segment) => JSON.parse(Buffer.from(segment, 'base64url').toString());

for (const transport of TRANSPORTS) {
  describe(`Better Auth's credentials over ${transport}`, () => {
    let worker;
    let api;
    before(async () => {
      worker = await stackWith({ BETTER_AUTH_URL: betterAuth.url }, transport);
      api = new Api(worker.url);
    });
    after(() => worker?.stop());

    for (const kind of ['jwt', 'session']) {
      test(`every route with the ${kind === 'jwt' ? 'JWT plugin token' : 'session token'}, isolated from other users`, async () => {
        const alice = await signUp();
        const bob = await signUp();
        const as = (user) => ({ id: user.id, token: user[kind] });

        const created = await api.create(as(alice), { title: 'from Better Auth' });
        assert.equal(created.status, 201, created.text);
        assertTaskShape(assert, created.body);
        assert.equal(created.body.user_id, alice.id, 'the task belongs to Better Auth’s user id');
        const id = created.body.id;
        assert.deepEqual((await api.list(as(alice))).body.map((task) => task.id), [id]);
        assert.equal((await api.get(as(alice), id)).body.title, 'from Better Auth');
        assert.equal((await api.update(as(alice), id, { title: 'renamed' })).body.title, 'renamed');
        assert.equal((await api.complete(as(alice), id)).body.completed, true);

        // Another user's path is 403 and another user's task 404, with either credential.
        const intruder = as(bob);
        assertProblem(assert, await api.request('GET', `/api/${alice.id}/tasks`, { token: intruder.token }), 403);
        assertProblem(assert, await api.request('POST', `/api/${alice.id}/tasks`, { token: intruder.token, json: { title: 'x' } }), 403);
        assertProblem(assert, await api.get(intruder, id), 404);
        assertProblem(assert, await api.remove(intruder, id), 404);
        assert.deepEqual((await api.list(intruder)).body, []);

        assert.equal((await api.remove(as(alice), id)).status, 204);
        assertProblem(assert, await api.get(as(alice), id), 404);
      });
    }

    test('a signed-out session is refused at once, while its JWT lives until exp', async () => {
      const user = await signUp();
      const session = { id: user.id, token: user.session };
      assert.equal((await api.list(session)).status, 200);
      const signOut = await authPost('/api/auth/sign-out', {}, { authorization: `Bearer ${user.session}` });
      assert.equal(signOut.status, 200);
      const refused = assertProblem(assert, await api.list(session), 401);
      assert.match(refused.detail, /session has ended/);
      assertProblem(assert, await api.create(session, { title: 'after sign-out' }), 401);
      assert.equal((await api.list({ id: user.id, token: user.jwt })).status, 200, 'JWTs are not revocable');
    });

    test('session tokens are refused with a bad signature, unknown, or expired (set through SQL)', async () => {
      const user = await signUp();
      const [token, signature] = user.session.split('.');
      const tampered = `${token}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
      const badSignature = assertProblem(assert, await api.list({ id: user.id, token: tampered }), 401);
      assert.match(badSignature.detail, /signature/);

      const unknown = randomUUID().replaceAll('-', '');
      const signedUnknown = `${unknown}.${createHmac('sha256', TEST_SECRET).update(unknown).digest('base64')}`;
      assert.match(assertProblem(assert, await api.list({ id: user.id, token: signedUnknown }), 401).detail, /session/);

      assert.equal((await api.list({ id: user.id, token: encodeURIComponent(user.session) })).status, 200, 'the cookie’s percent-encoded form');
      await database.query(`UPDATE "session" SET "expiresAt" = now() - interval '1 minute' WHERE "token" = $1`, [token]);
      assertProblem(assert, await api.list({ id: user.id, token: user.session }), 401);
    });

    test('JWT-plugin tokens are refused when tampered, re-signed, confused, or for another issuer', async () => {
      const user = await signUp();
      const [header, payload, signature] = user.jwt.split('.');
      const claims = decode(payload);
      const list = (token) => api.request('GET', `/api/${user.id}/tasks`, { token });

      // A tampered payload under the real signature.
      const tampered = `${header}.${b64({ ...claims, name: 'Mallory' })}.${signature}`;
      assert.match(assertProblem(assert, await list(tampered), 401).detail, /signature/);

      // A fresh key signing under the real kid.
      const { kid } = decode(header);
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const forged = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid }).sign(privateKey);
      assert.match(assertProblem(assert, await list(forged), 401).detail, /signature/);

      // HS256 keyed with the JWKS's public key: algorithm confusion.
      const jwks = await (await fetch(`${betterAuth.url}/api/auth/jwks`)).json();
      for (const publicKey of [JSON.stringify(jwks.keys[0]), jwks.keys[0].x]) {
        const confused = signJwt(claims, publicKey, { alg: 'HS256', kid });
        assertProblem(assert, await list(confused), 401);
      }

      // The same claims from another Better Auth deployment: wrong issuer, wrong audience.
      const other = await startBetterAuth({ databaseUrl: worker.postgres.url, secret: TEST_SECRET, trustedOrigins: [ALLOWED_ORIGIN] });
      try {
        const elsewhere = await fetch(`${other.url}/api/auth/token`, { headers: { authorization: `Bearer ${user.session}` } });
        const { token: foreign } = await elsewhere.json();
        assert.equal(decode(foreign.split('.')[1]).sub, user.id, 'a genuine token for the same user');
        assertProblem(assert, await list(foreign), 401);
      } finally {
        await other.close();
      }
    });
  });
}

/** A JWKS endpoint of the test's own: its keys can be swapped, and it can be taken down. */
async function startJwksServer() {
  let keys = [];
  let up = true;
  let fetches = 0;
  const server = createServer((request, response) => {
    fetches += 1;
    if (!up) {
      response.writeHead(503).end();
      return;
    }
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ keys }));
  });
  const port = await freePort();
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}/api/auth/jwks`,
    setKeys: (next) => { keys = next; },
    setUp: (next) => { up = next; },
    fetches: () => fetches,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

/** A signing key: { kid, alg, jwk (public), sign(claims) }. */
async function signingKey(alg, options = {}) {
  const { publicKey, privateKey } = await generateKeyPair(alg, { ...options, extractable: true });
  const kid = randomUUID();
  const jwk = { ...(await exportJWK(publicKey)), kid, alg };
  return {
    kid,
    alg,
    jwk,
    sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg, kid }).sign(privateKey),
  };
}

const ISSUER = 'https://auth.example.com';

describe('JWKS keys: algorithms, claims, rotation and outages', () => {
  let jwks;
  let worker;
  let api;
  const user = `user_${randomUUID().replaceAll('-', '')}`;
  const claims = (extra = {}) => ({ sub: user, iss: ISSUER, aud: ISSUER, iat: now(), exp: now() + 900, ...extra });
  const list = (token) => api.request('GET', `/api/${user}/tasks`, { token });

  before(async () => {
    jwks = await startJwksServer();
    worker = await stackWith({ BETTER_AUTH_URL: ISSUER, JWKS_URL: jwks.url });
    api = new Api(worker.url);
  });
  after(async () => {
    await worker?.stop();
    await jwks?.close();
  });

  test('503 with Retry-After while the JWKS cannot be fetched and no key is cached', async () => {
    const key = await signingKey('EdDSA', { crv: 'Ed25519' });
    jwks.setUp(false);
    const response = await list(await key.sign(claims()));
    assertProblem(assert, response, 503);
    assert.equal(response.headers.get('retry-after'), '5');
    jwks.setUp(true);
  });

  test('each accepted algorithm verifies through WebCrypto, and the claims are checked', async () => {
    const keys = await Promise.all([
      signingKey('EdDSA', { crv: 'Ed25519' }),
      signingKey('ES256'),
      signingKey('ES512'),
      signingKey('RS256'),
      signingKey('PS256'),
    ]);
    jwks.setKeys(keys.map((key) => key.jwk));
    // The 503 test's fetch was a few seconds ago at most; wait out the refetch interval.
    await sleep(5_100);
    for (const key of keys) {
      assert.equal((await list(await key.sign(claims()))).status, 200, key.alg);
    }
    const [ed] = keys;
    const refusals = [
      ['a wrong issuer', claims({ iss: 'https://evil.example' }), /issuer/],
      ['a wrong audience', claims({ aud: 'https://other-api.example' }), /aud/],
      ['an expired token', claims({ iat: now() - 3600, exp: now() - 600 }), /expired/],
      ['no exp', (({ exp, ...rest }) => rest)(claims()), /expiry/],
    ];
    for (const [name, body, detail] of refusals) {
      assert.match(assertProblem(assert, await list(await ed.sign(body)), 401).detail, detail, name);
    }
  });

  test('a rotated-in key is picked up without a restart, and a removed key is refused', async () => {
    const old = await signingKey('EdDSA', { crv: 'Ed25519' });
    const rotated = await signingKey('EdDSA', { crv: 'Ed25519' });
    jwks.setKeys([old.jwk]);
    await sleep(5_100);
    const oldToken = await old.sign(claims());
    assert.equal((await list(oldToken)).status, 200);

    jwks.setKeys([rotated.jwk]);
    await sleep(5_100);
    assert.equal((await list(await rotated.sign(claims()))).status, 200, 'the unknown kid triggered a refetch');
    assert.match(assertProblem(assert, await list(oldToken), 401).detail, /not in the JWKS/, 'gone after the refetch');
  });

  test('cached keys keep working while the JWKS is down', async () => {
    const key = await signingKey('ES256');
    jwks.setKeys([key.jwk]);
    await sleep(5_100);
    assert.equal((await list(await key.sign(claims()))).status, 200);
    jwks.setUp(false);
    try {
      const before = jwks.fetches();
      assert.equal((await list(await key.sign(claims()))).status, 200);
      assert.equal(jwks.fetches(), before, 'served from the cache');
    } finally {
      jwks.setUp(true);
    }
  });
});

});
