// The contract itself: openapi.json is a coherent OpenAPI 3.1 document, the worker serves
// this file (compacted) at GET /openapi.json, the response validator behind Api.request is not
// vacuous, and the committed TypeScript types are generated from this document.
//
// (Every other suite validates each response it gets against the document; see
// support/openapi.mjs. Schemathesis fuzzes the worker against it in schemathesis.test.mjs.)

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import { bin, ROOT } from '../scripts/lib/toolchain.mjs';
import { Api, newUser } from './support/api.mjs';
import { deref, OPENAPI_PATH, openapi, problemsWith, resolveRef, schemaValidator } from './support/openapi.mjs';
import { sharedStack, TEST_SECRET } from './support/stack.mjs';

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const operations = Object.entries(openapi.paths).flatMap(([path, item]) =>
  METHODS.filter((method) => item[method]).map((method) => ({ path, method, item, operation: item[method] })));

/** Every `$ref` in the document, with where it is. */
function refs(node, where = '#') {
  if (Array.isArray(node)) return node.flatMap((value, index) => refs(value, `${where}/${index}`));
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([key, value]) =>
    key === '$ref' ? [[value, where]] : refs(value, `${where}/${key}`));
}

describe('openapi.json', () => {
  test('is OpenAPI 3.1 with every $ref resolving inside the document', () => {
    assert.match(openapi.openapi, /^3\.1\.\d+$/);
    for (const [ref, where] of refs(openapi)) {
      assert.match(ref, /^#\/components\//, `${where}: only local component refs`);
      assert.ok(resolveRef(ref) !== undefined, `${where}: ${ref} does not resolve`);
    }
  });

  test('documents every route of the worker, each with a unique operationId', () => {
    assert.deepEqual(Object.keys(openapi.paths).sort(), [
      '/api/{user_id}/changes', '/api/{user_id}/tasks', '/api/{user_id}/tasks/{id}', '/api/{user_id}/tasks/{id}/complete', '/health', '/openapi.json', '/ready',
    ]);
    const methods = Object.fromEntries(Object.entries(openapi.paths).map(([path, item]) =>
      [path, METHODS.filter((method) => item[method]).join(',')]));
    assert.deepEqual(methods, {
      '/health': 'get,options',
      '/ready': 'get,options',
      '/openapi.json': 'get,options',
      '/api/{user_id}/tasks': 'get,post,options',
      '/api/{user_id}/changes': 'get,options',
      '/api/{user_id}/tasks/{id}': 'get,put,delete,options',
      '/api/{user_id}/tasks/{id}/complete': 'options,patch',
    });
    const ids = operations.map(({ operation }) => operation.operationId);
    assert.ok(ids.every(Boolean), 'every operation has an operationId');
    assert.equal(new Set(ids).size, ids.length, 'operationIds are unique');
  });

  test('declares each path parameter of each operation exactly once', () => {
    for (const { path, method, item, operation } of operations) {
      const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]).sort();
      const declared = new Map();
      for (const parameter of [...(item.parameters ?? []), ...(operation.parameters ?? [])].map(deref)) {
        if (parameter.in === 'path') declared.set(parameter.name, parameter);
      }
      assert.deepEqual([...declared.keys()].sort(), inTemplate, `${method} ${path}`);
      for (const parameter of declared.values()) assert.equal(parameter.required, true, `${method} ${path} ${parameter.name}`);
    }
  });

  test('authenticates the API routes with the bearer scheme (Better Auth credentials or HS256), and nothing else', () => {
    const scheme = openapi.components.securitySchemes.bearerAuth;
    assert.deepEqual(scheme, { ...scheme, type: 'http', scheme: 'bearer' });
    for (const kind of [/JWT-plugin token/, /session token/, /HS256/]) assert.match(scheme.description, kind);
    for (const { path, method, operation } of operations) {
      const open = method === 'options' || !path.startsWith('/api/');
      assert.deepEqual(operation.security ?? openapi.security, open ? [] : [{ bearerAuth: [] }], `${method} ${path}`);
      if (!open) {
        assert.ok(operation.responses['401'] && operation.responses['403'], `${method} ${path}: 401 and 403`);
      }
    }
  });

  test('gives every response X-Request-Id, and every error a problem+json body', () => {
    const responses = [
      ...operations.flatMap(({ path, method, operation }) =>
        Object.entries(operation.responses).map(([status, response]) => [`${method} ${path} ${status}`, status, deref(response)])),
      ['unknown path', '404', deref(openapi.components.responses.NotFound)],
      ['undocumented method', '405', deref(openapi.components.responses.MethodNotAllowed)],
    ];
    for (const [label, status, response] of responses) {
      assert.equal(deref(response.headers?.['X-Request-Id'])?.required, true, `${label}: X-Request-Id`);
      if (Number(status) >= 400) {
        assert.deepEqual(Object.keys(response.content ?? {}), ['application/problem+json'], label);
      }
    }
    const required = { 201: 'Location', 401: 'WWW-Authenticate', 405: 'Allow', 503: 'Retry-After' };
    for (const [label, status, response] of responses) {
      if (required[status]) assert.equal(deref(response.headers?.[required[status]])?.required, true, `${label}: ${required[status]}`);
    }
  });

  test("the document's examples match their own schemas", () => {
    const schemas = openapi.components.schemas;
    let checked = 0;
    for (const [name, schema] of Object.entries(schemas)) {
      for (const example of schema.examples ?? []) {
        const validate = schemaValidator({ $ref: `#/components/schemas/${name}` });
        assert.ok(validate(example), `${name} example ${JSON.stringify(example)}: ${JSON.stringify(validate.errors)}`);
        checked += 1;
      }
    }
    assert.ok(checked >= 5, `${checked} examples checked`);
  });

  test('request schemas accept what the worker accepts and refuse what it refuses', () => {
    const create = schemaValidator({ $ref: '#/components/schemas/TaskCreate' });
    const update = schemaValidator({ $ref: '#/components/schemas/TaskUpdate' });
    for (const body of [{ title: '  trimmed  ' }, { title: '🦀'.repeat(200) }, { title: ` ${'a'.repeat(200)}\n` },
      { title: 'x', description: null, completed: true, ignored: 1 }, { title: 'a\u00a0b' }]) {
      assert.ok(create(body), `create accepts ${JSON.stringify(body)}`);
    }
    for (const body of [{}, { title: '' }, { title: ' \t\n' }, { title: '\u3000\u0085' }, { title: 'a'.repeat(201) },
      { title: 'a\u0000b' }, { title: 'x', description: 'd'.repeat(2001) }, { title: 'x', completed: 'yes' }, []]) {
      assert.ok(!create(body), `create refuses ${JSON.stringify(body)}`);
    }
    for (const body of [{ title: 'x' }, { description: null }, { completed: false }, { completed: true, colour: 'red' }]) {
      assert.ok(update(body), `update accepts ${JSON.stringify(body)}`);
    }
    for (const body of [{}, { colour: 'red' }, { title: null }, { completed: 1 }]) {
      assert.ok(!update(body), `update refuses ${JSON.stringify(body)}`);
    }
  });
});

