// Which of Better Auth's tokens open the API, end to end: the tokens that Better Auth signs with
// BETTER_AUTH_SECRET for other purposes must not, and the raw session token must open it, just
// as Better Auth's bearer plugin accepts it. Every token comes from the pinned package itself
// (better-auth 1.7.25): a stock server for the users and an in-process instance on the same
// database, with the same secret, whose mail hooks capture the tokens its own call sites mint.
//
// What better-auth 1.7.25 signs with the secret, and what this file covers
// (dist/ paths are in node_modules/better-auth):
//
// HS256 JWTs signed with the raw secret. They reach the worker's HS256 path, where a token
// must name its user in `sub`. `userId`/`user_id` count only with JWT_USER_ID_CLAIMS=true.
//   1. The email-verification token, createEmailVerificationToken → {email, userId, iat, exp}.
//      It is minted on sign-up, on sign-in with requireEmailVerification, by send-verification-email,
//      by OAuth account linking, by the username plugin, and when verify-email re-mints.
//      COVERED: captured from send-verification-email, and minted with the same claims.
//   2. The change-email tokens, {email, updateTo, userId, requestType}:
//      "change-email-confirmation" (mailed to the old address) and
//      "change-email-verification" (mailed to the new, maybe unowned, address).
//      COVERED: both are captured from change-email and minted with the same claims.
//      change-email without verification mails token 1 to the new address. It has the same
//      shape, so it is covered by 1.
//   3. Timing-equalisation tokens (email-verification.mjs:109 and update-user.mjs:457). They
//      are minted and thrown away, so no one can hold one. NOT COVERED (nothing to send).
//   4. The session cookie cache with strategy "jwt", `better-auth.session_data` =
//      {session, user, updatedAt, version, iat, exp}. The ids are nested, and there is no
//      top-level `sub` or `userId`. COVERED: captured from sign-in.
//   5. signJWT from 'better-auth/crypto': any payload the app gives it. COVERED: {userId} and
//      {user_id} without `sub` are refused by default and accepted with JWT_USER_ID_CLAIMS=true.
//      {sub} is accepted.
// HMAC signatures, `value.<base64 HMAC>` (better-call's signed cookies). With session tokens
// accepted, these reach the worker's session path, where only a live session row opens the API:
//   6. session_token = `<session token>.<sig>`. This is the credential itself, with the same
//      value as set-auth-token. Covered by tests/better-auth.test.mjs. In raw form (no
//      signature): COVERED here.
//   7. dont_remember `true`, two_factor `2fa-<random>`, admin_session `<token>:<dontRemember>`,
//      trust_device `<HMAC(userId!trustId)>!trust-device-<random>`, the OAuth `state`, the
//      oauth-popup marker, and multi-session (the session token again, as 6).
//      COVERED: dont_remember, two_factor, admin_session (built on a live session's token) and
//      trust_device, signed and raw. NOT COVERED: the OAuth state and the popup marker, which
//      are random strings and a JSON marker; no user or session can be read from either.
//   8. The compact cookie cache (the default strategy) is base64url JSON carrying an HMAC. It is
//      not a JWT. COVERED: captured from sign-in.
// Encrypted with keys derived from the secret (JWE, XChaCha). These are not signatures and
// cannot be read without the secret:
//   9. The cookie cache with strategy "jwe". COVERED: captured from sign-in.
//  10. account_data, the OAuth state cookie, link-social and oauth-proxy payloads, encrypted
//      OAuth tokens, OTPs, TOTP secrets and backup codes, and the JWT plugin's private key.
//      NOT COVERED: these are stored or used server-side or inside OAuth flows, and none of
//      them is a bearer credential.
// The JWT plugin's EdDSA tokens are signed with its own key pair, not the secret. They carry
// `sub` and are covered by tests/better-auth.test.mjs.

