// Bad input, table-driven: every case gets a clear problem response, never a crash, and
// nothing is stored. Hostile strings are stored and returned verbatim.

import assert from 'node:assert/strict';
import http from 'node:http';
import { describe, test } from 'node:test';
import { Api, assertProblem, assertTaskShape, newUser } from './support/api.mjs';
import { forEachTransport } from './support/stack.mjs';

forEachTransport((t) => {

const JSON_TYPE = { 'content-type': 'application/json' };

/**
 * POSTs 128 KiB in 16 KiB chunks with chunked transfer encoding (no Content-Length), and
 * returns the response, which the server may send before the upload is finished. A raw
 * node:http request because fetch rejects outright when the server answers early and closes.
 */
function postChunked(url, token) {
  return new Promise((resolve, reject) => {
    const request = http.request(url, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    });
    let answered = false;
    request.on('response', (response) => {
      answered = true;
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => (text += chunk));
      response.on('end', () => resolve({
        status: response.statusCode,
        headers: new Headers(response.headers),
        text,
        body: text ? JSON.parse(text) : undefined,
      }));
    });
    request.on('error', (error) => {
      if (!answered) reject(error);
    });
    const chunk = `{"title":"big","description":"${'x'.repeat(16 * 1024)}`;
    for (let index = 0; index < 8; index += 1) request.write(chunk);
    request.end();
  });
}

describe('rejected create bodies', () => {
  const cases = [
    ['malformed JSON', { body: '{"title": "unterminated', headers: JSON_TYPE }, 400, null],
    ['an array body', { json: [{ title: 'x' }] }, 400, null],
    ['a string body', { json: 'title' }, 400, null],
    ['null', { body: 'null', headers: JSON_TYPE }, 400, null],
    ['an empty body', { body: '', headers: JSON_TYPE }, 400, null],
    ['a numeric title', { json: { title: 42 } }, 400, 'title'],
    ['a missing title', { json: { description: 'no title' } }, 400, 'title'],
    ['an empty title', { json: { title: '' } }, 400, 'title'],
    ['a whitespace title', { json: { title: ' \t\n ' } }, 400, 'title'],
    ['a 201-character title', { json: { title: 'x'.repeat(201) } }, 400, 'title'],
    ['a 2001-character description', { json: { title: 'ok', description: 'd'.repeat(2001) } }, 400, 'description'],
    ['an object description', { json: { title: 'ok', description: { text: 'x' } } }, 400, 'description'],
    ['a string completed', { json: { title: 'ok', completed: 'true' } }, 400, 'completed'],
    ['a NUL character', { json: { title: 'a\u0000b' } }, 400, 'title'],
    ['a text/plain body', { body: '{"title":"x"}', headers: { 'content-type': 'text/plain' } }, 415, null],
    ['a form body', { body: 'title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, 415, null],
    ['no content type', { body: '{"title":"x"}' }, 415, null],
    ['a body over 64 KiB', { json: { title: 'big', description: 'x'.repeat(70 * 1024) } }, 413, null],
  ];
  for (const [name, request, status, field] of cases) {
    test(`${name} → ${status}`, async () => {
      const user = newUser();
      const response = await t.api.request('POST', `/api/${user.id}/tasks`, { token: user.token, ...request });
      const problem = assertProblem(assert, response, status);
      if (field) assert.ok(problem.errors.some((error) => error.field === field), JSON.stringify(problem.errors));
      assert.deepEqual((await t.api.list(user)).body, [], 'nothing was stored');
    });
  }

  test('a chunked body over 64 KiB, with no Content-Length, is refused while streaming → 413', async () => {
    const user = newUser();
    const response = await postChunked(`${t.stack.url}/api/${user.id}/tasks`, user.token);
    assertProblem(assert, response, 413);
    assert.deepEqual((await t.api.list(user)).body, [], 'nothing was stored');
  });

  test('every invalid field is reported at once', async () => {
    const user = newUser();
    const response = await t.api.create(user, { title: '', description: 7, completed: 'no' });
    const problem = assertProblem(assert, response, 400);
    assert.deepEqual(problem.errors.map((error) => error.field), ['title', 'description', 'completed']);
  });
});

describe('accepted edge cases', () => {
  test('a 200-emoji title is valid (characters, not bytes)', async () => {
    const user = newUser();
    const title = '🦀'.repeat(200);
    const response = await t.api.create(user, { title });
    assert.equal(response.status, 201);
    assert.equal(response.body.title, title);
  });

  test('a 2000-character description is valid', async () => {
    const response = await t.api.create(newUser(), { title: 'long', description: 'é'.repeat(2000) });
    assert.equal(response.status, 201);
  });

  test('SQL injection strings are stored and returned verbatim', async () => {
    const user = newUser();
    const hostile = ["'; DROP TABLE tasks; --", "Robert'); DELETE FROM tasks WHERE ('1'='1", '$1 $2 \\x00 %s {{}}', '" OR ""="'];
    for (const text of hostile) {
      const created = await t.api.create(user, { title: text, description: text });
      assert.equal(created.status, 201);
      assertTaskShape(assert, created.body);
      assert.equal(created.body.title, text);
      const fetched = await t.api.get(user, created.body.id);
      assert.equal(fetched.body.description, text);
    }
    assert.equal((await t.api.list(user)).body.length, hostile.length, 'the table is intact');
  });

  test('a JSON content type with a charset parameter is accepted', async () => {
    const user = newUser();
    const response = await t.api.request('POST', `/api/${user.id}/tasks`, {
      token: user.token, body: '{"title":"charset"}', headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    assert.equal(response.status, 201);
  });
});

describe('rejected update bodies', () => {
  test('PUT validates like create and leaves the task unchanged', async () => {
    const user = newUser();
    const task = await t.api.seed(user, { title: 'original' });
    for (const json of [{ title: '   ' }, { title: 'x'.repeat(201) }, { completed: 1 }, {}, { description: false }]) {
      assertProblem(assert, await t.api.update(user, task.id, json), 400);
    }
    assertProblem(assert, await t.api.request('PUT', `/api/${user.id}/tasks/${task.id}`, {
      token: user.token, body: '[]', headers: JSON_TYPE,
    }), 400);
    assertProblem(assert, await t.api.request('PUT', `/api/${user.id}/tasks/${task.id}`, {
      token: user.token, body: '{"title":"x"}', headers: { 'content-type': 'text/plain' },
    }), 415);
    assert.deepEqual((await t.api.get(user, task.id)).body, task);
  });
});
});
