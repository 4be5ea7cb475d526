// Every task route end to end, with every status it can return, against the real worker on
// workerd and a real PostgreSQL.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Api, assertProblem, assertTaskShape, newUser } from './support/api.mjs';
import { forEachTransport } from './support/stack.mjs';

forEachTransport((t) => {

describe('POST /api/{user_id}/tasks', () => {
  test('creates a task: 201, Location, the stored task with defaults', async () => {
    const user = newUser();
    const response = await t.api.create(user, { title: '  Buy milk  ' });
    assert.equal(response.status, 201);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    const task = response.body;
    assertTaskShape(assert, task);
    assert.equal(task.title, 'Buy milk', 'title is trimmed');
    assert.equal(task.user_id, user.id);
    assert.equal(task.description, null);
    assert.equal(task.completed, false);
    assert.equal(task.created_at, task.updated_at);
    assert.equal(response.headers.get('location'), `/api/${user.id}/tasks/${task.id}`);
    assert.ok(response.headers.get('x-request-id'));
  });

  test('takes description and completed, and ignores unknown fields', async () => {
    const user = newUser();
    const response = await t.api.create(user, {
      title: 'Write report', description: 'Q3 numbers\n  indented', completed: true, colour: 'red',
    });
    assert.equal(response.status, 201);
    assert.equal(response.body.description, 'Q3 numbers\n  indented');
    assert.equal(response.body.completed, true);
    assert.equal('colour' in response.body, false);
  });

  test('the Location header leads to the task', async () => {
    const user = newUser();
    const created = await t.api.create(user, { title: 'Follow me' });
    const fetched = await t.api.request('GET', created.headers.get('location'), { token: user.token });
    assert.equal(fetched.status, 200);
    assert.deepEqual(fetched.body, created.body);
  });
});

describe('GET /api/{user_id}/tasks', () => {
  test('an empty list is a bare empty array', async () => {
    const response = await t.api.list(newUser());
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, []);
  });

  test('lists newest first by default, persisted across requests', async () => {
    const user = newUser();
    const first = await t.api.seed(user, { title: 'first' });
    const second = await t.api.seed(user, { title: 'second' });
    const third = await t.api.seed(user, { title: 'third' });
    const response = await t.api.list(user);
    assert.equal(response.status, 200);
    assert.deepEqual(response.body.map((task) => task.id), [third.id, second.id, first.id]);
    response.body.forEach((task) => assertTaskShape(assert, task));
  });

  test('filters by status and sorts by title, creation and update time', async () => {
    const user = newUser();
    const banana = await t.api.seed(user, { title: 'banana' });
    const apple = await t.api.seed(user, { title: 'Apple', completed: true });
    const cherry = await t.api.seed(user, { title: 'cherry' });
    await t.api.update(user, banana.id, { description: 'touched last' });
    const ids = async (query) => (await t.api.list(user, query)).body.map((task) => task.id);

    assert.deepEqual(await ids('?status=completed'), [apple.id]);
    assert.deepEqual(await ids('?status=pending'), [cherry.id, banana.id]);
    assert.deepEqual(await ids('?status=all&sort=title'), [apple.id, banana.id, cherry.id], 'case-insensitive A-Z');
    assert.deepEqual(await ids('?sort=title&order=desc'), [cherry.id, banana.id, apple.id]);
    assert.deepEqual(await ids('?sort=created&order=asc'), [banana.id, apple.id, cherry.id]);
    assert.deepEqual(await ids('?sort=updated'), [banana.id, cherry.id, apple.id]);
  });

  test('invalid query values are 400 with one error per parameter', async () => {
    const response = await t.api.list(newUser(), '?status=done&sort=colour&order=sideways');
    const problem = assertProblem(assert, response, 400);
    assert.deepEqual(problem.errors.map((error) => error.field), ['status', 'sort', 'order']);
    problem.errors.forEach((error) => assert.ok(error.message.length > 0));
  });

  test('50 parallel creates are all stored and listed', async () => {
    const user = newUser();
    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, index) => t.api.create(user, { title: `task ${index}` })),
    );
    assert.deepEqual(responses.map((response) => response.status), Array(50).fill(201));
    const listed = (await t.api.list(user)).body;
    assert.equal(listed.length, 50);
    assert.deepEqual(
      new Set(listed.map((task) => task.title)),
      new Set(Array.from({ length: 50 }, (_, index) => `task ${index}`)),
    );
  });
});

describe('GET /api/{user_id}/tasks/{id}', () => {
  test('returns the task', async () => {
    const user = newUser();
    const task = await t.api.seed(user, { title: 'read me', description: 'details' });
    const response = await t.api.get(user, task.id);
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, task);
  });

  test('a missing task and a malformed id are both 404', async () => {
    const user = newUser();
    assertProblem(assert, await t.api.get(user, '0190f0a0-0000-7000-8000-000000000000'), 404);
    assertProblem(assert, await t.api.get(user, 'not-a-uuid'), 404);
    assertProblem(assert, await t.api.get(user, "1' OR '1'='1"), 404);
  });
});