import assert from 'node:assert/strict';
import { createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { betterAuth as createBetterAuth } from 'better-auth';
import { createEmailVerificationToken } from 'better-auth/api';
import { createAuthClient } from 'better-auth/client';
import { generateRandomString, makeSignature, signJWT } from 'better-auth/crypto';
import { jwtVerify } from 'jose';
import pg from 'pg';
import { startBetterAuth } from '../scripts/lib/better-auth.mjs';
import { Api, assertProblem, assertTaskShape } from './support/api.mjs';
import { ALLOWED_ORIGIN, TEST_SECRET } from './support/fixtures.mjs';
import { sharedDatabase, sharedStack, stackWith, TRANSPORTS } from './support/stack.mjs';

const PASSWORD = 'correct horse battery staple';

/** A JWT's claims, unverified. */
const decode = (token) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString());
/** The claim names of a JWT, without the times that differ from mint to mint. */
const claimNames = (token) => Object.keys(decode(token)).filter((name) => !['iat', 'exp'].includes(name)).sort();

/** A session token without its signature: better-call splits `value.signature` at the last dot. */
const unsigned = (signed) => signed.slice(0, signed.lastIndexOf('.'));

describe('Better Auth tokens signed with the secret, and the raw session token', () => {

let server;
let pool;
/** In-process Better Auth instances on the server's database, one per cookie-cache strategy. */
const instances = new Map();
/** What the instances' mail hooks were handed, newest last. */
const outbox = [];

before(async () => {
  const postgres = await sharedDatabase();
  server = await startBetterAuth({ databaseUrl: postgres.url, secret: TEST_SECRET, trustedOrigins: [ALLOWED_ORIGIN] });
  // A pool, not one connection: other suites stop and restart the shared database.
  pool = new pg.Pool({ connectionString: postgres.url, max: 2 });
  pool.on('error', () => {});
});
after(async () => {
  await server?.close();
  await pool?.end();
});

/**
 * The same deployment as `server`, with the same secret and database, and with email
 * verification, change of email and a cookie cache with `strategy` turned on. The mail hooks
 * keep the tokens that Better Auth's own call sites mint. The tables are already there, because
 * the server migrated them.
 */
function instance(strategy) {
  if (!instances.has(strategy)) {
    const mail = async ({ token }) => { outbox.push(token); };
    instances.set(strategy, createBetterAuth({
      baseURL: server.url,
      secret: TEST_SECRET,
      database: pool,
      emailAndPassword: { enabled: true },
      emailVerification: { sendVerificationEmail: mail },
      user: { changeEmail: { enabled: true, sendChangeEmailConfirmation: mail } },
      session: { cookieCache: { enabled: true, strategy } },
      telemetry: { enabled: false },
    }));
  }
  return instances.get(strategy);
}

/** The `name=value` pairs a response sets, by name. */
function cookiesOf(response) {
  return Object.fromEntries(response.headers.getSetCookie().map((cookie) => {
    const pair = cookie.split(';')[0];
    const at = pair.indexOf('=');
    return [pair.slice(0, at), pair.slice(at + 1)];
  }));
}

/** Signs `user` in on the in-process instance with `strategy`; returns its cookies. */
async function signIn(user, strategy) {
  const response = await instance(strategy).api.signInEmail({ body: { email: user.email, password: PASSWORD }, asResponse: true });
  assert.equal(response.status, 200, await response.clone().text());
  return cookiesOf(response);
}

/** Signs a new user up on the Better Auth server; returns { id, email, session } (set-auth-token). */
async function signUp() {
  const email = `${randomUUID()}@example.com`;
  const response = await fetch(`${server.url}/api/auth/sign-up/email`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: ALLOWED_ORIGIN },
    body: JSON.stringify({ email, password: PASSWORD, name: 'Test User' }),
  });
  assert.equal(response.status, 200, await response.clone().text());
  const { user } = await response.json();
  const session = response.headers.get('set-auth-token');
  assert.match(session, /^[\w-]+\.[\w+/=-]+$/, 'the bearer plugin hands out <token>.<signature>');
  return { id: user.id, email, session };
}

/** Better Auth's browser client, sending `token` as its bearer, as a frontend does. */
const authClient = (token) => createAuthClient({
  baseURL: server.url,
  fetchOptions: { headers: { origin: ALLOWED_ORIGIN }, auth: { type: 'Bearer', token } },
});

