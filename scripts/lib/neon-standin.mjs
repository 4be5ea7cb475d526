// Local stand-in for Neon's "SQL over HTTP" endpoint (`POST /sql`), for `npm start` with
// DB_TRANSPORT=neon-http and for the tests.
//
// It speaks the wire contract of Neon's proxy (neondatabase/neon,
// proxy/src/serverless/{sql_over_http,json,http_util,error}.rs) as far as this worker and
// Neon's own driver (`@neondatabase/serverless`'s `neon()`) use it, so both see the same
// requests succeed or fail in the same way, with the same JSON back. Queries run on a real
// PostgreSQL reached with `pg`. tests/neon-standin.test.mjs checks it with the driver.
//
// Covered:
// - `POST /sql`; `OPTIONS /sql` (CORS preflight); any other route → 400 `"query is not supported"`.
// - `Neon-Connection-String` (postgres:// or postgresql://, user + password required,
//   percent-decoded user/password/db, optional `options` query parameter). One small
//   `pg` pool per distinct connection string; every connection is reset after use with
//   the proxy's own reset script, and thrown away after a failed single query.
// - Bodies `{query, params?, arrayMode?}` and `{queries: [...]}`, parsed like the
//   proxy's untagged serde enum (same error messages for a body that is not JSON or
//   fits neither form).
// - Params as the driver and the worker send them: strings as they are, null → NULL,
//   booleans and numbers → their JSON text, as the proxy's `json_to_pg_text` does.
// - Statements run with the extended protocol (one statement per query, like the proxy).
// - `Neon-Raw-Text-Output: true` (which the driver and the worker always send): responses
//   `{fields, rows, command, rowCount, rowAsArray}` / `{results: [...]}` with every value as
//   PostgreSQL's text and field metadata as PostgreSQL reports it; `Neon-Array-Mode` and
//   per-query `arrayMode`.
// - Batches run in one transaction: `START TRANSACTION` with `Neon-Batch-Isolation-Level`
//   (Serializable | ReadUncommitted | ReadCommitted | RepeatableRead, anything else → 400),
//   `Neon-Batch-Read-Only: true`, `Neon-Batch-Deferrable: true`; COMMIT on success,
//   ROLLBACK and the error on failure; these headers are echoed on batch responses.
// - Errors: JSON `{message, code, detail, hint, position, internalPosition, internalQuery,
//   severity, where, table, column, schema, dataType, constraint, file, line, routine}`
//   (`code`/`severity` are "" and the rest null when there is no Postgres error), with the
//   proxy's statuses: bad header/connection string/body → 400, body over 10 MiB → 413,
//   SQL error → 400, wrong password → 400 "password authentication failed for user '<u>'",
//   unknown database → 400 (3D000), other Postgres refusals at connect → 500, database
//   unreachable → 500 "Couldn't connect to compute node", response over 10 MiB → 507.
//
// Refused with a 400 that says so, rather than answered differently from the proxy: the
// proxy's typed JSON output (requests without `Neon-Raw-Text-Output: true`) and array or
// object params. Neither the driver nor the worker uses them.
//
// Not covered:
// - TLS, HTTP/2, WebSockets (the driver's Pool/Client path), JWT / `Authorization`
//   auth (an Authorization header is refused as the password-only proxy does),
//   the Neon control plane (endpoint ids, waking computes, IP allow lists, rate limits).
// - The real proxy rejects IP-address hosts ("missing hostname"); this one accepts them and
//   connects straight to the host/port in the connection string.
// - Neon's pool semantics: password checked by the proxy before reusing a pooled
//   connection, `Neon-Pool-Opt-In`, pool sizes and idle timeouts, request timeouts,
//   query cancellation when the client disconnects, compute-side settings (TimeZone...).
// - Connection-string query parameters other than `options` (e.g. `sslmode`) are ignored.
// - Exact wording of serde/url error messages (same prefixes, JS wording for the details).

import http from 'node:http';
import pg from 'pg';

const MAX_REQUEST_BYTES = 10 * 1024 * 1024; // proxy default sql_over_http_max_request_size_bytes
const MAX_RESPONSE_BYTES = 10 * 1024 * 1024; // proxy default sql_over_http_max_response_size_bytes

const ISOLATION_LEVELS = {
  Serializable: 'SERIALIZABLE',
  ReadUncommitted: 'READ UNCOMMITTED',
  ReadCommitted: 'READ COMMITTED',
  RepeatableRead: 'REPEATABLE READ',
};