describe('the response validator (support/openapi.mjs)', () => {
  const task = {
    id: '0190f0a0-5c2e-7d1a-9b3c-4f5e6a7b8c9d', user_id: 'u', title: 't', description: null, completed: false,
    created_at: '2026-11-27T16:00:00.123456Z', updated_at: '2026-11-27T16:00:00.123456Z',
    due_date: null, priority: 'none', tags: [], completed_at: null,
  };
  const json = { 'content-type': 'application/json', 'x-request-id': 'r', 'cache-control': 'no-store' };
  const problem = (status, slug, extra = {}) => JSON.stringify({
    type: `tag:edge-task-api,2026:${slug}`, title: 'T', status, detail: 'A sentence.', ...extra,
  });
  const problemHeaders = { ...json, 'content-type': 'application/problem+json' };
  const response = (status, headers, text) => ({ status, headers: new Headers(headers), text });

  test('accepts described responses', () => {
    const described = [
      ['GET', '/api/u/tasks', response(200, { ...json, etag: '"l.abc"' }, JSON.stringify([task]))],
      ['POST', '/api/u/tasks', response(201, { ...json, location: `/api/u/tasks/${task.id}`, etag: '"1"' }, JSON.stringify(task))],
      ['DELETE', `/api/u/tasks/${task.id}`, response(204, json, '')],
      ['GET', '/api/u/tasks?status=done', response(400, problemHeaders, problem(400, 'validation-error', { errors: [{ field: 'status', message: 'm' }] }))],
      ['GET', '/nowhere', response(404, problemHeaders, problem(404, 'not-found'))],
      ['PUT', '/api/u/tasks', response(405, { ...problemHeaders, allow: 'GET, POST, OPTIONS' }, problem(405, 'method-not-allowed'))],
    ];
    for (const [method, path, described_] of described) {
      assert.deepEqual(problemsWith(method, path, described_), [], `${method} ${path}`);
    }
  });

  test('refuses responses the document does not describe', () => {
    const undescribed = [
      ['an undocumented status', 'GET', '/api/u/tasks', response(418, json, '[]'), /status 418 is not documented/],
      ['an extra field', 'GET', `/api/u/tasks/${task.id}`, response(200, json, JSON.stringify({ ...task, extra: 1 })), /additional properties/],
      ['a wrong type', 'GET', `/api/u/tasks/${task.id}`, response(200, json, JSON.stringify({ ...task, completed: 'no' })), /completed must be boolean/],
      ['a timestamp of another form', 'GET', `/api/u/tasks/${task.id}`, response(200, json, JSON.stringify({ ...task, created_at: '2026-11-27 16:00' })), /created_at/],
      ['a missing Location', 'POST', '/api/u/tasks', response(201, json, JSON.stringify(task)), /Location is missing/],
      ['a missing X-Request-Id', 'GET', '/api/u/tasks', response(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }, '[]'), /X-Request-Id is missing/],
      ['a problem as plain JSON', 'GET', '/api/u/tasks', response(401, { ...json, 'www-authenticate': 'Bearer' }, problem(401, 'invalid-token')), /Content-Type application\/json/],
      ['a 401 without its challenge', 'GET', '/api/u/tasks', response(401, problemHeaders, problem(401, 'invalid-token')), /WWW-Authenticate is missing/],
      ['a problem of the wrong type', 'GET', '/api/u/tasks', response(403, problemHeaders, problem(403, 'not-found')), /type/],
      ['field errors outside validation', 'GET', `/api/u/tasks/${task.id}`, response(404, problemHeaders, problem(404, 'not-found', { errors: [{ field: 'x', message: 'y' }] })), /errors/],
      ['a body on 204', 'DELETE', `/api/u/tasks/${task.id}`, response(204, json, '{}'), /without a body/],
      ['a 200 on an unknown path', 'GET', '/nowhere', response(200, json, '{}'), /must be 404/],
      ['a wrong Allow', 'PATCH', '/health', response(405, { ...problemHeaders, allow: 'GET' }, problem(405, 'method-not-allowed')), /Allow/],
      ['an undocumented method served', 'QUERY', '/health', response(200, json, '{"status":"ok","database":"ok"}'), /must be 405/],
    ];
    for (const [name, method, path, undescribed_, expected] of undescribed) {
      const problems = problemsWith(method, path, undescribed_);
      assert.ok(problems.length > 0, `${name}: accepted`);
      assert.match(problems.join('\n'), expected, name);
    }
  });
});