/**
 * The HS256 tokens that Better Auth's own call sites mint for `user`. Their claims are checked
 * against what this test mints with the same functions: the verification token from
 * send-verification-email, the change-email tokens from change-email (before and after the
 * address is verified), and the session cookie cache (strategy "jwt") from sign-in.
 */
async function tokensFromCallSites(user) {
  const auth = instance('jwt');
  const cookies = await signIn(user, 'jwt');
  // The session from the database, not from the cookie cache, which would still say "unverified".
  const headers = { cookie: `better-auth.session_token=${cookies['better-auth.session_token']}` };
  const sent = async (call) => {
    const mailed = outbox.length;
    await call();
    assert.equal(outbox.length, mailed + 1, 'Better Auth mailed one token');
    return outbox.at(-1);
  };
  const verification = await sent(() => auth.api.sendVerificationEmail({ body: { email: user.email } }));
  const changeVerification = await sent(() => auth.api.changeEmail({ body: { newEmail: `${randomUUID()}@example.com` }, headers }));
  await auth.api.verifyEmail({ query: { token: verification } });
  const changeConfirmation = await sent(() => auth.api.changeEmail({ body: { newEmail: `${randomUUID()}@example.com` }, headers }));
  return {
    'email verification': verification,
    'change-email verification': changeVerification,
    'change-email confirmation': changeConfirmation,
    'session cookie cache (strategy "jwt")': cookies['better-auth.session_data'],
  };
}

/** The same tokens, minted with Better Auth's exported functions and the call sites' claims. */
async function mintedTokens(user) {
  const newEmail = `${randomUUID()}@example.com`;
  const mint = (updateTo, extra) => createEmailVerificationToken(TEST_SECRET, user.email, updateTo, 3600, { userId: user.id, ...extra });
  return {
    'email verification': await mint(undefined, {}),
    'change-email verification': await mint(newEmail, { requestType: 'change-email-verification' }),
    'change-email confirmation': await mint(newEmail, { requestType: 'change-email-confirmation' }),
    'signJWT({userId})': await signJWT({ userId: user.id }, TEST_SECRET),
    'signJWT({user_id})': await signJWT({ user_id: user.id }, TEST_SECRET),
  };
}

/** A 401 problem with the bearer challenge for a bad token. */
function assertRefused(response, detail, message) {
  const problem = assertProblem(assert, response, 401);
  assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_token"/, message);
  if (detail) assert.match(problem.detail, detail, message);
  return problem;
}

/** Creates a task and lists it with `token` as `user`: 201 then 200 with just that task. */
async function assertOpens(api, user, token, message) {
  const created = await api.create({ id: user.id, token }, { title: message });
  assert.equal(created.status, 201, `${message}: ${created.text}`);
  assertTaskShape(assert, created.body);
  assert.equal(created.body.user_id, user.id, message);
  const listed = await api.list({ id: user.id, token });
  assert.equal(listed.status, 200, `${message}: ${listed.text}`);
  assert.deepEqual(listed.body.map((task) => task.id), [created.body.id], message);
  return created.body;
}

