// CORS as a browser sees it: allowed and disallowed origins, and preflights.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Api, newUser } from './support/api.mjs';
import { ALLOWED_ORIGIN, forEachTransport } from './support/stack.mjs';

forEachTransport((t) => {

describe('CORS', () => {
  test('an allowed origin is echoed, without credentials, with Vary and exposed headers', async () => {
    const user = newUser();
    const response = await t.api.create(user, { title: 'from the browser' });
    const withOrigin = await t.api.request('GET', `/api/${user.id}/tasks`, { token: user.token, headers: { origin: ALLOWED_ORIGIN } });
    assert.equal(response.status, 201);
    assert.equal(withOrigin.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
    assert.equal(withOrigin.headers.get('access-control-allow-credentials'), null, 'bearer auth needs no credentials mode');
    assert.match(withOrigin.headers.get('vary'), /Origin/);
    const exposed = withOrigin.headers.get('access-control-expose-headers');
    assert.match(exposed, /Location/);
    assert.match(exposed, /X-Request-Id/);
  });

  test('errors carry CORS headers too, so the frontend can read the problem', async () => {
    const response = await t.api.request('GET', '/api/someone/tasks', { headers: { origin: ALLOWED_ORIGIN } });
    assert.equal(response.status, 401);
    assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
  });

  test('a disallowed origin gets no CORS headers', async () => {
    const user = newUser();
    const response = await t.api.request('GET', `/api/${user.id}/tasks`, { token: user.token, headers: { origin: 'https://evil.example' } });
    assert.equal(response.headers.get('access-control-allow-origin'), null);
    assert.equal(response.headers.get('access-control-allow-credentials'), null);
    assert.match(response.headers.get('vary'), /Origin/);
  });

  test('a preflight on each API route answers 204 with methods, headers and max-age', async () => {
    const id = '0190f0a0-0000-7000-8000-000000000000';
    const routes = [
      ['/api/u/tasks', 'POST', 'GET, POST, OPTIONS'],
      [`/api/u/tasks/${id}`, 'PUT', 'GET, PUT, DELETE, OPTIONS'],
      [`/api/u/tasks/${id}/complete`, 'PATCH', 'PATCH, OPTIONS'],
    ];
    for (const [path, method, methods] of routes) {
      const response = await t.api.request('OPTIONS', path, {
        headers: {
          origin: ALLOWED_ORIGIN,
          'access-control-request-method': method,
          'access-control-request-headers': 'authorization, content-type',
        },
      });
      assert.equal(response.status, 204, path);
      assert.equal(response.text, '');
      assert.equal(response.headers.get('access-control-allow-origin'), ALLOWED_ORIGIN);
      assert.equal(response.headers.get('access-control-allow-methods'), methods);
      assert.match(response.headers.get('access-control-allow-headers'), /Authorization/);
      assert.match(response.headers.get('access-control-allow-headers'), /Content-Type/);
      assert.equal(response.headers.get('access-control-max-age'), '86400');
      assert.equal(response.headers.get('access-control-allow-credentials'), null);
    }
  });

  test('a preflight from a disallowed origin gets no CORS headers', async () => {
    const response = await t.api.request('OPTIONS', '/api/u/tasks', {
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(response.headers.get('access-control-allow-origin'), null);
    assert.equal(response.headers.get('access-control-allow-methods'), null);
  });

  test('a preflight on an unknown path is 404', async () => {
    const response = await t.api.request('OPTIONS', '/api/u/other', { headers: { origin: ALLOWED_ORIGIN } });
    assert.equal(response.status, 404);
  });
});
});
