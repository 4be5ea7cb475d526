// Tasks as real todo apps use them, end to end over both transports: due dates, priorities and
// tags through every route; every list filter alone and combined; every sort with tasks that
// have no due date and with ties; keyset paging through Link headers, also while another
// client writes; cursors that are tampered with or reused with other filters; isolation.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { assertProblem, assertTaskShape, newUser } from './support/api.mjs';
import { forEachTransport, sharedDatabase } from './support/stack.mjs';

/** The `next` link's path and query (relative to the worker), or null. */
function nextLink(response) {
  const link = response.headers.get('link');
  if (!link) return null;
  const match = link.match(/^<([^>]+)>; rel="next"$/);
  assert.ok(match, `a Link header of one next URL: ${link}`);
  const url = new URL(match[1]);
  return `${url.pathname}${url.search}`;
}

/** Follows `next` links from `path`; returns every page's tasks. */
async function allPages(api, user, path) {
  const pages = [];
  for (let next = path; next; ) {
    const response = await api.request('GET', next, { token: user.token });
    assert.equal(response.status, 200, response.text);
    pages.push(response.body);
    next = nextLink(response);
  }
  return pages;
}

const ids = (tasks) => tasks.map((task) => task.id);

forEachTransport((t) => {

describe('due dates, priorities and tags through every route', () => {
  test('an old-contract client gets what it got before, plus the three fields with their defaults', async () => {
    const user = newUser();
    const created = await t.api.create(user, { title: 'old client', description: 'd', completed: true });
    assert.equal(created.status, 201);
    assertTaskShape(assert, created.body);
    assert.deepEqual([created.body.due_date, created.body.priority, created.body.tags], [null, 'none', []]);
    const updated = await t.api.update(user, created.body.id, { title: 'renamed' });
    assert.deepEqual([updated.body.due_date, updated.body.priority, updated.body.tags], [null, 'none', []]);
  });

  test('POST takes them, GET and the list return them, PUT changes only what it names, PATCH keeps them', async () => {
    const user = newUser();
    const created = await t.api.create(user, { title: 'presents', due_date: '2026-12-20', priority: 'high', tags: ['Gifts', ' errands ', 'GIFTS'] });
    assert.equal(created.status, 201, created.text);
    const task = created.body;
    assert.deepEqual([task.due_date, task.priority, task.tags], ['2026-12-20', 'high', ['gifts', 'errands']]);
    assert.deepEqual((await t.api.get(user, task.id)).body, task);
    assert.deepEqual((await t.api.list(user)).body, [task]);

    const reprioritized = (await t.api.update(user, task.id, { priority: 'low' })).body;
    assert.deepEqual([reprioritized.due_date, reprioritized.priority, reprioritized.tags], ['2026-12-20', 'low', ['gifts', 'errands']]);
    const cleared = (await t.api.update(user, task.id, { due_date: null, tags: [] })).body;
    assert.deepEqual([cleared.due_date, cleared.priority, cleared.tags], [null, 'low', []]);
    const toggled = (await t.api.complete(user, task.id)).body;
    assert.deepEqual([toggled.completed, toggled.priority], [true, 'low']);
  });

  const invalid = [
    ['an impossible date', { due_date: '2026-02-30' }, 'due_date'],
    ['a date in another format', { due_date: '20/12/2026' }, 'due_date'],
    ['a date with a time', { due_date: '2026-12-20T10:00:00Z' }, 'due_date'],
    ['a numeric date', { due_date: 20261220 }, 'due_date'],
    ['an unknown priority', { priority: 'urgent' }, 'priority'],
    ['a numeric priority', { priority: 3 }, 'priority'],
    ['tags that are a string', { tags: 'home' }, 'tags'],
    ['a tag that is not a string', { tags: ['home', 7] }, 'tags'],
    ['an empty tag', { tags: ['  '] }, 'tags'],
    ['a 33-character tag', { tags: ['x'.repeat(33)] }, 'tags'],
    ['a tag with a control character', { tags: ['a\u0007b'] }, 'tags'],
    ['21 tags', { tags: Array.from({ length: 21 }, (_, n) => `t${n}`) }, 'tags'],
  ];
  for (const [name, fields, field] of invalid) {
    test(`${name} is a 400 naming ${field}, on create and on update, and changes nothing`, async () => {
      const user = newUser();
      const problem = assertProblem(assert, await t.api.create(user, { title: 'x', ...fields }), 400);
      assert.deepEqual(problem.errors.map((error) => error.field), [field]);
      const task = await t.api.seed(user, { title: 'kept', priority: 'medium', tags: ['keep'] });
      assertProblem(assert, await t.api.update(user, task.id, fields), 400);
      assert.deepEqual((await t.api.get(user, task.id)).body, task);
    });
  }

  test('exactly 20 tags, 32 characters each, and a leap day are accepted', async () => {
    const user = newUser();
    const tags = Array.from({ length: 20 }, (_, n) => `${n}`.padStart(32, 'x'));
    const task = await t.api.seed(user, { title: 'edges', tags, due_date: '2028-02-29' });
    assert.deepEqual([task.tags.length, task.due_date], [20, '2028-02-29']);
  });
});

describe('list filters', () => {
  const user = newUser();
  const seeded = {};
  const titles = (response) => response.body.map((task) => task.title).sort();
  const list = (query) => t.api.list(user, query);

  test('seed', async () => {
    const rows = [
      ['milk', { description: 'Oat milk, 2 litres', priority: 'high', tags: ['errands', 'home'], due_date: '2026-12-02' }],
      ['call mum', { priority: 'medium', tags: ['family'], due_date: '2026-12-10' }],
      ['taxes', { description: '100% done? no: 50_50', priority: 'high', tags: ['admin'], due_date: '2027-01-31' }],
      ['read', { priority: 'low', tags: ['home'] }],
      ['Milk the cow', { tags: ['farm'], completed: true }],
    ];
    for (const [title, fields] of rows) seeded[title] = await t.api.seed(user, { title, ...fields });
    assert.equal((await list('')).body.length, 5);
  });

  test('q matches titles and descriptions, case-insensitively, with LIKE wildcards taken literally', async () => {
    assert.deepEqual(titles(await list('?q=MILK')), ['Milk the cow', 'milk']);
    assert.deepEqual(titles(await list('?q=litres')), ['milk']);
    assert.deepEqual(titles(await list('?q=100%25')), ['taxes']);
    assert.deepEqual(titles(await list('?q=50_50')), ['taxes']);
    assert.deepEqual(titles(await list('?q=0%25+d')), ['taxes'], '"%" and "_" are not wildcards');
    assert.deepEqual(titles(await list('?q=_')), ['taxes']);
    assert.deepEqual((await list('?q=milk+call')).body, [], 'no match across title and description');
  });

  test('priority takes a list; tag must all match; due_before and due_after are inclusive and drop undated tasks', async () => {
    assert.deepEqual(titles(await list('?priority=high')), ['milk', 'taxes']);
    assert.deepEqual(titles(await list('?priority=low,medium')), ['call mum', 'read']);
    assert.deepEqual(titles(await list('?priority=none')), ['Milk the cow']);
    assert.deepEqual(titles(await list('?tag=home')), ['milk', 'read']);
    assert.deepEqual(titles(await list('?tag=HOME&tag=errands')), ['milk']);
    assert.deepEqual((await list('?tag=home&tag=admin')).body, []);
    assert.deepEqual(titles(await list('?due_before=2026-12-10')), ['call mum', 'milk']);
    assert.deepEqual(titles(await list('?due_after=2026-12-10')), ['call mum', 'taxes']);
    assert.deepEqual(titles(await list('?due_after=2026-12-03&due_before=2027-01-30')), ['call mum']);
  });

  test('filters combine with each other and with status', async () => {
    assert.deepEqual(titles(await list('?priority=high&tag=home&q=oat&due_before=2026-12-31&status=pending')), ['milk']);
    assert.deepEqual(titles(await list('?status=completed&q=milk')), ['Milk the cow']);
    assert.deepEqual((await list('?status=completed&priority=high')).body, []);
  });

  test('invalid values are a 400 naming the parameter; unknown parameters are ignored', async () => {
    for (const [query, field] of [
      ['?q=', 'q'], [`?q=${'x'.repeat(201)}`, 'q'], ['?priority=urgent', 'priority'], ['?tag=', 'tag'],
      ['?due_before=2026-02-30', 'due_before'], ['?due_after=soon', 'due_after'], ['?limit=0', 'limit'],
      ['?limit=1001', 'limit'], ['?limit=ten', 'limit'], ['?sort=colour', 'sort'], ['?cursor=abc', 'cursor'],
    ]) {
      const problem = assertProblem(assert, await list(query), 400);
      assert.deepEqual(problem.errors.map((error) => error.field), [field], query);
    }
    assert.equal((await list('?page=2&flavour=mint')).body.length, 5);
  });

  test("another user's filters see none of this user's tasks", async () => {
    const other = newUser();
    await t.api.seed(other, { title: 'milk', tags: ['home'], priority: 'high', due_date: '2026-12-02' });
    for (const query of ['?q=milk', '?tag=home', '?priority=high', '?due_before=2027-12-31', '?sort=due_date&limit=1']) {
      const mine = (await t.api.list(other, query)).body;
      assert.ok(mine.every((task) => task.user_id === other.id), query);
      assert.ok(mine.length <= 1, query);
    }
  });
});

describe('sorting', () => {
  const user = newUser();

  test('due_date: soonest first, undated last, in both orders; ties broken by id', async () => {
    const a = await t.api.seed(user, { title: 'a', due_date: '2026-12-05', priority: 'low' });
    const b = await t.api.seed(user, { title: 'b', priority: 'high' });
    const c = await t.api.seed(user, { title: 'c', due_date: '2026-12-01', priority: 'high' });
    const d = await t.api.seed(user, { title: 'd', due_date: '2026-12-05' });
    const e = await t.api.seed(user, { title: 'e' });
    const sorted = async (query) => ids((await t.api.list(user, query)).body);
    assert.deepEqual(await sorted('?sort=due_date'), ids([c, a, d, b, e]));
    assert.deepEqual(await sorted('?sort=due_date&order=desc'), ids([d, a, c, e, b]), 'ties and undated tasks break on id, descending too');
    assert.deepEqual(await sorted('?sort=priority'), ids([c, b, a, e, d]), 'high first; ties by id, descending');
    assert.deepEqual(await sorted('?sort=priority&order=asc'), ids([d, e, a, b, c]));
  });
});

describe('keyset paging', () => {
  test('250 tasks in pages of 100: each exactly once, in order, through Link', async () => {
    const user = newUser();
    const created = [];
    for (let n = 0; n < 250; n += 1) {
      created.push(await t.api.seed(user, { title: `task ${String(n).padStart(3, '0')}`, priority: ['none', 'low', 'medium', 'high'][n % 4] }));
    }
    for (const [query, expected] of [
      ['?limit=100', [...created].reverse()],
      ['?limit=100&sort=title', created],
      ['?limit=100&sort=priority', [...created].sort((x, y) => ['none', 'low', 'medium', 'high'].indexOf(y.priority) - ['none', 'low', 'medium', 'high'].indexOf(x.priority) || (x.id < y.id ? 1 : -1))],
    ]) {
      const pages = await allPages(t.api, user, `/api/${user.id}/tasks${query}`);
      assert.deepEqual(pages.map((page) => page.length), [100, 100, 50], query);
      assert.deepEqual(ids(pages.flat()), ids(expected), query);
    }
    const unbounded = await t.api.list(user);
    assert.equal(unbounded.body.length, 250);
    assert.equal(unbounded.headers.get('link'), null, 'the last page has no next link');
  });

  test('paging while another client inserts and deletes never repeats a task nor skips one that stayed', async () => {
    const user = newUser();
    const stayed = [];
    const doomed = [];
    for (let n = 0; n < 60; n += 1) {
      const task = await t.api.seed(user, { title: `t${n}`, due_date: n % 3 ? `2026-12-${String(1 + (n % 28)).padStart(2, '0')}` : null });
      (n % 5 === 0 ? doomed : stayed).push(task);
    }
    const seen = [];
    let next = `/api/${user.id}/tasks?limit=7&sort=due_date`;
    let page = 0;
    while (next) {
      const response = await t.api.request('GET', next, { token: user.token });
      assert.equal(response.status, 200, response.text);
      seen.push(...response.body);
      next = nextLink(response);
      // Between pages: another device deletes one task and adds one.
      if (doomed[page]) assert.equal((await t.api.remove(user, doomed[page].id)).status, 204);
      await t.api.seed(user, { title: `added during page ${page}`, due_date: '2026-12-15' });
      page += 1;
    }
    const seenIds = ids(seen);
    assert.equal(new Set(seenIds).size, seenIds.length, 'no task came twice');
    for (const task of stayed) assert.ok(seenIds.includes(task.id), `${task.title} was not skipped`);
  });

  test('a cursor that is tampered with, reused with other filters or another sort, or another user\'s is a 400', async () => {
    const user = newUser();
    for (let n = 0; n < 3; n += 1) await t.api.seed(user, { title: `p${n}`, tags: ['x'] });
    const first = await t.api.list(user, '?limit=1&tag=x');
    const next = new URL(`http://worker${nextLink(first)}`);
    const cursor = next.searchParams.get('cursor');
    assert.equal((await t.api.list(user, `?limit=1&tag=x&cursor=${encodeURIComponent(cursor)}`)).status, 200);
    assert.equal((await t.api.list(user, `?limit=2&tag=x&cursor=${encodeURIComponent(cursor)}`)).status, 200, 'the page size may change');

    const [payload, signature] = cursor.split('.');
    const forged = Buffer.from(payload, 'base64url').toString().replace(/"i":"([0-9a-f])/, (_, first) => `"i":"${first === 'f' ? 'e' : 'f'}`);
    const tampered = `${Buffer.from(forged).toString('base64url')}.${signature}`;
    assert.notEqual(tampered, cursor);
    for (const [name, query] of [
      ['tampered', `?limit=1&tag=x&cursor=${encodeURIComponent(tampered)}`],
      ['another filter', `?limit=1&tag=y&cursor=${encodeURIComponent(cursor)}`],
      ['another sort', `?limit=1&tag=x&sort=title&cursor=${encodeURIComponent(cursor)}`],
      ['garbage', '?limit=1&tag=x&cursor=not-a-cursor'],
    ]) {
      const problem = assertProblem(assert, await t.api.list(user, query), 400);
      assert.deepEqual(problem.errors.map((error) => error.field), ['cursor'], name);
    }
    const other = newUser();
    assertProblem(assert, await t.api.list(other, `?limit=1&tag=x&cursor=${encodeURIComponent(cursor)}`), 400);
  });
});

});

describe('indexes', () => {
  test('each filter and sort of a list is served by an index', async () => {
    const postgres = await sharedDatabase();
    const client = new pg.Client({ connectionString: postgres.url });
    client.on('error', () => {});
    await client.connect();
    try {
      // Planner statistics that make an index worth it: many users, few tasks each.
      await client.query('BEGIN');
      await client.query(`INSERT INTO tasks (id, user_id, title, description, due_date, priority, tags)
        SELECT gen_random_uuid(), 'explain-' || (n % 200), 'Task ' || n, 'about ' || n,
               CASE WHEN n % 3 = 0 THEN NULL ELSE date '2026-01-01' + (n % 365) END, n % 4,
               ARRAY['tag' || (n % 50)]
        FROM generate_series(1, 40000) AS n`);
      await client.query('ANALYZE tasks');
      // No sorting allowed: a plan exists only if an index yields the rows in this order.
      await client.query('SET LOCAL enable_sort = off');
      const plan = async (where, order) => {
        const { rows } = await client.query(`EXPLAIN SELECT id FROM tasks WHERE user_id = 'explain-7'${where} ORDER BY ${order} LIMIT 101`);
        return rows.map((row) => row['QUERY PLAN']).join('\n');
      };
      const cases = [
        ['', 'created_at DESC, id DESC', /tasks_user_created_idx/],
        ['', 'updated_at ASC, id ASC', /tasks_user_updated_idx/],
        ['', 'lower(title) ASC, id ASC', /tasks_user_title_idx/],
        ['', "COALESCE(due_date, 'infinity'::date) ASC, id ASC", /tasks_user_due_soonest_idx/],
        ['', "COALESCE(due_date, '-infinity'::date) DESC, id DESC", /tasks_user_due_latest_idx/],
        ['', 'priority DESC, id DESC', /tasks_user_priority_idx/],
        [" AND (created_at, id) < ('2026-06-01'::timestamptz, '00000000-0000-7000-8000-000000000000'::uuid)", 'created_at DESC, id DESC', /tasks_user_created_idx/],
      ];
      for (const [where, order, index] of cases) {
        const text = await plan(where, order);
        assert.match(text, index, `${order}:\n${text}`);
        assert.doesNotMatch(text, /Seq Scan|Sort/, `${order}:\n${text}`);
      }
      // Tags and search across all users: the GIN indexes.
      await client.query('SET LOCAL enable_seqscan = off');
      const tags = (await client.query(`EXPLAIN SELECT id FROM tasks WHERE tags @> ARRAY['tag7']`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(tags, /tasks_tags_idx/, tags);
      const search = (await client.query(`EXPLAIN SELECT id FROM tasks WHERE (title || ' ' || coalesce(description, '')) ILIKE '%ask 12%'`)).rows.map((r) => r['QUERY PLAN']).join('\n');
      assert.match(search, /tasks_search_idx/, 'pg_trgm serves the search');
    } finally {
      await client.query('ROLLBACK').catch(() => {});
      await client.end();
    }
  });
});