for (const transport of TRANSPORTS) {
  describe(`HS256 tokens over ${transport}`, () => {
    let api;
    before(async () => {
      // The default deployment: HS256 tokens only, with no JWT_USER_ID_CLAIMS.
      api = new Api((await sharedStack(transport)).url);
    });

    test('no token Better Auth signs with the secret opens the API without `sub`', async (t) => {
      const user = await signUp();
      const captured = await tokensFromCallSites(user);
      const minted = await mintedTokens(user);
      for (const name of ['email verification', 'change-email verification', 'change-email confirmation']) {
        assert.deepEqual(claimNames(minted[name]), claimNames(captured[name]), `${name}: minted with the call site's claims`);
      }
      const tokens = [
        ...Object.entries(captured).map(([name, token]) => [`${name}, from Better Auth's call site`, token]),
        ...Object.entries(minted).map(([name, token]) => [`${name}, minted`, token]),
      ];
      for (const [name, token] of tokens) {
        await t.test(name, async () => {
          // A genuine token: HS256 under the secret, unexpired, naming this user, with no `sub`.
          const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(TEST_SECRET), { algorithms: ['HS256'] });
          assert.equal(protectedHeader.alg, 'HS256');
          assert.equal(payload.sub, undefined);
          assert.ok(JSON.stringify(payload).includes(user.id), 'the token names the user somewhere');

          assertRefused(await api.request('GET', `/api/${user.id}/tasks`, { token }), /`sub`/, name);
        });
      }
      // Nothing above wrote: the user's list is still empty.
      const check = await api.list({ id: user.id, token: await signJWT({ sub: user.id }, TEST_SECRET) });
      assert.equal(check.status, 200, check.text);
      assert.deepEqual(check.body, []);
    });

    test('a token signed with the secret that names the user in `sub` opens the API', async () => {
      const user = await signUp();
      const token = await signJWT({ sub: user.id }, TEST_SECRET);
      assert.deepEqual(Object.keys(decode(token)).sort(), ['exp', 'iat', 'sub']);
      await assertOpens(api, user, token, 'signJWT({sub})');
    });

    test('JWT_USER_ID_CLAIMS=true opts into `userId` and `user_id` without `sub`', async () => {
      const worker = await stackWith({ JWT_USER_ID_CLAIMS: 'true' }, transport);
      try {
        const optedIn = new Api(worker.url);
        const user = await signUp();
        const other = await signUp();
        const camel = await signJWT({ userId: user.id }, TEST_SECRET);
        const created = await assertOpens(optedIn, user, camel, 'signJWT({userId})');

        const snake = await signJWT({ user_id: user.id }, TEST_SECRET);
        const listed = await optedIn.list({ id: user.id, token: snake });
        assert.equal(listed.status, 200, listed.text);
        assert.deepEqual(listed.body.map((task) => task.id), [created.id], 'signJWT({user_id})');

        // The claim names the user; it does not open other users' paths.
        assertProblem(assert, await optedIn.list({ id: other.id, token: camel }), 403);
      } finally {
        await worker.stop();
      }
    });
  });

  describe(`Better Auth's raw session token over ${transport}`, () => {
    let worker;
    let api;
    before(async () => {
      worker = await stackWith({ BETTER_AUTH_URL: server.url }, transport);
      api = new Api(worker.url);
    });
    after(() => worker?.stop());

    /** The raw token as getSession() gives it, checked against set-auth-token. */
    async function rawToken(user) {
      const { data, error } = await authClient(user.session).getSession();
      assert.equal(error, null);
      assert.equal(data.user.id, user.id);
      const raw = data.session.token;
      assert.equal(raw, unsigned(user.session), 'set-auth-token is the raw token and its signature');
      assert.match(raw, /^[A-Za-z0-9]+$/, 'no signature');
      return raw;
    }

    test('the raw session token opens every route, isolated from other users', async () => {
      const alice = await signUp();
      const bob = await signUp();
      const as = async (user) => ({ id: user.id, token: await rawToken(user) });
      const aliceRaw = await as(alice);
      const bobRaw = await as(bob);

      const created = await api.create(aliceRaw, { title: 'with the raw token' });
      assert.equal(created.status, 201, created.text);
      assertTaskShape(assert, created.body);
      assert.equal(created.body.user_id, alice.id, 'the task belongs to the session’s user');
      const id = created.body.id;
      const listed = await api.list(aliceRaw);
      assert.equal(listed.status, 200, listed.text);
      assert.deepEqual(listed.body.map((task) => task.id), [id]);
      assert.equal((await api.get(aliceRaw, id)).body.title, 'with the raw token');
      assert.equal((await api.update(aliceRaw, id, { title: 'renamed' })).body.title, 'renamed');
      assert.equal((await api.complete(aliceRaw, id)).body.completed, true);

      // Another user's path is 403 and another user's task 404, as with the signed token.
      assertProblem(assert, await api.request('GET', `/api/${alice.id}/tasks`, { token: bobRaw.token }), 403);
      assertProblem(assert, await api.request('POST', `/api/${alice.id}/tasks`, { token: bobRaw.token, json: { title: 'x' } }), 403);
      assertProblem(assert, await api.get(bobRaw, id), 404);
      assertProblem(assert, await api.remove(bobRaw, id), 404);
      const bobs = await api.list(bobRaw);
      assert.equal(bobs.status, 200, bobs.text);
      assert.deepEqual(bobs.body, []);

      assert.equal((await api.remove(aliceRaw, id)).status, 204);
      assertProblem(assert, await api.get(aliceRaw, id), 404);
    });

    test('signed out through Better Auth, the raw token is refused at once', async () => {
      const user = await signUp();
      const raw = { id: user.id, token: await rawToken(user) };
      const signedIn = await api.list(raw);
      assert.equal(signedIn.status, 200, signedIn.text);
      assert.deepEqual(signedIn.body, []);

      // The frontend signs out with the raw token, which the bearer plugin accepts too.
      const signOut = await authClient(raw.token).signOut();
      assert.deepEqual(signOut, { data: { success: true }, error: null });
      assert.equal((await authClient(raw.token).getSession()).data, null, 'Better Auth has ended the session');

      assertRefused(await api.list(raw), /session has ended/, 'raw, GET');
      assertRefused(await api.create(raw, { title: 'after sign-out' }), /session has ended/, 'raw, POST');
      assertRefused(await api.list({ id: user.id, token: user.session }), /session has ended/, 'signed');
    });

    test('BETTER_AUTH_REQUIRE_SIGNATURE=true refuses the raw token and takes the signed one', async () => {
      const strict = await stackWith({ BETTER_AUTH_URL: server.url, BETTER_AUTH_REQUIRE_SIGNATURE: 'true' }, transport);
      try {
        const strictApi = new Api(strict.url);
        const user = await signUp();
        const raw = { id: user.id, token: await rawToken(user) };
        const signed = { id: user.id, token: user.session };

        // The same raw token opens the default deployment: the refusal below is the setting's.
        const open = await api.list(raw);
        assert.equal(open.status, 200, open.text);
        assert.deepEqual(open.body, []);

        assertRefused(await strictApi.list(raw), /sign/, 'raw, GET');
        assertRefused(await strictApi.create(raw, { title: 'unsigned' }), /sign/, 'raw, POST');
        await assertOpens(strictApi, user, signed.token, 'the signed token');
      } finally {
        await strict.stop();
      }
    });

    test('values Better Auth signs or encrypts with the secret for other cookies are not sessions', async (t) => {
      const user = await signUp();
      const raw = await rawToken(user);
      const signed = async (value) => `${value}.${await makeSignature(value, TEST_SECRET)}`;
      const trustId = generateRandomString(32);
      const trustMac = createHmac('sha256', TEST_SECRET).update(`${user.id}!${trustId}`).digest('base64url');
      const cookieValues = {
        'dont_remember': 'true',
        'two_factor': `2fa-${generateRandomString(20)}`,
        'admin_session, on a live session token': `${raw}:`,
        'admin_session, dont-remember': `${raw}:true`,
        'trust_device': `${trustMac}!trust-device-${generateRandomString(32)}`,
      };
      const cases = [];
      for (const [name, value] of Object.entries(cookieValues)) {
        cases.push([`${name}, signed`, await signed(value)]);
        cases.push([`${name}, raw`, value]);
      }
      for (const strategy of ['compact', 'jwe']) {
        cases.push([`session cookie cache (strategy "${strategy}")`, (await signIn(user, strategy))['better-auth.session_data']]);
      }
      for (const [name, token] of cases) {
        await t.test(name, async () => {
          assertRefused(await api.request('GET', `/api/${user.id}/tasks`, { token }), undefined, name);
        });
      }
      // The user's own session still works: the refusals were the values', not the user's.
      const own = await api.list({ id: user.id, token: user.session });
      assert.equal(own.status, 200, own.text);
      assert.deepEqual(own.body, []);
    });
  });
}

});