describe('against the running worker', () => {
  let stack;
  before(async () => {
    stack = await sharedStack();
  });

  test('serves the repository file, compacted, without auth (needs a worker built from it)', async () => {
    const response = await new Api(stack.url).request('GET', '/openapi.json');
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type'), /^application\/json/);
    const file = readFileSync(OPENAPI_PATH, 'utf8');
    assert.deepEqual(JSON.parse(response.text), JSON.parse(file), 'the same document; rebuild the worker after editing openapi.json');
    // Only the white space between tokens goes: every string is kept as written.
    const stringsOf = (text) => text.match(/"(?:[^"\\]|\\.)*"/g);
    assert.deepEqual(stringsOf(response.text), stringsOf(file));
    assert.ok(!/\n/.test(response.text) && response.text.length < file.length * 0.8, 'compacted');
  });

  test("the Title pattern draws the worker's line exactly: Unicode white space trimmed, then 1-200 characters, no NUL", async () => {
    const api = new Api(stack.url);
    const user = newUser();
    const create = schemaValidator({ $ref: '#/components/schemas/TaskCreate' });
    // Rust's White_Space characters, and look-alikes that are not (JS or Python call some of them space).
    const space = ['\t', '\n', '\v', '\f', '\r', ' ', '\u0085', '\u00a0', '\u1680', '\u2000', '\u200a', '\u2028', '\u2029', '\u202f', '\u205f', '\u3000'];
    const notSpace = ['\ufeff', '\u200b', '\u180e', '\u001c', '\u001f', '\u0000', 'a'];
    const titles = [
      ...space, ...notSpace, ...space.map((s) => `${s}a${s}`),
      `${'é'.repeat(200)}`, `${'é'.repeat(201)}`, ` ${'b'.repeat(200)} `, ` ${'b'.repeat(199)}\u0000`,
    ];
    for (const title of titles) {
      const response = await api.create(user, { title });
      assert.equal(create({ title }), response.status === 201, `${JSON.stringify(title)}: schema says ${create({ title })}, worker ${response.status}`);
    }
  });

  test("the README's Next.js recipe mints tokens the worker accepts (jose SignJWT, HS256)", async () => {
    const userId = `user_readme_${Date.now()}`;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(userId)
      .setIssuedAt()
      .setExpirationTime('15m')
      .sign(new TextEncoder().encode(TEST_SECRET));
    const api = new Api(stack.url);
    const created = await api.request('POST', `/api/${encodeURIComponent(userId)}/tasks`, { token, json: { title: 'Buy milk' } });
    assert.equal(created.status, 201);
    const listed = await api.request('GET', `/api/${encodeURIComponent(userId)}/tasks?status=pending&sort=created`, { token });
    assert.deepEqual(listed.body, [created.body]);
  });
});

describe('types/api.d.ts', () => {
  test('is generated from openapi.json (`npm run types` regenerates it)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'edge-task-api-types-'));
    try {
      const output = join(dir, 'api.d.ts');
      const result = spawnSync(bin('openapi-typescript'), [OPENAPI_PATH, '--output', output], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
      assert.equal(readFileSync(join(ROOT, 'types', 'api.d.ts'), 'utf8'), readFileSync(output, 'utf8'),
        'types/api.d.ts is stale: run `npm run types` and commit the result');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('type-checks with TypeScript --strict', () => {
    const result = spawnSync(bin('tsc'), ['--noEmit', '--strict', join(ROOT, 'types', 'api.d.ts')], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
  });
});
