// What the security review asked of the worker, end to end, each against a client that tries
// to get more than it should:
// - the change feed: a task deleted while a first sync is under way is reported as deleted,
//   and a sync's continuation cursors keep the time the sync began;
// - If-Match: a version no row can have (above bigint, negative) is a 412, never a 500;
// - tags: at most 20 `tag=` filters, and a body of thousands of tags is a 400;
// - a page of tasks or of changes carries at most 1 MiB of JSON, its next page linked;
// - an empty `due_date` is no date, and an empty Idempotency-Key is a 400;
// - production settings: plain-http key URLs and the published development secret are
//   refused (500, and a log line naming the setting);
// - a JWKS endpoint is fetched at most once by a storm of tokens naming unknown keys, and its
//   redirects are never followed.
// Each runs over both transports except the last two, which are about settings and key
// fetching (hyperdrive only).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import pg from 'pg';
import { sleep } from '../scripts/lib/timing.mjs';
import { Api, assertProblem, newUser, now, signToken } from './support/api.mjs';
import { forEachTransport, stackWith } from './support/stack.mjs';

/** The payload of a feed cursor: readable (base64url JSON), though only the worker can sign one. */
const cursorPayload = (cursor) => JSON.parse(Buffer.from(cursor.split('.')[0], 'base64url').toString());

