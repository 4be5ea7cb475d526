// The benchmark's I/O floor: the least a worker can do to answer GET /ready with the same
// database round trip as ours, so that the report can tell how much of a worker's CPU per
// request is the runtime's own I/O (the socket or the fetch, the request and the response)
// and how much is the worker's code. Plain JavaScript, no dependencies but the PostgreSQL
// message encoders beside it (../pg-wire.mjs, loaded as a second module), run by workerd as it
// is (no bundling).
//
//   GET /ready   with HYPERDRIVE: one connection per request, one flight for the startup and
//                the ping statement (trust authentication only), then Terminate;
//                with DATABASE_URL and NEON_HTTP_ENDPOINT: one fetch to Neon's HTTP endpoint.
//                200 {"status":"ok","database":"ok"}; 503 problem+json when that fails.
//   anything else  404
//
// Every request logs one JSON line, as the other workers do: the bench counts requests by it.

import { connect } from 'cloudflare:sockets';
import { concat, cString, int16, int32, message, startupMessage, SYNC, TERMINATE } from '../pg-wire.mjs';

/** Our worker's readiness statement (src/store/sql.rs). */
const PING = 'SELECT clock_timestamp()::text';
const READY = '{"status":"ok","database":"ok"}';
const decoder = new TextDecoder();

export default {
  async fetch(request, env) {
    const started = Date.now();
    const ready = request.method === 'GET' && new URL(request.url).pathname === '/ready';
    let response;
    if (!ready) {
      response = problem(404, 'Not Found', 'the I/O floor serves GET /ready only');
    } else {
      try {
        await (env.HYPERDRIVE ? pingPostgres(env.HYPERDRIVE.connectionString) : pingNeon(env));
        response = new Response(READY, { headers: { 'Content-Type': 'application/json' } });
      } catch (error) {
        response = problem(503, 'Service Unavailable', error.message);
      }
    }
    console.log(
      JSON.stringify({
        level: response.status >= 500 ? 'error' : response.status >= 400 ? 'warn' : 'info',
        request_id: request.headers.get('cf-ray') ?? crypto.randomUUID(),
        method: request.method,
        route: ready ? '/ready' : null,
        status: response.status,
        duration_ms: Date.now() - started,
        user_id: null,
      }),
    );
    return response;
  },
};

function problem(status, title, detail) {
  return new Response(JSON.stringify({ type: 'about:blank', title, status, detail }), {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
  });
}

/** One POST to Neon's HTTP endpoint, as our worker sends the ping; the answer is read whole. */
async function pingNeon(env) {
  const response = await fetch(env.NEON_HTTP_ENDPOINT, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Neon-Connection-String': env.DATABASE_URL,
      'Neon-Raw-Text-Output': 'true',
      'Neon-Array-Mode': 'true',
    },
    body: JSON.stringify({ query: PING, params: [] }),
    redirect: 'manual',
  });
  const body = await response.text();
  if (response.status !== 200) throw new Error(`the Neon endpoint answered ${response.status}: ${body.slice(0, 200)}`);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL's frontend protocol, as little of it as the ping needs.

/**
 * The startup (protocol 3.0) and the ping's Parse, Bind, Execute and Sync, in one buffer: with
 * trust authentication nothing has to be waited for in between, so it is one flight.
 */
function startupAndPing({ user, database }) {
  return concat([
    startupMessage({ user, database, client_encoding: 'UTF8' }),
    message('P', cString(''), cString(PING), int16(0)), // unnamed statement, no parameter types
    message('B', cString(''), cString(''), int16(0), int16(0), int16(0)), // unnamed portal; no parameter formats, no parameters; every column as text
    message('E', cString(''), int32(0)), // no row limit
    SYNC,
  ]);
}

/** The server's ErrorResponse fields S, C and M as one line. */
function serverError(body) {
  const fields = {};
  for (let at = 0; at < body.length && body[at] !== 0; ) {
    const end = body.indexOf(0, at + 1);
    fields[String.fromCharCode(body[at])] = decoder.decode(body.subarray(at + 1, end));
    at = end + 1;
  }
  return `${fields.S ?? 'ERROR'} ${fields.C ?? '?'}: ${fields.M ?? 'no message'}`;
}

/**
 * One connection through the Hyperdrive binding: startup and ping in one write, every answer
 * read until the second ReadyForQuery (the first ends the startup, the second the ping), then
 * Terminate and the end of the stream. Throws on anything but AuthenticationOk or on an error.
 */
async function pingPostgres(connectionString) {
  const url = new URL(connectionString);
  const login = { user: decodeURIComponent(url.username), database: decodeURIComponent(url.pathname.slice(1)) };
  const socket = connect({ hostname: url.hostname, port: Number(url.port || 5432) });
  const writer = socket.writable.getWriter();
  const reader = socket.readable.getReader();
  try {
    await writer.write(startupAndPing(login));
    let pending = new Uint8Array(0);
    let authenticated = false;
    let failure;
    for (let readyForQuery = 0; readyForQuery < 2; ) {
      const { value, done } = await reader.read();
      if (done) throw new Error(failure ?? 'the database closed the connection');
      pending = pending.length === 0 ? value : concat([pending, value]);
      let at = 0;
      while (pending.length - at >= 5) {
        const length = new DataView(pending.buffer, pending.byteOffset + at + 1, 4).getInt32(0);
        if (pending.length - at < 1 + length) break;
        const type = String.fromCharCode(pending[at]);
        const body = pending.subarray(at + 5, at + 1 + length);
        at += 1 + length;
        if (type === 'R' && !authenticated) {
          const code = new DataView(body.buffer, body.byteOffset, 4).getInt32(0);
          if (code !== 0) {
            throw new Error(`the server asked for authentication (request ${code}): the I/O floor speaks trust only, run the bench with --auth trust`);
          }
          authenticated = true;
        } else if (type === 'E') {
          // Before the startup ends, the server closes the connection after an error.
          failure = serverError(body);
          if (!authenticated) throw new Error(failure);
        } else if (type === 'Z') {
          readyForQuery += 1;
        }
      }
      pending = pending.subarray(at);
    }
    if (failure) throw new Error(failure);
    writer.write(TERMINATE).catch(() => {});
  } finally {
    writer.close().catch(() => {});
  }
}
