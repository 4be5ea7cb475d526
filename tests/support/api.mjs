// Typed helpers for talking to the API as a frontend would: HS256 tokens signed like Better
// Auth's, a fresh random user per test, and requests that return status, headers and body.

import { randomUUID } from 'node:crypto';
import { signJwt } from '../../scripts/lib/jwt.mjs';
import { assertDescribed } from './openapi.mjs';
import { TEST_SECRET } from './fixtures.mjs';

/** Signs a JWT with HS256 (or whatever `header` says) over the given claims. */
export function signToken(claims, { secret = TEST_SECRET, header } = {}) {
  return signJwt(claims, secret, header);
}

/** Seconds since the epoch. */
export const now = () => Math.floor(Date.now() / 1000);

/** A new user with a valid one-hour token. */
export function newUser() {
  const id = `user_${randomUUID().replaceAll('-', '')}`;
  return { id, token: signToken({ sub: id, iat: now(), exp: now() + 3600 }) };
}

/** A client for one running worker. */
export class Api {
  constructor(baseUrl) {
    this.baseUrl = baseUrl;
  }

  /**
   * Sends a request. `json` is sent as a JSON body; `body` is sent raw. Returns
   * { status, headers, text, body } where body is the parsed JSON when there is any.
   * Every response is checked against openapi.json first: one the document does not describe
   * throws, failing the test (see ./openapi.mjs).
   */
  async request(method, path, { token, json, body, headers = {} } = {}) {
    const init = { method, headers: { ...headers } };
    if (token) init.headers.authorization = `Bearer ${token}`;
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers['content-type'] ??= 'application/json';
    } else if (body !== undefined) {
      init.body = body;
    }
    const response = await fetch(`${this.baseUrl}${path}`, init);
    const text = await response.text();
    const contentType = response.headers.get('content-type') ?? '';
    const parsed = contentType.includes('json') && text ? JSON.parse(text) : undefined;
    const result = { status: response.status, headers: response.headers, text, body: parsed };
    assertDescribed(method, path, result);
    return result;
  }

  list(user, query = '') {
    return this.request('GET', `/api/${user.id}/tasks${query}`, { token: user.token });
  }

  create(user, json) {
    return this.request('POST', `/api/${user.id}/tasks`, { token: user.token, json });
  }

  get(user, id) {
    return this.request('GET', `/api/${user.id}/tasks/${id}`, { token: user.token });
  }

  update(user, id, json) {
    return this.request('PUT', `/api/${user.id}/tasks/${id}`, { token: user.token, json });
  }

  complete(user, id, json) {
    return this.request('PATCH', `/api/${user.id}/tasks/${id}/complete`, { token: user.token, json });
  }

  remove(user, id) {
    return this.request('DELETE', `/api/${user.id}/tasks/${id}`, { token: user.token });
  }

  /** Creates a task and returns it, failing loudly if creation does not succeed. */
  async seed(user, json = { title: 'a task' }) {
    const response = await this.create(user, json);
    if (response.status !== 201) throw new Error(`seeding failed: ${response.status} ${response.text}`);
    return response.body;
  }
}

/** Asserts an RFC 9457 problem response with this status and returns its body. */
export function assertProblem(assert, response, status) {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.text}`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/problem\+json/);
  const problem = response.body;
  assert.equal(problem.status, status);
  assert.match(problem.type, /^tag:edge-task-api,2026:[a-z-]+$/);
  assert.equal(typeof problem.title, 'string');
  assert.ok(problem.detail.length > 10, 'detail is a human sentence');
  return problem;
}

/** The task JSON contract: exactly these fields, with these types and formats. */
export function assertTaskShape(assert, task) {
  assert.deepEqual(Object.keys(task).sort(), [
    'completed', 'completed_at', 'created_at', 'description', 'due_date', 'id', 'priority', 'tags', 'title', 'updated_at', 'user_id',
  ]);
  assert.ok(task.due_date === null || /^\d{4}-\d\d-\d\d$/.test(task.due_date), 'a date or null');
  assert.ok(['none', 'low', 'medium', 'high'].includes(task.priority));
  assert.ok(Array.isArray(task.tags) && task.tags.every((tag) => typeof tag === 'string' && tag === tag.toLowerCase()));
  assert.match(task.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUIDv7');
  assert.equal(typeof task.user_id, 'string');
  assert.equal(typeof task.title, 'string');
  assert.ok(task.description === null || typeof task.description === 'string');
  assert.equal(typeof task.completed, 'boolean');
  assert.equal(task.completed_at === null, !task.completed, 'completed_at is set exactly while the task is completed');
  for (const stamp of [task.created_at, task.updated_at, ...(task.completed ? [task.completed_at] : [])]) {
    assert.match(stamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'RFC 3339 UTC');
    assert.ok(!Number.isNaN(Date.parse(stamp)));
  }
}