/** A UUIDv7, as the worker makes them, for rows written behind its back. */
function uuidV7() {
  const hex = Date.now().toString(16).padStart(12, '0') + randomUUID().replaceAll('-', '').slice(12);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** The path and query of an absolute URL, for Api.request. */
const pathOf = (url) => {
  const parsed = new URL(url);
  return `${parsed.pathname}${parsed.search}`;
};

/** The target of a `Link: <...>; rel="next"` header, or undefined. */
function nextLink(headers) {
  const link = headers.get('link');
  if (!link) return undefined;
  const match = /^<([^>]+)>;\s*rel="next"$/.exec(link.trim());
  assert.ok(match, `a Link with rel="next": ${link}`);
  return match[1];
}

forEachTransport((t) => {

const feed = (user, since, limit) => {
  const query = new URLSearchParams();
  if (since) query.set('since', since);
  if (limit !== undefined) query.set('limit', String(limit));
  return t.api.request('GET', `/api/${user.id}/changes?${query}`, { token: user.token });
};

/** Applies one feed page to a client's copy, by id, as a client would. */
function apply(copy, page) {
  for (const task of page.tasks) copy.set(task.id, task);
  for (const id of page.deleted) copy.delete(id);
}

describe('the change feed during a first sync', () => {
  test('a task deleted after its page was delivered is reported deleted, and the client ends with the live tasks', async () => {
    const user = newUser();
    const seeded = [];
    for (const title of ['one', 'two', 'three']) seeded.push(await t.api.seed(user, { title }));
    const copy = new Map();

    const first = await feed(user, undefined, 1);
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.tasks.length, 1);
    assert.equal(first.body.has_more, true);
    apply(copy, first.body);
    const gone = first.body.tasks[0].id;
    assert.equal((await t.api.remove(user, gone)).status, 204);

    const deletedSeen = [];
    let cursor = first.body.cursor;
    let hasMore = first.body.has_more;
    for (let pages = 0; hasMore; pages += 1) {
      assert.ok(pages < 20, 'the first sync ends');
      const response = await feed(user, cursor, 1);
      assert.equal(response.status, 200, response.text);
      apply(copy, response.body);
      deletedSeen.push(...response.body.deleted);
      ({ cursor, has_more: hasMore } = response.body);
    }
    // The next sync, from the last cursor; the feed delivers only finished transactions, so
    // give it a few tries.
    for (let tries = 0; tries < 5 && !deletedSeen.includes(gone); tries += 1) {
      if (tries > 0) await sleep(200);
      for (hasMore = true; hasMore;) {
        const response = await feed(user, cursor, 1);
        assert.equal(response.status, 200, response.text);
        apply(copy, response.body);
        deletedSeen.push(...response.body.deleted);
        ({ cursor, has_more: hasMore } = response.body);
      }
    }
    assert.ok(deletedSeen.includes(gone), `the deletion of ${gone} is reported (deleted seen: ${JSON.stringify(deletedSeen)})`);
    const live = seeded.map((task) => task.id).filter((id) => id !== gone).sort();
    assert.deepEqual([...copy.keys()].sort(), live, 'the client holds exactly the live tasks');
  });

  test('a continuation cursor keeps the time its sync began; the last page\'s cursor is new', async () => {
    // The cursor is signed, not encrypted: its payload can be read, not forged.
    const user = newUser();
    for (let n = 0; n < 3; n += 1) await t.api.seed(user, { title: `c${n}` });
    const times = [];
    let cursor;
    for (let hasMore = true; hasMore;) {
      await sleep(25);
      const response = await feed(user, cursor, 1);
      assert.equal(response.status, 200, response.text);
      ({ cursor, has_more: hasMore } = response.body);
      times.push([cursorPayload(cursor).t, hasMore]);
    }
    const continuations = times.filter(([, more]) => more).map(([time]) => time);
    assert.ok(continuations.length >= 2, JSON.stringify(times));
    assert.deepEqual(new Set(continuations).size, 1, `every continuation cursor carries the sync's start: ${JSON.stringify(times)}`);
    const [last] = times.at(-1);
    assert.ok(last > continuations[0], 'the cursor after the sync is issued anew');
  });
});

describe('If-Match with a version no row can have', () => {
  test('above bigint or negative is a 412 and changes nothing; the current ETag still writes', async () => {
    const user = newUser();
    const created = await t.api.create(user, { title: 'original' });
    assert.equal(created.status, 201, created.text);
    const etag = created.headers.get('etag');
    const put = (ifMatch, title) => t.api.request('PUT', `/api/${user.id}/tasks/${created.body.id}`, {
      token: user.token, json: { title }, headers: { 'if-match': ifMatch },
    });
    for (const version of ['9223372036854775808', '18446744073709551615', '-1']) {
      const response = await put(`"${version}"`, `overwritten by ${version}`);
      assertProblem(assert, response, 412);
      assert.equal(response.headers.get('etag'), etag, 'the 412 carries the current version');
    }
    const unchanged = await t.api.get(user, created.body.id);
    assert.deepEqual([unchanged.body.title, unchanged.headers.get('etag')], ['original', etag]);
    const matching = await put(etag, 'in step');
    assert.equal(matching.status, 200, matching.text);
    assert.equal(matching.body.title, 'in step');
  });
});

describe('tag limits', () => {
  const tagQuery = (count) => `?${Array.from({ length: count }, (_, n) => `tag=t${n}`).join('&')}`;

  test('21 tag filters are a 400 naming `tag`; 20 are fine', async () => {
    const user = newUser();
    const problem = assertProblem(assert, await t.api.list(user, tagQuery(21)), 400);
    assert.ok(problem.errors.some((error) => error.field === 'tag'), JSON.stringify(problem.errors));
    const twenty = await t.api.list(user, tagQuery(20));
    assert.equal(twenty.status, 200, twenty.text);
  });

  test('a body of 5000 distinct tags is a 400 naming `tags`, and creates nothing', async () => {
    const user = newUser();
    const tags = Array.from({ length: 5000 }, (_, n) => `t${n}`);
    const json = { title: 'tag bomb', tags };
    assert.ok(Buffer.byteLength(JSON.stringify(json)) < 64 * 1024, 'under 64 KiB');
    const problem = assertProblem(assert, await t.api.create(user, json), 400);
    assert.ok(problem.errors.some((error) => error.field === 'tags'), JSON.stringify(problem.errors));
    assert.deepEqual((await t.api.list(user)).body, []);
  });
});

describe('an empty due_date is no date', () => {
  test('on create, 201 with due_date null', async () => {
    const user = newUser();
    const created = await t.api.create(user, { title: 'undated', due_date: '' });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.due_date, null);
  });

  test('on update, it clears the date', async () => {
    const user = newUser();
    const task = await t.api.seed(user, { title: 'dated', due_date: '2030-01-02' });
    assert.equal(task.due_date, '2030-01-02');
    const updated = await t.api.update(user, task.id, { due_date: '' });
    assert.equal(updated.status, 200, updated.text);
    assert.equal(updated.body.due_date, null);
    assert.equal((await t.api.get(user, task.id)).body.due_date, null);
  });
});

describe('an empty Idempotency-Key', () => {
  test('is a 400 naming the header, and creates nothing', async () => {
    const user = newUser();
    const response = await t.api.request('POST', `/api/${user.id}/tasks`, {
      token: user.token, json: { title: 'retry me' }, headers: { 'idempotency-key': '' },
    });
    const problem = assertProblem(assert, response, 400);
    assert.deepEqual(problem.errors.map((error) => error.field), ['Idempotency-Key']);
    assert.deepEqual((await t.api.list(user)).body, []);
  });
});

describe('the 1 MiB page budget', () => {
  const BUDGET = 1_048_576;
  const SEEDED = 700;
  const user = newUser();
  const ids = [];

  before(async () => {
    // 700 tasks whose descriptions are 2000 control characters, each escaped to six bytes in
    // JSON: about 12 KB a task, 8.5 MB in all. Written in one statement, behind the worker's back.
    for (let n = 0; n < SEEDED; n += 1) ids.push(uuidV7());
    const client = new pg.Client({ connectionString: t.stack.postgres.url });
    client.on('error', () => {});
    await client.connect();
    try {
      await client.query(
        `INSERT INTO tasks (id, user_id, title, description)
         SELECT id, $2, 'heavy ' || ordinality, repeat(chr(1), 2000)
         FROM unnest($1::uuid[]) WITH ORDINALITY AS seeded(id, ordinality)`,
        [ids, user.id],
      );
    } finally {
      await client.end();
    }
  });

  test('a list page of limit=1000 stays within 1 MiB and links the next; the links cover every task once', async () => {
    const seen = [];
    let path = `/api/${user.id}/tasks?limit=1000`;
    let pages = 0;
    while (path) {
      const response = await t.api.request('GET', path, { token: user.token });
      assert.equal(response.status, 200, response.text.slice(0, 300));
      const bytes = Buffer.byteLength(response.text);
      assert.ok(bytes <= BUDGET, `page ${pages + 1} is ${bytes} bytes`);
      assert.ok(response.body.length >= 1);
      if (pages === 0) {
        assert.ok(response.body.length < SEEDED, `the first page holds ${response.body.length} of ${SEEDED}`);
        assert.ok(nextLink(response.headers), 'a next link');
      }
      seen.push(...response.body.map((task) => task.id));
      const next = nextLink(response.headers);
      path = next && pathOf(next);
      pages += 1;
      assert.ok(pages <= SEEDED, 'the links end');
    }
    assert.equal(seen.length, SEEDED, 'no task twice');
    assert.deepEqual([...seen].sort(), [...ids].sort(), 'every task once');
  });

  test('a feed page of limit=1000 stays within 1 MiB with has_more; the cursors cover every task once', async () => {
    const seen = [];
    let cursor;
    let pages = 0;
    for (let hasMore = true; hasMore;) {
      const response = await feed(user, cursor, 1000);
      assert.equal(response.status, 200, response.text.slice(0, 300));
      const bytes = Buffer.byteLength(response.text);
      assert.ok(bytes <= BUDGET, `page ${pages + 1} is ${bytes} bytes`);
      if (pages === 0) {
        assert.equal(response.body.has_more, true);
        assert.ok(response.body.tasks.length < SEEDED, `the first page holds ${response.body.tasks.length} of ${SEEDED}`);
      }
      seen.push(...response.body.tasks.map((task) => task.id));
      ({ cursor, has_more: hasMore } = response.body);
      pages += 1;
      assert.ok(pages <= SEEDED, 'the feed ends');
    }
    assert.equal(seen.length, SEEDED, 'no task twice');
    assert.deepEqual([...seen].sort(), [...ids].sort(), 'every task once');
  });
});

});

