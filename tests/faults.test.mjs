// Nothing acknowledged is lost, and nothing hangs. Sustained mixed writes from several users
// (creates, updates, toggles, deletes) while the database goes away and comes back; for
// Hyperdrive the PostgreSQL server is stopped, for Neon's HTTP endpoint the stand-in in front
// of it.
// Afterwards every acknowledged write must read back exactly as acknowledged, every write
// that got a 503 must be applied fully or not at all, no response may be another 5xx or take
// longer than the storage timeout, and the first success must come within a second of the
// database accepting connections again. The run's figures are printed (docs/testing.md, "Faults").
// And a database that never answers gets its requests a 503 at the storage deadline.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { migrate } from '../scripts/lib/migrations.mjs';
import { startNeonStandin } from '../scripts/lib/neon-standin.mjs';
import { startPostgres } from '../scripts/lib/postgres.mjs';
import { sleep } from '../scripts/lib/timing.mjs';
import { startWorkerd } from '../scripts/lib/workerd.mjs';
import { newUser } from './support/api.mjs';
import { TEST_SECRET } from './support/fixtures.mjs';

const CLIENTS = 6;
const OUTAGE_STARTS_MS = 1_500;
const OUTAGE_MS = 2_000;
const RUN_MS = 6_000;
/** The worker's storage timeout is 10 s: no response may take longer (plus a margin). */
const MAX_RESPONSE_MS = 11_000;

/** One request, timed; never throws (a network failure is status 0). */
async function call(base, user, method, path, json) {
  const started = performance.now();
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${user.token}`, ...(json ? { 'content-type': 'application/json' } : {}) },
      body: json ? JSON.stringify(json) : undefined,
      signal: AbortSignal.timeout(MAX_RESPONSE_MS + 2_000),
    });
    const text = await response.text();
    return {
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
      body: text && response.headers.get('content-type')?.includes('json') ? JSON.parse(text) : undefined,
      ms: performance.now() - started,
      at: performance.now(),
    };
  } catch (error) {
    return { status: 0, error: error.message, ms: performance.now() - started, at: performance.now() };
  }
}

/**
 * One user's writes, one at a time, until `until`. It remembers what each task must be now:
 * `acked` (the last acknowledged state, or 'deleted'), and for a task whose last write got a
 * 503, `maybe` (the state that write would have made) — after which the task is left alone.
 */
async function client(base, until, log) {
  const user = newUser();
  const tasks = new Map(); // id → { acked, maybe?, uncertain }
  const lostCreates = []; // titles of creates that got a 503: created fully or not at all
  let n = 0;
  while (performance.now() < until) {
    n += 1;
    const settled = [...tasks.entries()].filter(([, task]) => !task.uncertain && task.acked !== 'deleted');
    const pick = settled[n % Math.max(settled.length, 1)];
    const op = !pick || n % 5 === 0 ? 'create' : ['update', 'toggle', 'delete'][n % 3];
    if (op === 'create') {
      const title = `t-${randomUUID()}`;
      const response = await call(base, user, 'POST', `/api/${user.id}/tasks`, { title, tags: ['load'] });
      log.push({ op, ...response });
      if (response.status === 201) tasks.set(response.body.id, { acked: response.body });
      else if (response.status === 503) lostCreates.push(title);
      continue;
    }
    const [id, task] = pick;
    const path = `/api/${user.id}/tasks/${id}`;
    const response = op === 'update'
      ? await call(base, user, 'PUT', path, { title: `u-${n}`, priority: 'high' })
      : op === 'toggle'
        ? await call(base, user, 'PATCH', `${path}/complete`)
        : await call(base, user, 'DELETE', path);
    log.push({ op, ...response });
    if ([200, 204].includes(response.status)) {
      task.acked = op === 'delete' ? 'deleted' : response.body;
    } else if (response.status === 503) {
      task.uncertain = true;
      task.maybe = op === 'delete' ? 'deleted'
        : op === 'update' ? { ...task.acked, title: `u-${n}`, priority: 'high' }
          : { ...task.acked, completed: !task.acked.completed };
    }
  }
  return { user, tasks, lostCreates };
}

/** The parts of a task a write decides (timestamps and versions move with any write). */
const content = (task) => task === 'deleted' ? 'deleted'
  : JSON.stringify([task.id, task.title, task.description, task.completed, task.due_date, task.priority, task.tags]);

async function verify(base, clients) {
  let lost = 0;
  const problems = [];
  for (const { user, tasks, lostCreates } of clients) {
    for (const [id, task] of tasks) {
      const response = await call(base, user, 'GET', `/api/${user.id}/tasks/${id}`);
      const now = response.status === 404 ? 'deleted' : response.body;
      assert.ok([200, 404].includes(response.status), `reading back: ${response.status}`);
      if (!task.uncertain) {
        if (task.acked === 'deleted' ? now !== 'deleted' : JSON.stringify(now) !== JSON.stringify(task.acked)) {
          lost += 1;
          problems.push(`acknowledged ${content(task.acked)}, now ${content(now)}`);
        }
      } else if (![content(task.acked), content(task.maybe)].includes(content(now))) {
        problems.push(`a 503'd write half-applied: ${content(task.acked)} / ${content(task.maybe)} → ${content(now)}`);
      }
    }
    const listed = (await call(base, user, 'GET', `/api/${user.id}/tasks`)).body;
    for (const title of lostCreates) {
      const matches = listed.filter((task) => task.title === title);
      assert.ok(matches.length <= 1, `a 503'd create applied at most once: ${title}`);
      if (matches[0]) assert.deepEqual(matches[0].tags, ['load'], 'and fully');
    }
  }
  return { lost, problems };
}