describe('PUT /api/{user_id}/tasks/{id}', () => {
  test('updates only the given fields and advances updated_at', async () => {
    const user = newUser();
    const task = await t.api.seed(user, { title: 'draft', description: 'keep me' });
    const response = await t.api.update(user, task.id, { title: '  final  ' });
    assert.equal(response.status, 200);
    assertTaskShape(assert, response.body);
    assert.equal(response.body.title, 'final');
    assert.equal(response.body.description, 'keep me');
    assert.equal(response.body.completed, false);
    assert.equal(response.body.created_at, task.created_at);
    assert.ok(response.body.updated_at > task.updated_at, 'updated_at moves forward');
    assert.deepEqual((await t.api.get(user, task.id)).body, response.body, 'the update persisted');
  });

  test('description null clears it; completed can be set', async () => {
    const user = newUser();
    const task = await t.api.seed(user, { title: 't', description: 'd' });
    const response = await t.api.update(user, task.id, { description: null, completed: true });
    assert.equal(response.status, 200);
    assert.equal(response.body.description, null);
    assert.equal(response.body.completed, true);
  });

  test('an update with no known field is 400', async () => {
    const user = newUser();
    const task = await t.api.seed(user);
    const problem = assertProblem(assert, await t.api.update(user, task.id, { colour: 'red' }), 400);
    assert.equal(problem.errors[0].field, 'body');
  });

  test('a missing task is 404, checked after validation passes', async () => {
    const user = newUser();
    assertProblem(assert, await t.api.update(user, '0190f0a0-0000-7000-8000-000000000000', { title: 'x' }), 404);
    assertProblem(assert, await t.api.update(user, 'nope', { title: 'x' }), 404);
  });
});

describe('PATCH /api/{user_id}/tasks/{id}/complete', () => {
  test('with no body it toggles, back and forth', async () => {
    const user = newUser();
    const task = await t.api.seed(user);
    const on = await t.api.request('PATCH', `/api/${user.id}/tasks/${task.id}/complete`, { token: user.token });
    assert.equal(on.status, 200);
    assert.equal(on.body.completed, true);
    assertTaskShape(assert, on.body);
    const off = await t.api.request('PATCH', `/api/${user.id}/tasks/${task.id}/complete`, { token: user.token });
    assert.equal(off.body.completed, false);
  });

  test('with a body it sets the given value, idempotently', async () => {
    const user = newUser();
    const task = await t.api.seed(user);
    for (let round = 0; round < 2; round += 1) {
      const response = await t.api.complete(user, task.id, { completed: true });
      assert.equal(response.status, 200);
      assert.equal(response.body.completed, true);
    }
  });

  test('a body without a boolean completed is 400', async () => {
    const user = newUser();
    const task = await t.api.seed(user);
    assertProblem(assert, await t.api.complete(user, task.id, { completed: 'yes' }), 400);
    assertProblem(assert, await t.api.complete(user, task.id, {}), 400);
  });

  test('an even number of parallel toggles leaves the task as it was', async () => {
    const user = newUser();
    const task = await t.api.seed(user);
    const toggles = await Promise.all(
      Array.from({ length: 20 }, () =>
        t.api.request('PATCH', `/api/${user.id}/tasks/${task.id}/complete`, { token: user.token })),
    );
    assert.deepEqual(toggles.map((response) => response.status), Array(20).fill(200));
    const seen = toggles.map((response) => response.body.completed);
    assert.equal(seen.filter(Boolean).length, 10, 'each toggle saw a distinct state');
    assert.equal((await t.api.get(user, task.id)).body.completed, false);
  });

  test('a missing task is 404', async () => {
    assertProblem(assert, await t.api.complete(newUser(), '0190f0a0-0000-7000-8000-000000000000', { completed: true }), 404);
  });
});

describe('DELETE /api/{user_id}/tasks/{id}', () => {
  test('204 with an empty body, then the task is gone', async () => {
    const user = newUser();
    const task = await t.api.seed(user);
    const response = await t.api.remove(user, task.id);
    assert.equal(response.status, 204);
    assert.equal(response.text, '');
    assertProblem(assert, await t.api.get(user, task.id), 404);
    assertProblem(assert, await t.api.remove(user, task.id), 404);
    assert.deepEqual((await t.api.list(user)).body, []);
  });
});

describe('routing', () => {
  test('an unknown route is a 404 problem', async () => {
    for (const path of ['/', '/api', '/api/u/tasks/x/y/z', '/tasks']) {
      assertProblem(assert, await t.api.request('GET', path), 404);
    }
  });

  test('a known route with another method is 405 with Allow', async () => {
    const user = newUser();
    const cases = [
      ['DELETE', `/api/${user.id}/tasks`, 'GET, POST, OPTIONS'],
      ['POST', `/api/${user.id}/tasks/0190f0a0-0000-7000-8000-000000000000`, 'GET, PUT, DELETE, OPTIONS'],
      ['GET', `/api/${user.id}/tasks/0190f0a0-0000-7000-8000-000000000000/complete`, 'PATCH, OPTIONS'],
      ['POST', '/health', 'GET, OPTIONS'],
    ];
    for (const [method, path, allow] of cases) {
      const response = await t.api.request(method, path, { token: user.token });
      assertProblem(assert, response, 405);
      assert.equal(response.headers.get('allow'), allow, `${method} ${path}`);
    }
  });

  test('every response says it must not be cached and carries a request id', async () => {
    const user = newUser();
    const response = await t.api.list(user);
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.match(response.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
    const ray = await t.api.request('GET', `/api/${user.id}/tasks`, { token: user.token, headers: { 'cf-ray': '8a1b2c3d4e5f6789-AMS' } });
    assert.equal(ray.headers.get('x-request-id'), '8a1b2c3d4e5f6789-AMS', 'cf-ray is the request id when present');
  });
});
});