describe('production settings (hyperdrive)', () => {
  const ORIGIN = 'https://app.example.com';
  const DEVELOPMENT_SECRET = 'dev-only-secret-change-me-0123456789abcdef';

  /** Starts a production worker with `vars`, lists a user's tasks, and stops it. */
  async function listUnder(vars, secret) {
    const stack = await stackWith({ ENVIRONMENT: 'production', ALLOWED_ORIGINS: ORIGIN, ...vars });
    try {
      const user = `user_${randomUUID().replaceAll('-', '')}`;
      const token = signToken({ sub: user, iat: now(), exp: now() + 600 }, secret ? { secret } : {});
      const response = await new Api(stack.url).request('GET', `/api/${user}/tasks`, { token });
      return { response, logs: stack.worker.logs() };
    } finally {
      await stack.stop();
    }
  }

  for (const name of ['BETTER_AUTH_URL', 'JWKS_URL']) {
    test(`a plain-http ${name} is a 500, and the log names the setting`, async () => {
      const { response, logs } = await listUnder({ [name]: `http://${name === 'JWKS_URL' ? 'keys' : 'auth'}.example.com` });
      const problem = assertProblem(assert, response, 500);
      assert.doesNotMatch(problem.detail, new RegExp(name), 'the setting is named in the log, not to the client');
      assert.match(logs, new RegExp(`${name} must be an https`));
    });
  }

  test('the public development secret is a 500, and the log says so', async () => {
    const { response, logs } = await listUnder({ BETTER_AUTH_SECRET: DEVELOPMENT_SECRET }, DEVELOPMENT_SECRET);
    assertProblem(assert, response, 500);
    assert.match(logs, /public development secret/);
  });

  test('https key URLs and a secret of its own: the request is served', async () => {
    const { response } = await listUnder({ BETTER_AUTH_URL: 'https://auth.example.com', JWKS_URL: 'https://keys.example.com/jwks' });
    assert.notEqual(response.status, 500, response.text);
    assert.equal(response.status, 200, response.text);
  });
});