for (const transport of ['hyperdrive', 'neon-http']) {
  describe(`the database failing under load, over ${transport}`, { timeout: 120_000 }, () => {
    let postgres;
    let standin;
    let worker;

    before(async () => {
      postgres = await startPostgres();
      await migrate(postgres.url, { quiet: true });
      const vars = { BETTER_AUTH_SECRET: TEST_SECRET };
      if (transport === 'neon-http') {
        standin = await startNeonStandin();
        worker = await startWorkerd({ vars: { ...vars, DATABASE_URL: postgres.url, NEON_HTTP_ENDPOINT: standin.url } });
      } else {
        worker = await startWorkerd({ database: postgres, vars });
      }
    });
    after(async () => {
      await worker?.stop();
      await standin?.close();
      await postgres?.stop();
    });

    test('every acknowledged write survives, 503s are all-or-nothing, recovery is quick', async (t) => {
      const log = [];
      const start = performance.now();
      const until = start + RUN_MS;
      const running = Array.from({ length: CLIENTS }, () => client(worker.url, until, log));

      await sleep(OUTAGE_STARTS_MS);
      const standinPort = standin?.port;
      if (transport === 'neon-http') await standin.close();
      else await postgres.stop({ remove: false });
      await sleep(OUTAGE_MS);
      if (transport === 'neon-http') standin = await startNeonStandin({ port: standinPort });
      else await postgres.restart();
      const back = performance.now();

      const clients = await Promise.all(running);
      const { lost, problems } = await verify(worker.url, clients);

      const statuses = log.map((entry) => entry.status);
      const ok = statuses.filter((status) => status >= 200 && status < 300).length;
      const unavailable = log.filter((entry) => entry.status === 503);
      const other = log.filter((entry) => !(entry.status >= 200 && entry.status < 300) && entry.status !== 503);
      const firstSuccess = log.filter((entry) => entry.status < 300 && entry.status >= 200 && entry.at > back).map((entry) => entry.at).sort((a, b) => a - b)[0];
      const recoveryMs = firstSuccess === undefined ? Infinity : Math.max(0, firstSuccess - back);
      const slowest = Math.max(...log.map((entry) => entry.ms));
      const figures = `| ${transport} | ${log.length} | ${ok} | ${unavailable.length} | ${other.length} | ${lost} | ${recoveryMs.toFixed(0)} ms | ${slowest.toFixed(0)} ms |`;
      t.diagnostic(`| transport | requests | 2xx | 503 | other | lost writes | recovery | slowest |`);
      t.diagnostic(figures);
      console.log(figures);

      assert.ok(unavailable.length > 0, 'the outage was felt (503s happened)');
      assert.deepEqual(other.map((entry) => `${entry.op} ${entry.status} ${entry.error ?? ''}`), [], 'only 2xx and 503');
      assert.ok(unavailable.every((entry) => entry.retryAfter === '5'), 'every 503 says when to retry');
      assert.ok(slowest < MAX_RESPONSE_MS, `no response hangs past the storage timeout (slowest ${slowest} ms)`);
      assert.deepEqual(problems, []);
      assert.equal(lost, 0, 'no acknowledged write lost');
      assert.ok(recoveryMs < 1_000, `the first success came ${recoveryMs} ms after the database was back`);
    });
  });
}

// A database that accepts connections and never answers (a hung pooler, a black-holed
// route): the storage deadline answers for it, with a 503 and the cause in the log.
describe('a database that never answers', { timeout: 60_000 }, () => {
  test('gets a 503 once the storage deadline passes, over both transports', async () => {
    const sockets = new Set();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const hanging = createHttpServer(() => {});
    await new Promise((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const workers = [
      await startWorkerd({
        database: { port: silent.address().port, user: 'postgres', password: 'unused', database: 'tasks' },
        vars: { BETTER_AUTH_SECRET: TEST_SECRET },
      }),
      await startWorkerd({
        vars: {
          BETTER_AUTH_SECRET: TEST_SECRET,
          DATABASE_URL: 'postgres://postgres:unused@127.0.0.1/tasks',
          NEON_HTTP_ENDPOINT: `http://127.0.0.1:${hanging.address().port}/sql`,
        },
      }),
    ];
    try {
      const answers = await Promise.all(workers.map((worker) => call(worker.url, { token: '' }, 'GET', '/ready')));
      for (const [index, answer] of answers.entries()) {
        assert.equal(answer.status, 503, `worker ${index}: ${answer.error ?? ''}`);
        assert.equal(answer.retryAfter, '5');
        assert.ok(answer.ms < MAX_RESPONSE_MS, `answered within the deadline and its margin (${answer.ms} ms)`);
      }
      assert.match(workers[0].logs(), /the database did not answer within 10 s/);
      assert.match(workers[1].logs(), /fetching the Neon endpoint/);
    } finally {
      for (const worker of workers) await worker.stop();
      for (const socket of sockets) socket.destroy();
      silent.close();
      hanging.closeAllConnections();
      hanging.close();
    }
  });
});
