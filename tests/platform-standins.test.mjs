// The two Cloudflare platform parts plain `workerd serve` lacks, as startWorkerd stands in for
// them (scripts/lib/workerd.mjs): the rate limiting binding (scripts/lib/ratelimit-standin.js)
// and the firing of the `scheduled` handler (scripts/lib/scheduled-trigger.js). A small
// JavaScript worker (tests/fixtures/platform-probe.mjs) uses both as the real worker does.
// The fixed-window arithmetic is checked with a clock of the test's own rather than by waiting
// for a window to pass.
//
// Run: node --test tests/platform-standins.test.mjs

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FixedWindows } from '../scripts/lib/ratelimit-standin.js';
import { sleep } from '../scripts/lib/timing.mjs';
import { startWorkerd } from '../scripts/lib/workerd.mjs';

const PROBE = { name: 'probe.mjs', type: 'esModule', path: join(import.meta.dirname, 'fixtures', 'platform-probe.mjs') };

describe('the rate limiting stand-in counts in fixed windows', () => {
  // A moment where a 60 s window (and so a 10 s one) starts.
  const WINDOW_START = Date.UTC(2026, 11, 5, 12, 0, 0);
  let now;
  let windows;
  const take = (key, limit, period = 60) => windows.take(key, limit, period);
  const takeMany = (count, key, limit, period) => Array.from({ length: count }, () => take(key, limit, period));

  before(() => {
    windows = new FixedWindows(() => now);
  });

  test('a key gets `limit` calls in its window, then refusals that do not count, then a fresh budget in the next window', () => {
    now = WINDOW_START;
    assert.deepEqual(takeMany(5, 'spent', 3), [true, true, true, false, false]);
    now = WINDOW_START + 59_999;
    assert.equal(take('spent', 3), false, 'the last millisecond of the window');
    now = WINDOW_START + 60_000;
    assert.deepEqual(takeMany(4, 'spent', 3), [true, true, true, false], 'the refusals were not carried over');
  });

  test('windows are aligned to the clock, not to a key\'s first call', () => {
    now = WINDOW_START + 120_000 + 59_000;
    assert.deepEqual(takeMany(3, 'late', 2), [true, true, false]);
    now = WINDOW_START + 180_000;
    assert.equal(take('late', 2), true, 'one second after the first call, a new window');
  });

  test('a 10 second period has windows of its own', () => {
    now = WINDOW_START + 240_000 + 9_000;
    assert.deepEqual(takeMany(2, 'short', 1, 10), [true, false]);
    now = WINDOW_START + 240_000 + 10_000;
    assert.equal(take('short', 1, 10), true);
  });

  test('keys, and periods of one key, count apart', () => {
    now = WINDOW_START + 300_000;
    assert.deepEqual(takeMany(2, 'a', 1), [true, false]);
    assert.equal(take('b', 1), true, 'another key');
    assert.equal(take('a', 1, 10), true, 'the same key with another period');
  });

  test('a limit of 0 refuses every call', () => {
    now = WINDOW_START + 360_000;
    assert.deepEqual(takeMany(2, 'none', 0), [false, false]);
  });
});

