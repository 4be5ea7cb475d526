// A TCP relay on 127.0.0.1 between a worker and what it talks to (PgBouncer, PostgreSQL, or
// the Neon HTTP stand-in), so that two workers are measured through the same path: it counts
// the round trips each request costs, can add a network delay each way, and can record the
// SQL a worker sends.
//
// A round trip is, per connection, a client→server flight: client bytes that arrive when the
// relay has delivered server bytes to the client since the client last sent (or the first
// client bytes of the connection). Client bytes sent before the answer to the previous ones
// arrived (pipelining) belong to the same flight. A flight that is nothing but a Terminate
// message ('X') does not count: nothing answers it, so it costs no waiting.
//
// Recording reads the client→server stream as PostgreSQL's frontend protocol: untyped
// packets until the startup message (an SSLRequest or GSSENCRequest comes before it), then
// messages of a type byte and an int32 length that includes itself. The SQL of every Parse
// ('P') and simple Query ('Q') is kept; after TLS is accepted nothing more can be read.

import { connect, createServer } from 'node:net';
import { GSSENC_REQUEST, SSL_REQUEST, TERMINATE } from '../pg-wire.mjs';

/** The delay each way the benchmark injects unless told otherwise. */
export const DEFAULT_DELAY_MS = 5;

/** Marks the end of a direction in a delay queue, so the end is not delivered before the data. */
const END = Symbol('end');

const zeroCounts = () => ({ connections: 0, roundTrips: 0, bytesToServer: 0, bytesToClient: 0, delayedChunks: 0, scheduledDelayMs: 0 });

/**
 * Starts the relay in front of `target` ({ host = '127.0.0.1', port }) on 127.0.0.1 (`port`,
 * or a free one). `delayMs` is the delay added each way (0: none; change it with setDelay).
 * `record` keeps the SQL of Parse and Query messages. `schedule(fn, ms)` is how a delayed
 * chunk is scheduled (default setTimeout): the relay's tests pass their own to drive delays
 * without timing anything.
 *
 * Returns { host, port, snapshot(), reset(), statements(), clearStatements(), setDelay(ms),
 * close() }. snapshot() is { connections, roundTrips, bytesToServer, bytesToClient,
 * delayedChunks, scheduledDelayMs } since the start or the last reset(); statements() is
 * [{ connection, type: 'parse' | 'query', text }] in the order they were sent.
 */
export async function startRelay({ target, port = 0, delayMs = 0, record = false, schedule = setTimeout } = {}) {
  let counts = zeroCounts();
  const recorded = [];
  let delay = delayMs;
  let nextId = 0;
  const sockets = new Set();

  /** Writes chunks to `socket` in arrival order, each `delay` ms after it arrived. */
  const pipe = (socket, onDelivered) => {
    const queue = [];
    const deliver = (item) => {
      if (item === END) socket.end();
      else {
        socket.write(item);
        onDelivered();
      }
    };
    return (item) => {
      if (delay <= 0 && queue.length === 0) return deliver(item);
      // Each timer delivers the oldest waiting chunk, not its own: even if timers fire out of
      // order (the delay changed in between), the bytes keep theirs.
      queue.push(item);
      counts.delayedChunks += 1;
      counts.scheduledDelayMs += Math.max(delay, 0);
      schedule(() => {
        if (!socket.destroyed) deliver(queue.shift());
      }, Math.max(delay, 0));
    };
  };

  const server = createServer((client) => {
    const id = ++nextId;
    counts.connections += 1;
    const upstream = connect({ host: target.host ?? '127.0.0.1', port: target.port });
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.once('close', () => sockets.delete(socket));
      // Either side going away takes the other with it; the error itself is the worker's to report.
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    const connection = { answered: true, parser: record ? frontendParser(id, recorded) : null };
    const toServer = pipe(upstream, () => {});
    const toClient = pipe(client, () => {
      connection.answered = true;
    });

    client.on('data', (chunk) => {
      counts.bytesToServer += chunk.length;
      if (connection.answered) {
        connection.answered = false;
        if (!chunk.equals(TERMINATE)) counts.roundTrips += 1;
      }
      connection.parser?.clientBytes(chunk);
      toServer(chunk);
    });
    upstream.on('data', (chunk) => {
      counts.bytesToClient += chunk.length;
      connection.parser?.serverBytes(chunk);
      toClient(chunk);
    });
    client.on('end', () => toServer(END));
    upstream.on('end', () => toClient(END));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });

  return {
    host: '127.0.0.1',
    port: server.address().port,
    snapshot: () => ({ ...counts }),
    reset() {
      counts = zeroCounts();
    },
    statements: () => recorded.map((entry) => ({ ...entry })),
    clearStatements() {
      // In place: the parsers of open connections hold the array.
      recorded.length = 0;
    },
    setDelay(ms = DEFAULT_DELAY_MS) {
      delay = ms;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Reads one connection's client→server stream as the frontend protocol, keeping the SQL. */
function frontendParser(connection, recorded) {
  let buffer = Buffer.alloc(0);
  let untyped = true; // before the startup message
  let askedForEncryption = false;
  let opaque = false; // TLS or GSS encryption was accepted: the bytes are no longer readable
  const cString = (bytes, start) => {
    const end = bytes.indexOf(0, start);
    return end < 0 ? null : { text: bytes.toString('utf8', start, end), next: end + 1 };
  };
  return {
    clientBytes(chunk) {
      if (opaque) return;
      buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
      for (;;) {
        if (untyped) {
          if (buffer.length < 8) return;
          const length = buffer.readInt32BE(0);
          if (buffer.length < length) return;
          const code = buffer.readInt32BE(4);
          askedForEncryption = code === SSL_REQUEST || code === GSSENC_REQUEST;
          // An encryption request is answered, then followed by the startup message, also untyped.
          untyped = askedForEncryption;
          buffer = buffer.subarray(length);
          continue;
        }
        if (buffer.length < 5) return;
        const length = buffer.readInt32BE(1);
        if (buffer.length < 1 + length) return;
        const type = String.fromCharCode(buffer[0]);
        const body = buffer.subarray(5, 1 + length);
        if (type === 'P') {
          const name = cString(body, 0);
          const query = name && cString(body, name.next);
          if (query) recorded.push({ connection, type: 'parse', text: query.text });
        } else if (type === 'Q') {
          const query = cString(body, 0);
          if (query) recorded.push({ connection, type: 'query', text: query.text });
        }
        buffer = buffer.subarray(1 + length);
      }
    },
    serverBytes(chunk) {
      // The one-byte answer to an encryption request: 'S' or 'G' means the rest is encrypted.
      if (askedForEncryption && chunk.length > 0) {
        askedForEncryption = false;
        if (chunk[0] === 0x53 || chunk[0] === 0x47) opaque = true;
      }
    },
  };
}