/** An HTTP server on a free loopback port; `handler` gets (request, response). */
async function serve(handler) {
  let requests = 0;
  const server = createServer((request, response) => {
    requests += 1;
    handler(request, response);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    requests: () => requests,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

describe('fetching the JWKS (hyperdrive)', () => {
  const ISSUER = 'https://issuer.example.com';
  const AUDIENCE = 'https://api.example.com';
  const user = `user_${randomUUID().replaceAll('-', '')}`;
  let privateKey;
  let jwks;

  before(async () => {
    const pair = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    privateKey = pair.privateKey;
    jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'EdDSA', use: 'sig' }] });
  });

  const sign = (kid) => new SignJWT({ sub: user, iss: ISSUER, aud: AUDIENCE, iat: now(), exp: now() + 600 })
    .setProtectedHeader({ alg: 'EdDSA', kid })
    .sign(privateKey);
  const settings = (url) => ({ JWKS_URL: url, AUTH_CREDENTIALS: 'jwks', JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE });

  describe('a storm of tokens naming unknown keys, against a JWKS that takes 1 s', () => {
    let server;
    let stack;
    before(async () => {
      server = await serve((request, response) => {
        setTimeout(() => {
          response.setHeader('content-type', 'application/json');
          response.end(jwks);
        }, 1000);
      });
      stack = await stackWith(settings(`${server.url}/jwks`));
    });
    after(async () => {
      await stack?.stop();
      await server?.close();
    });

    test('30 concurrent requests are refused (401 or 503, never 500) and the JWKS is fetched at most twice', async (context) => {
      const api = new Api(stack.url);
      const tokens = await Promise.all(Array.from({ length: 30 }, () => sign(randomUUID())));
      const responses = await Promise.all(tokens.map((token) => api.request('GET', `/api/${user}/tasks`, { token })));
      const statuses = responses.map((response) => response.status);
      const counts = Object.fromEntries([...new Set(statuses)].map((status) => [status, statuses.filter((s) => s === status).length]));
      context.diagnostic(`statuses: ${JSON.stringify(counts)}; JWKS requests: ${server.requests()}`);
      for (const response of responses) {
        assert.ok([401, 503].includes(response.status), `${response.status}: ${response.text}`);
        assertProblem(assert, response, response.status);
      }
      assert.ok(server.requests() <= 2, `the JWKS saw ${server.requests()} requests`);

      // The keys fetched meanwhile are cached: the real kid is served without another fetch.
      const before = server.requests();
      const valid = await api.request('GET', `/api/${user}/tasks`, { token: await sign('k1') });
      assert.equal(valid.status, 200, valid.text);
      assert.equal(server.requests(), before, 'served from the cache');
    });
  });

  describe('a JWKS URL that redirects', () => {
    let target;
    let redirector;
    let stack;
    before(async () => {
      target = await serve((request, response) => {
        response.setHeader('content-type', 'application/json');
        response.end(jwks);
      });
      redirector = await serve((request, response) => {
        response.writeHead(302, { location: `${target.url}/jwks` });
        response.end();
      });
      stack = await stackWith(settings(`${redirector.url}/jwks`));
    });
    after(async () => {
      await stack?.stop();
      await target?.close();
      await redirector?.close();
    });

    test('is not followed: a token with the real kid is refused, and the second server sees nothing', async (context) => {
      const response = await new Api(stack.url).request('GET', `/api/${user}/tasks`, { token: await sign('k1') });
      context.diagnostic(`status: ${response.status}`);
      assert.ok([401, 503].includes(response.status), `${response.status}: ${response.text}`);
      assertProblem(assert, response, response.status);
      assert.ok(redirector.requests() >= 1, 'the configured URL was asked');
      assert.equal(target.requests(), 0, 'the redirect target saw no request');
    });
  });
});
