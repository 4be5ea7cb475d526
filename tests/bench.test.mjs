// The benchmark must not rot: its quick mode runs here (no timings asserted), once as it is
// and once with the reference worker and the delayed pass, the database floor's SQL must
// still be the worker's SQL, and the I/O floor worker must still answer.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { workerStatements } from '../scripts/lib/bench/workload.mjs';
import { startNeonStandin } from '../scripts/lib/neon-standin.mjs';
import { findSystemTools } from '../scripts/lib/system.mjs';
import { sleep, until } from '../scripts/lib/timing.mjs';
import { ROOT } from '../scripts/lib/toolchain.mjs';
import { startWorkerd } from '../scripts/lib/workerd.mjs';
import { sharedDatabase } from './support/stack.mjs';

const SCENARIOS = ['ready', 'unauthorized', 'list', 'list-jwks', 'list-session', 'page-first', 'page-deep', 'search', 'tag', 'get', 'update', 'toggle', 'create', 'delete'];
/** Scenarios without a pgbench floor: the 401 path, and statements pgbench has no form of. */
const NO_FLOOR = new Set(['unauthorized', 'list-session', 'page-first', 'page-deep', 'search', 'tag']);
const MODELS = ['pgbouncer', 'direct'];

describe('the benchmark', () => {

test('the database floor runs the statements that the worker code itself builds', () => {
  // Emitted by examples/sql-statements.rs from the bench's request bodies, through sql.rs.
  const statements = workerStatements();
  assert.deepEqual(Object.keys(statements).sort(), ['delete', 'insert', 'list', 'ping', 'select', 'toggle', 'update']);
  for (const [name, { text, params }] of Object.entries(statements)) {
    if (name === 'ping') continue;
    assert.match(text, /user_id = \$1::text|VALUES \(\$1::text/, `${name} is scoped to its user`);
    assert.equal(params[0], 'bench-user');
  }
  assert.match(statements.list.text, /ORDER BY created_at DESC, id DESC LIMIT \$2::bigint$/);
  assert.deepEqual(statements.update.params.slice(2, 6), ['Updated by the benchmark', 'true', 'Edited by the benchmark', 'true'],
    'the PUT body of the bench, as the worker parses it');
});

describe('the I/O floor worker (scripts/lib/bench/floor-worker.mjs)', () => {
  const modules = [
    { name: 'bench/floor-worker.mjs', type: 'esModule', path: join(ROOT, 'scripts', 'lib', 'bench', 'floor-worker.mjs') },
    { name: 'pg-wire.mjs', type: 'esModule', path: join(ROOT, 'scripts', 'lib', 'pg-wire.mjs') },
  ];

  test('answers GET /ready over Neon\'s HTTP endpoint and logs the request as the other workers do', async () => {
    const postgres = await sharedDatabase();
    const standin = await startNeonStandin();
    const lines = [];
    let worker;
    try {
      worker = await startWorkerd({ modules, vars: { DATABASE_URL: postgres.url, NEON_HTTP_ENDPOINT: standin.url }, onLine: (line) => lines.push(line) });
      const response = await fetch(`${worker.url}/ready`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/json');
      assert.deepEqual(await response.json(), { status: 'ok', database: 'ok' });
      // The line may reach us a little after the response does.
      const logged = () => lines.find((line) => line.includes('"route":"/ready"'));
      const line = JSON.parse(await until(logged, { pause: () => sleep(50), attempts: 41 }));
      assert.deepEqual(Object.keys(line), ['level', 'request_id', 'method', 'route', 'status', 'duration_ms', 'user_id']);
      assert.deepEqual([line.level, line.method, line.status, line.user_id], ['info', 'GET', 200, null]);
    } finally {
      await worker?.stop();
      await standin.close();
    }
  });

  test('refuses, saying why, a PostgreSQL that asks for a password (it speaks trust only)', async () => {
    // The shared cluster asks for SCRAM: a startup it could not read would fail otherwise.
    const worker = await startWorkerd({ modules, database: await sharedDatabase() });
    try {
      const response = await fetch(`${worker.url}/ready`);
      assert.equal(response.status, 503);
      assert.equal(response.headers.get('content-type'), 'application/problem+json');
      assert.match((await response.json()).detail, /asked for authentication \(request 10\).*--auth trust/);
    } finally {
      await worker.stop();
    }
  });
});

const benchTools = findSystemTools(['wrk', 'pgbouncer', 'pgbench']);
const SKIP = benchTools.missing.length > 0 ? `the benchmark needs ${benchTools.missing.join(', ')}: ${benchTools.hint}` : false;

describe('npm run bench -- --quick', { skip: SKIP }, () => {
  const out = mkdtempSync(join(tmpdir(), 'edge-task-api-bench-test-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  test('runs every scenario in both connection models without errors and writes the JSON', () => {
    const run = spawnSync(process.execPath, ['scripts/bench.mjs', '--quick', '--no-build', '--label', 'test', '--out', out], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 180_000,
    });
    assert.equal(run.status, 0, `bench exited with ${run.status ?? run.signal}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);

    const files = readdirSync(out).filter((name) => /^bench-.*-test\.json$/.test(name));
    assert.equal(files.length, 1, `one result file, got ${files}`);
    const result = JSON.parse(readFileSync(join(out, files[0]), 'utf8'));
    assert.equal(result.label, 'test');
    assert.equal(result.schema, 2);
    assert.equal(result.reference, null, 'a quick run leaves the reference out unless asked');
    assert.deepEqual(readdirSync(out).filter((name) => name.endsWith('.svg')), [], 'and, with no ratio to draw, the chart');
    assert.deepEqual(result.delayed, [], 'and the delayed pass');
    const number = (value, what) => assert.ok(Number.isFinite(value) && value >= 0, `${what} is ${value}`);
    number(result.wasm.gzipBytes, 'wasm gzip size');
    assert.ok(result.wasm.gzipBytes > 0 && result.wasm.gzipBytes < result.wasm.bytes);

    for (const model of MODELS) {
      const cold = result.coldStart.find((entry) => entry.model === model);
      number(cold?.medianMs, `${model} cold start`);
      for (const scenario of SCENARIOS) {
        const row = result.rows.find((r) => r.model === model && r.scenario === scenario);
        const where = `${model}/${scenario}`;
        assert.ok(row, `${where} ran`);
        const { api } = row;
        for (const field of ['rps', 'p50Ms', 'p99Ms', 'workerCpuMsPerRequest', 'dbCpuMsPerRequest', 'dbRoundTripsPerRequest', 'loadgenCpuPct']) {
          number(api[field], `${where} ${field}`);
        }
        // Counted by the relay both workers go through; the 401 path never reaches the database.
        if (scenario === 'unauthorized') assert.equal(api.dbRoundTripsPerRequest, 0);
        else assert.ok(api.dbRoundTripsPerRequest >= 1, `${where} makes database round trips`);
        assert.ok(api.requests > 0, `${where} sent requests`);
        // The 401 scenario expects 401s: they are its successes, not errors.
        assert.equal(api.errors, 0, `${where} errors: ${JSON.stringify(api.statuses)}`);
        assert.deepEqual(Object.keys(api.statuses), [String(row.expect)]);
        assert.equal(row.expect, scenario === 'unauthorized' ? 401 : scenario === 'create' ? 201 : scenario === 'delete' ? 204 : 200);
        number(row.ratios.runtimeFloor, `${where} API/runtime floor`);
        if (NO_FLOOR.has(scenario)) {
          assert.equal(row.dbFloor, null, `${where} has no database floor`);
          assert.equal(row.trustFloor, null);
        } else {
          // The floor with the worker's own authentication (SCRAM) and the one without.
          for (const [kind, floor] of [['db', row.dbFloor], ['trust', row.trustFloor]]) {
            for (const field of ['tps', 'p50Ms', 'p99Ms', 'clientCpuMsPerTransaction', 'dbCpuMsPerTransaction']) {
              number(floor?.[field], `${where} ${kind} floor ${field}`);
            }
            assert.equal(floor.errors, 0, `${where} ${kind} floor errors`);
          }
          assert.equal(row.dbFloor.auth, 'scram-sha-256');
          assert.equal(row.trustFloor.auth, 'trust');
          number(row.ratios.dbFloor, `${where} API/db floor`);
          number(row.ratios.trustFloor, `${where} API/trust floor`);
        }
      }
    }
    assert.match(run.stdout, /API through PgBouncer/);
    assert.match(run.stdout, /Database floor direct, auth scram-sha-256/);
    assert.match(run.stdout, /Database floor through PgBouncer, trust/);
  });

  test('--reference measures the reference worker beside ours, plain and delayed, and prints them side by side', () => {
    const args = ['scripts/bench.mjs', '--quick', '--no-build', '--reference', '--delay-ms', '5', '--models', 'pgbouncer,neon',
      '--scenarios', 'unauthorized,get,list-jwks', '--label', 'reference', '--out', out, '--markdown'];
    const run = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
    assert.equal(run.status, 0, `bench exited with ${run.status ?? run.signal}:\n${run.stdout.slice(-3000)}\n${run.stderr.slice(-3000)}`);
    const [file] = readdirSync(out).filter((name) => /^bench-.*-reference\.json$/.test(name));
    const result = JSON.parse(readFileSync(join(out, file), 'utf8'));
    assert.match(readFileSync(join(out, file.replace(/\.json$/, '.svg')), 'utf8'), /<svg [^>]*>[\s\S]*data-scenario="get"/, 'the chart of its ratios, beside it');
    const number = (value, what) => assert.ok(Number.isFinite(value) && value >= 0, `${what} is ${value}`);

    for (const worker of ['ours', 'reference']) {
      number(result.upload[worker].gzipKib, `${worker} upload gzip`);
      assert.ok(result.upload[worker].gzipKib < result.upload[worker].kib);
    }
    for (const model of ['pgbouncer', 'neon']) {
      number(result.reference.coldStart.find((entry) => entry.model === model)?.medianMs, `${model} reference cold start`);
      const theirs = result.reference.rows.filter((row) => row.model === model);
      assert.deepEqual(theirs.map((row) => row.scenario), ['unauthorized', 'get'], 'the reference skips what it does not serve');
      for (const row of theirs) {
        assert.equal(row.api.errors, 0, `${model}/${row.scenario} reference errors: ${JSON.stringify(row.api.statuses)}`);
        number(row.api.workerCpuMsPerRequest, `${model}/${row.scenario} reference CPU`);
        // Round trips are counted on PostgreSQL's protocol only, not over Neon's HTTP.
        if (model === 'neon') assert.equal(row.api.dbRoundTripsPerRequest, null);
        else number(row.api.dbRoundTripsPerRequest, `${model}/${row.scenario} reference round trips`);
      }
      for (const [worker, scenarios] of [['ours', ['unauthorized', 'list-jwks', 'get']], ['reference', ['unauthorized', 'get']]]) {
        const delayed = result.delayed.filter((row) => row.model === model && row.worker === worker);
        assert.deepEqual(delayed.map((row) => row.scenario), scenarios, `${model}: ${worker}'s delayed pass`);
        for (const row of delayed) {
          assert.deepEqual([row.concurrency, row.delayMs, row.api.errors], [16, 5, 0]);
          number(row.api.p50Ms, `${model}/${row.scenario} ${worker} p50 with delay`);
        }
      }
    }
    assert.match(run.stdout, /\*\*Ours against the reference worker through PgBouncer/);
    assert.match(run.stdout, /\| scenario \| c \| req\/s ours \| req\/s ref \| CPU ms\/req ours/);
    assert.match(run.stdout, /\| upload gzip, KiB \(wrangler deploy --dry-run\) \|/);
  });
});

});