/** What the proxy runs on a connection before it goes back to the pool. */
const RESET_SESSION = `ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL;
  DEALLOCATE ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES;`;

/** Ask `pg` for every value as the server's text. */
const RAW_TYPES = { getTypeParser: () => (text) => text };

class ProxyError extends Error {
  /** @param {number} status @param {string} message @param {object} [db] a pg DatabaseError */
  constructor(status, message, db) {
    super(message);
    this.status = status;
    this.db = db;
  }
}

/** Starts the stand-in on 127.0.0.1 (port 0 = any free port). */
export async function startNeonStandin({ port = 0, log = () => {} } = {}) {
  const pools = new Map(); // connection string → pg.Pool
  const server = http.createServer((req, res) => {
    const started = Date.now();
    route(req, pools, log)
      .catch((err) => {
        if (!(err instanceof ProxyError)) log(`neon-standin: internal error: ${err?.stack ?? err}`);
        const e = err instanceof ProxyError ? err : new ProxyError(500, String(err?.message ?? err));
        return { status: e.status, body: errorBody(e) };
      })
      .then(({ status, body, headers = {} }) => {
        res.writeHead(status, {
          'Content-Type': 'application/json',
          'Access-Control-Allow-Origin': '*',
          ...headers,
        });
        res.end(body);
        log(`neon-standin: ${req.method} ${req.url} → ${status} (${Date.now() - started} ms)`);
      })
      .catch((err) => log(`neon-standin: could not respond: ${err}`));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const actualPort = server.address().port;
  return {
    url: `http://127.0.0.1:${actualPort}/sql`,
    port: actualPort,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      await Promise.all([...pools.values()].map((pool) => pool.end().catch(() => {})));
      pools.clear();
    },
  };
}

async function route(req, pools, log) {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname;
  if (path === '/sql' && req.method === 'OPTIONS') {
    return {
      status: 200,
      body: '',
      headers: {
        Allow: 'OPTIONS, POST',
        'Access-Control-Allow-Headers':
          'Authorization, Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, Neon-Pool-Opt-In, Neon-Batch-Read-Only, Neon-Batch-Isolation-Level',
        'Access-Control-Max-Age': '86400',
      },
    };
  }
  if (path !== '/sql' || req.method !== 'POST') {
    req.resume();
    return { status: 400, body: JSON.stringify('query is not supported') };
  }
  return handleSql(req, pools, log);
}

async function handleSql(req, pools, log) {
  const conn = parseConnectionString(req.headers);
  const options = parseOptionHeaders(req.headers);
  const payload = parsePayload(await readBody(req));

  let pool = pools.get(conn.key);
  if (!pool) {
    pool = new pg.Pool({ ...conn.config, max: 5, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000 });
    pool.on('error', (err) => log(`neon-standin: idle connection error: ${err.message}`));
    pools.set(conn.key, pool);
  }
  let client;
  try {
    client = await pool.connect();
  } catch (err) {
    throw connectError(err, conn.config.user);
  }

  const ctx = { ...options, responseBytes: 0 };
  let healthy = false;
  try {
    let body;
    const headers = {};
    if (payload.queries) {
      body = await runBatch(client, payload.queries, ctx);
      if (options.readOnly) headers['Neon-Batch-Read-Only'] = 'true';
      if (options.deferrable) headers['Neon-Batch-Deferrable'] = 'true';
      if (options.isolationLevel) headers['Neon-Batch-Isolation-Level'] = options.isolationLevel;
    } else {
      body = await runQuery(client, payload.single, ctx);
    }
    healthy = true;
    return { status: 200, body, headers };
  } catch (err) {
    // A failed batch has been rolled back and its connection is still usable.
    healthy = err.rolledBack === true;
    throw err;
  } finally {
    await releaseClient(client, healthy);
  }
}

async function releaseClient(client, healthy) {
  if (healthy) {
    try {
      await client.query(RESET_SESSION);
      client.release();
      return;
    } catch {
      // fall through: the connection is in an unknown state
    }
  }
  client.release(true);
}

async function runBatch(client, queries, ctx) {
  let begin = 'START TRANSACTION';
  const modes = [];
  if (ctx.isolationLevel) modes.push(` ISOLATION LEVEL ${ISOLATION_LEVELS[ctx.isolationLevel]}`);
  if (ctx.readOnly) modes.push(' READ ONLY');
  if (ctx.deferrable) modes.push(' DEFERRABLE');
  begin += modes.join(',');
  try {
    await client.query(begin);
  } catch (err) {
    throw queryError(err);
  }
  const results = [];
  try {
    for (const query of queries) results.push(await runQuery(client, query, ctx));
  } catch (err) {
    try {
      await client.query('ROLLBACK');
      err.rolledBack = true;
    } catch {
      // connection unusable; the caller throws it away
    }
    throw err;
  }
  try {
    await client.query('COMMIT');
  } catch (err) {
    throw queryError(err);
  }
  return `{"results":[${results.join(',')}]}`;
}

/** Runs one statement and returns its JSON text, shaped as the proxy does. */
async function runQuery(client, { query, params, arrayMode }, ctx) {
  let result;
  try {
    result = await client.query({
      text: query,
      values: params,
      rowMode: 'array',
      types: RAW_TYPES,
      queryMode: 'extended', // one statement per request, as with the proxy's extended-protocol query
    });
  } catch (err) {
    throw queryError(err);
  }
  const asArray = arrayMode ?? ctx.arrayMode;
  const fields = result.fields.map(
    (f) =>
      `{"name":${JSON.stringify(f.name)},"dataTypeID":${f.dataTypeID >>> 0},"tableID":${f.tableID >>> 0},` +
      `"columnID":${f.columnID},"dataTypeSize":${f.dataTypeSize},"dataTypeModifier":${f.dataTypeModifier},"format":"text"}`,
  );
  const names = result.fields.map((f) => JSON.stringify(f.name));
  const rows = [];
  for (const row of result.rows) {
    if (ctx.responseBytes > MAX_RESPONSE_BYTES) {
      throw new ProxyError(507, `response is too large (max is ${MAX_RESPONSE_BYTES} bytes)`);
    }
    const values = row.map((text) => (text === null ? 'null' : JSON.stringify(text)));
    const json = asArray ? `[${values.join(',')}]` : `{${values.map((v, i) => `${names[i]}:${v}`).join(',')}}`;
    ctx.responseBytes += json.length + 1;
    rows.push(json);
  }
  // pg's command/rowCount come from the command tag exactly like the proxy's split:
  // first word, and the row count (the 3rd word for INSERT) when there is one.
  const command = JSON.stringify(result.command ?? '');
  const rowCount = Number.isInteger(result.rowCount) ? result.rowCount : 'null';
  return `{"fields":[${fields.join(',')}],"rows":[${rows.join(',')}],"command":${command},"rowCount":${rowCount},"rowAsArray":${asArray}}`;
}

// ---------------------------------------------------------------------------
// Request parsing

function parseConnectionString(headers) {
  const raw = headers['neon-connection-string'];
  if (typeof raw !== 'string' || /[^\t\x20-\x7e]/.test(raw)) {
    throw new ProxyError(400, 'invalid header: neon-connection-string');
  }
  let url;
  try {
    url = new URL(raw);
  } catch {
    const reason = /^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(raw) ? 'invalid URL' : 'relative URL without a base';
    throw new ProxyError(400, `invalid connection string: ${reason}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ProxyError(400, 'incorrect scheme');
  }
  if (!url.pathname.startsWith('/')) throw new ProxyError(400, 'missing database name');
  const database = percentDecode(url.pathname.slice(1).split('/')[0], 'invalid database name');
  const user = percentDecode(url.username, 'invalid username');
  if (!user) throw new ProxyError(400, 'missing username');
  if (headers.authorization !== undefined || !url.password) {
    // the password-only proxy refuses JWTs (`accept_jwts` is false there)
    throw new ProxyError(400, 'missing authentication credentials: required password');
  }
  const password = percentDecode(url.password, 'invalid password', false);
  const config = {
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 5432,
    user,
    password,
    database: database || undefined,
  };
  const options = url.searchParams.get('options');
  if (options) config.options = options;
  return { key: raw, config };
}

/** Percent-decoding like Rust's `urlencoding::decode` (bad escapes are kept as-is). */
function percentDecode(text, what, strict = true) {
  const bytes = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%' && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(text[i]));
    }
  }
  try {
    return new TextDecoder('utf-8', { fatal: strict }).decode(Uint8Array.from(bytes));
  } catch {
    throw new ProxyError(400, `${what}: invalid utf-8 sequence`);
  }
}

function parseOptionHeaders(headers) {
  const level = headers['neon-batch-isolation-level'];
  if (level !== undefined && !Object.hasOwn(ISOLATION_LEVELS, level)) {
    throw new ProxyError(400, 'invalid isolation level');
  }
  if (headers['neon-raw-text-output'] !== 'true') {
    throw new ProxyError(400, "neon-standin: only Neon-Raw-Text-Output: true is supported (the proxy's typed JSON output is not reproduced)");
  }
  // Like the proxy: anything but exactly "true" means false.
  return {
    arrayMode: headers['neon-array-mode'] === 'true',
    isolationLevel: level,
    readOnly: headers['neon-batch-read-only'] === 'true',
    deferrable: headers['neon-batch-deferrable'] === 'true',
  };
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const tooLarge = () => new ProxyError(413, `request is too large (max is ${MAX_REQUEST_BYTES} bytes)`);
    if (Number(req.headers['content-length'] ?? 0) > MAX_REQUEST_BYTES) {
      req.resume();
      return reject(tooLarge());
    }
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) reject(tooLarge());
      else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', (err) => reject(new ProxyError(400, `could not read the HTTP request body: ${err.message}`)));
  });
}

/** A JSON number, kept as written so it can be re-printed the way serde_json does. */
class JsonNumber {
  constructor(source) {
    this.source = source;
  }
}

function parsePayload(buffer) {
  let json;
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(buffer);
    json = JSON.parse(text, (key, value, context) => {
      if (typeof value !== 'number') return value;
      if (!Number.isFinite(value)) throw new Error('number out of range');
      return new JsonNumber(context.source);
    });
  } catch (err) {
    throw new ProxyError(400, `could not parse the HTTP request body: ${err.message}`);
  }
  const single = toQueryData(json);
  if (single) return { single };
  if (isPlainObject(json) && Array.isArray(json.queries)) {
    const queries = json.queries.map(toQueryData);
    if (queries.every(Boolean)) return { queries };
  }
  throw new ProxyError(400, 'could not parse the HTTP request body: data did not match any variant of untagged enum Payload');
}

function isPlainObject(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof JsonNumber);
}

/** `{query, params?, arrayMode?}` → {query, params: (string|null)[], arrayMode?} or null. */
function toQueryData(value) {
  if (!isPlainObject(value) || typeof value.query !== 'string') return null;
  const { params = [], arrayMode = null } = value;
  if (!Array.isArray(params) || (arrayMode !== null && typeof arrayMode !== 'boolean')) return null;
  return { query: value.query, params: params.map(jsonToPgText), arrayMode: arrayMode ?? undefined };
}

// ---------------------------------------------------------------------------
// JSON params → Postgres text (proxy json.rs `json_to_pg_text`, for the scalar params the
// driver and the worker send)

function jsonToPgText(value) {
  if (value === null || typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (value instanceof JsonNumber) return value.source;
  throw new ProxyError(400, 'neon-standin: array and object params are not supported');
}

// ---------------------------------------------------------------------------
// Errors

function queryError(err) {
  if (err instanceof ProxyError) return err;
  // The proxy answers 400 for any failure of a client query, with the DB fields if any.
  return new ProxyError(400, String(err?.message ?? err), err instanceof pg.DatabaseError ? err : undefined);
}

function connectError(err, user) {
  if (err instanceof pg.DatabaseError) {
    // Neon checks the password itself, before reaching Postgres, and says so this way.
    if (err.code === '28P01') return new ProxyError(400, `password authentication failed for user '${user}'`);
    // A wrong database name is the user's fault (400); other refusals are the compute's (500).
    return new ProxyError(err.code === '3D000' ? 400 : 500, err.message, err);
  }
  return new ProxyError(500, "Couldn't connect to compute node");
}

function errorBody({ message, db = {} }) {
  const field = (name) => db[name] ?? null;
  return JSON.stringify({
    message,
    code: db.code ?? '',
    detail: field('detail'),
    hint: field('hint'),
    position: field('position'),
    internalPosition: field('internalPosition'),
    internalQuery: field('internalQuery'),
    severity: db.severity ?? '',
    where: field('where'),
    table: field('table'),
    column: field('column'),
    schema: field('schema'),
    dataType: field('dataType'),
    constraint: field('constraint'),
    file: field('file'),
    line: field('line'),
    routine: field('routine'),
  });
}
