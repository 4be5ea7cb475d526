// src/entry.mjs on workerd when the wasm fails: a trap answers the request that hit it, and
// every request the instance still owed an answer, with the worker's internal-error problem
// at once, and the next request gets a fresh instance. The wasm is stood in for by
// tests/fixtures/glue-standin.mjs, which fails on demand; the entry module and the runtime,
// whose rule that a promise settles only within its own request this depends on, are real.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sleep } from '../scripts/lib/timing.mjs';
import { startWorkerd } from '../scripts/lib/workerd.mjs';

const ROOT = join(import.meta.dirname, '..');
const INTERNAL_ERROR = {
  type: 'tag:edge-task-api,2026:internal-error',
  title: 'Internal server error',
  status: 500,
  detail: 'Something went wrong on our side; the error has been logged.',
};

describe('the entry module when the wasm fails', () => {
  let worker;
  before(async () => {
    worker = await startWorkerd({
      modules: [
        { name: 'entry.mjs', type: 'esModule', path: join(ROOT, 'src', 'entry.mjs') },
        { name: 'index.js', type: 'esModule', path: join(ROOT, 'tests', 'fixtures', 'glue-standin.mjs') },
      ],
      vars: { ALLOWED_ORIGINS: 'https://app.example.com', CORS_ALLOW_CREDENTIALS: 'true' },
      scheduled: true,
    });
  });
  after(() => worker?.stop());

  const get = (path) => fetch(worker.url + path, { signal: AbortSignal.timeout(5_000) });
  const instance = async () => Number(await (await get('/')).text());

  async function assertInternalError(response) {
    assert.equal(response.status, 500);
    assert.equal(response.headers.get('content-type'), 'application/problem+json');
    assert.equal(response.headers.get('cache-control'), 'no-store');
    assert.deepEqual(await response.json(), INTERNAL_ERROR);
  }

  test('a panic during I/O answers that request and the ones waiting beside it, and the next gets a fresh instance', async () => {
    const first = await instance();
    const [waiting, other, panicked] = await Promise.all([get('/wait'), get('/wait'), get('/panic-later')]);
    for (const response of [waiting, other, panicked]) await assertInternalError(response);
    assert.equal(await instance(), first + 1);
    assert.equal(await instance(), first + 1, 'one reset, not one per request');
  });

  test("a crash's 500 carries the request id, Vary and CORS as every response does, so a browser can read it", async () => {
    const fromApp = await fetch(`${worker.url}/panic`, { headers: { origin: 'https://app.example.com', 'cf-ray': 'ray-123' } });
    await assertInternalError(fromApp);
    assert.equal(fromApp.headers.get('x-request-id'), 'ray-123');
    assert.equal(fromApp.headers.get('vary'), 'Origin');
    assert.equal(fromApp.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(fromApp.headers.get('access-control-allow-credentials'), 'true');
    assert.match(fromApp.headers.get('access-control-expose-headers'), /X-Request-Id/);
    const fromElsewhere = await fetch(`${worker.url}/panic`, { headers: { origin: 'https://evil.example' } });
    await assertInternalError(fromElsewhere);
    assert.equal(fromElsewhere.headers.get('access-control-allow-origin'), null);
    assert.match(fromElsewhere.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
  });

  test('a panic while a scheduled job waits fails that run at once instead of hanging it, and resets the module', { timeout: 10_000 }, async () => {
    const first = await instance();
    assert.deepEqual((await worker.runScheduled('17 * * * *')).outcome, 'ok');
    const run = await worker.runScheduled('panic-later');
    assert.notEqual(run.outcome, 'ok');
    assert.equal(await instance(), first + 1);
  });

  for (const path of ['/panic', '/trap', '/terminated']) {
    test(`a failure on the first call (${path}) answers 500 and resets the module for the next request`, async () => {
      const first = await instance();
      const waiting = get('/wait');
      // Let the waiting request reach the worker before the failure does.
      await sleep(50);
      await assertInternalError(await get(path));
      await assertInternalError(await waiting);
      assert.equal(await instance(), first + 1);
    });
  }
});