describe('the platform stand-ins on workerd', () => {
  let worker;
  before(async () => {
    worker = await startWorkerd({
      modules: [PROBE],
      rateLimits: {
        LIMITED: { limit: 3, period: 60 },
        OTHER: { limit: 1, period: 60 },
        SHARED_A: { limit: 2, period: 60, namespaceId: '7' },
        SHARED_B: { limit: 2, period: 60, namespaceId: '7' },
      },
      scheduled: true,
    });
  });
  after(() => worker?.stop());

  /** Calls env[binding].limit(options) in the probe; returns { outcome } or { error }. */
  async function limit(binding, options) {
    const response = await fetch(`${worker.url}/limit/${binding}`, { method: 'POST', body: JSON.stringify(options) });
    assert.equal(response.status, 200);
    return response.json();
  }
  const successes = async (count, binding, key) => {
    const outcomes = [];
    for (let i = 0; i < count; i += 1) outcomes.push((await limit(binding, { key })).outcome?.success);
    return outcomes;
  };

  /**
   * Waits out the last two seconds of a 60 s window, so that a test's calls fall in one window
   * of the real clock.
   */
  async function awayFromWindowEdge() {
    const left = 60_000 - (Date.now() % 60_000);
    if (left < 2_000) await sleep(left + 50);
  }

  describe('rate limiting bindings', () => {
    test('limit({ key }) resolves exactly { success }: true `limit` times in a window, then false', async () => {
      await awayFromWindowEdge();
      const key = randomUUID();
      assert.deepEqual(await limit('LIMITED', { key }), { outcome: { success: true } });
      assert.deepEqual(await successes(3, 'LIMITED', key), [true, true, false]);
    });

    test('another key, and another binding, have budgets of their own', async () => {
      await awayFromWindowEdge();
      const key = randomUUID();
      assert.deepEqual(await successes(4, 'LIMITED', key), [true, true, true, false]);
      assert.deepEqual(await successes(1, 'LIMITED', randomUUID()), [true]);
      assert.deepEqual(await successes(2, 'OTHER', key), [true, false]);
    });

    test('bindings that share a namespace share its counters', async () => {
      await awayFromWindowEdge();
      const key = randomUUID();
      assert.deepEqual(await successes(1, 'SHARED_A', key), [true]);
      assert.deepEqual(await successes(2, 'SHARED_B', key), [true, false]);
    });

    test('a missing key is the key ""', async () => {
      await awayFromWindowEdge();
      assert.deepEqual(await successes(1, 'OTHER', ''), [true]);
      assert.deepEqual(await limit('OTHER', {}), { outcome: { success: false } });
    });

    const badOptions = [
      [null, 'invalid rate limit options'],
      [{ key: 42 }, 'invalid key: 42'],
      [{ key: 'k', cost: 2 }, 'bad rate limit options: [cost]'],
      [{ key: 'k', limit: '5' }, 'limit must be a number: 5'],
      [{ key: 'k', period: 30 }, 'unsupported period: 30'],
    ];
    for (const [options, message] of badOptions) {
      test(`limit(${JSON.stringify(options)}) rejects: ${message}`, async () => {
        assert.deepEqual(await limit('LIMITED', options), { error: message });
      });
    }

    test('startWorkerd refuses a period Cloudflare does not offer', async () => {
      await assert.rejects(startWorkerd({ modules: [PROBE], rateLimits: { X: { limit: 1, period: 30 } } }), /period must be 10 or 60/);
    });
  });

  describe('the scheduled trigger', () => {
    const runs = async () => (await fetch(`${worker.url}/scheduled-runs`)).json();

    test('runScheduled runs `scheduled` with the cron given and resolves once its waitUntil work is done', async () => {
      const result = await worker.runScheduled('0 * * * *');
      assert.equal(result.outcome, 'ok');
      const run = (await runs()).at(-1);
      assert.equal(run.cron, '0 * * * *');
      assert.equal(run.waitUntilDone, true);
    });

    test('the scheduled time given is controller.scheduledTime', async () => {
      const scheduledTime = Date.UTC(2026, 11, 5, 3, 0, 0);
      assert.equal((await worker.runScheduled('0 3 * * *', { scheduledTime })).outcome, 'ok');
      assert.equal((await runs()).at(-1).scheduledTime, scheduledTime);
    });

    test('a handler that throws comes back as the outcome "exception"', async () => {
      assert.equal((await worker.runScheduled('fail')).outcome, 'exception');
      assert.equal((await runs()).at(-1).cron, 'fail');
    });

    test('it answers GET /__scheduled?cron= as `wrangler dev --test-scheduled` does, and nothing else', async () => {
      const response = await fetch(`${worker.scheduledUrl}/__scheduled?cron=*/5+*+*+*+*`);
      assert.equal(response.status, 200);
      assert.equal((await response.json()).outcome, 'ok');
      assert.equal((await runs()).at(-1).cron, '*/5 * * * *');
      assert.equal((await fetch(`${worker.scheduledUrl}/`)).status, 404);
      assert.equal((await fetch(`${worker.scheduledUrl}/__scheduled?cron=x`, { method: 'POST' })).status, 405);
    });
  });
});
