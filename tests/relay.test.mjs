// The benchmark's relay (scripts/lib/bench/relay.mjs): it forwards bytes unchanged and in
// order, counts round trips as its header defines them, records the SQL of Parse and Query
// messages, and delays through its scheduler. Nothing here measures time: delays are driven
// by a scheduler the test owns.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { after, describe, test } from 'node:test';
import { startRelay } from '../scripts/lib/bench/relay.mjs';
import { cString, int16, message, SSL_REQUEST, startupMessage, SYNC, TERMINATE, untyped } from '../scripts/lib/pg-wire.mjs';
import { nextTurn, until } from '../scripts/lib/timing.mjs';

/** A server whose connections the test drives: resolves each one as { socket, received() }. */
async function scriptedServer() {
  const waiting = [];
  const arrived = [];
  const server = createServer((socket) => {
    const peer = { socket, chunks: [], received: () => Buffer.concat(peer.chunks) };
    socket.on('data', (chunk) => peer.chunks.push(chunk));
    socket.on('error', () => {});
    const next = waiting.shift();
    if (next) next(peer);
    else arrived.push(peer);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: server.address().port,
    accept: () => (arrived.length > 0 ? Promise.resolve(arrived.shift()) : new Promise((resolve) => waiting.push(resolve))),
    close: () => new Promise((resolve) => {
      server.closeAllConnections?.();
      server.close(resolve);
    }),
  };
}

/** A client through the relay that keeps what it receives. */
async function client(port) {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolve) => socket.once('connect', resolve));
  const peer = { socket, chunks: [], received: () => Buffer.concat(peer.chunks) };
  socket.on('data', (chunk) => peer.chunks.push(chunk));
  return peer;
}

/** Waits (without timing anything) until `condition()` holds; fails after many turns of the event loop. */
async function eventually(condition, what) {
  if (!(await until(condition, { pause: nextTurn, attempts: 20_000 }))) assert.fail(`never: ${what}`);
}

const STARTUP = startupMessage({ user: 'postgres' });

describe('the benchmark relay', () => {
  const cleanups = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  const setUp = async (options = {}) => {
    const server = await scriptedServer();
    const relay = await startRelay({ target: { port: server.port }, ...options });
    cleanups.push(() => server.close(), () => relay.close());
    return { server, relay };
  };

  test('forwards every byte unchanged and in order, both ways', async () => {
    const { server, relay } = await setUp();
    const peer = await client(relay.port);
    const upstream = await server.accept();
    upstream.socket.on('data', (chunk) => upstream.socket.write(chunk)); // echo
    const sent = [];
    for (let i = 0; i < 200; i++) {
      const chunk = randomBytes(1 + ((i * 7919) % 9000));
      sent.push(chunk);
      peer.socket.write(chunk);
    }
    const all = Buffer.concat(sent);
    await eventually(() => peer.received().length >= all.length, 'the echo came back whole');
    assert.ok(upstream.received().equals(all), 'the server got the bytes as sent');
    assert.ok(peer.received().equals(all), 'the client got the answer as sent');
    assert.equal(relay.snapshot().bytesToServer, all.length);
    assert.equal(relay.snapshot().bytesToClient, all.length);
    peer.socket.destroy();
  });

  test('a pipelined flight is one round trip, each flight after an answer one more, a lone Terminate none', async () => {
    const { server, relay } = await setUp();
    const peer = await client(relay.port);
    const upstream = await server.accept();

    // Three writes before any answer: one flight, however they arrive.
    for (const part of ['a', 'b', 'c']) peer.socket.write(part);
    await eventually(() => upstream.received().length === 3, 'the server got the first flight');
    upstream.socket.write('ok');
    await eventually(() => peer.received().length === 2, 'the client got the first answer');
    assert.equal(relay.snapshot().roundTrips, 1);

    peer.socket.write('d');
    await eventually(() => upstream.received().length === 4, 'the server got the second flight');
    upstream.socket.write('ok');
    await eventually(() => peer.received().length === 4, 'the client got the second answer');
    assert.equal(relay.snapshot().roundTrips, 2);

    peer.socket.write(TERMINATE);
    await eventually(() => upstream.received().length === 9, 'the server got the Terminate');
    assert.equal(relay.snapshot().roundTrips, 2, 'nothing answers a Terminate');

    // A second connection: its first bytes are its first round trip.
    const second = await client(relay.port);
    const secondUpstream = await server.accept();
    second.socket.write('e');
    await eventually(() => secondUpstream.received().length === 1, 'the server got the other connection’s bytes');
    assert.deepEqual(
      { connections: relay.snapshot().connections, roundTrips: relay.snapshot().roundTrips },
      { connections: 2, roundTrips: 3 },
    );
    relay.reset();
    assert.equal(relay.snapshot().roundTrips, 0);
    peer.socket.destroy();
    second.socket.destroy();
  });

  test('records the SQL of Parse and Query messages, split anywhere, after an SSLRequest too', async () => {
    const { server, relay } = await setUp({ record: true });
    const peer = await client(relay.port);
    const upstream = await server.accept();

    peer.socket.write(untyped(SSL_REQUEST));
    await eventually(() => upstream.received().length === 8, 'the server got the SSLRequest');
    upstream.socket.write('N');
    await eventually(() => peer.received().length === 1, 'the client got the refusal');

    const parse = message('P', cString(''), cString('SELECT $1::text'), int16(0));
    const bind = message('B', cString(''), cString(''), int16(0), int16(0), int16(0));
    const query = message('Q', cString('SELECT 2'));
    const stream = Buffer.concat([STARTUP, parse, bind, SYNC, query]);
    // Byte by byte for the first messages, then in two uneven halves.
    const cut = STARTUP.length + parse.length;
    for (let i = 0; i < cut; i++) peer.socket.write(stream.subarray(i, i + 1));
    peer.socket.write(stream.subarray(cut, cut + 3));
    peer.socket.write(stream.subarray(cut + 3));
    await eventually(() => upstream.received().length === 9 + stream.length - 1, 'the server got everything');

    assert.deepEqual(
      relay.statements().map(({ type, text }) => ({ type, text })),
      [{ type: 'parse', text: 'SELECT $1::text' }, { type: 'query', text: 'SELECT 2' }],
    );
    relay.clearStatements();
    assert.deepEqual(relay.statements(), []);
    peer.socket.destroy();
  });

  test('delays each direction through its scheduler, keeping byte order even when timers fire out of order', async () => {
    const timers = [];
    const schedule = (fn, ms) => timers.push({ fn, ms });
    const { server, relay } = await setUp({ delayMs: 7, schedule });
    const peer = await client(relay.port);
    const upstream = await server.accept();

    peer.socket.write('abc');
    await eventually(() => timers.length === 1, 'the first chunk was scheduled');
    peer.socket.write('def');
    await eventually(() => timers.length === 2, 'the second chunk was scheduled');
    assert.equal(upstream.received().length, 0, 'nothing reaches the server before its timer');
    assert.deepEqual(timers.map((timer) => timer.ms), [7, 7]);

    timers[1].fn();
    timers[0].fn();
    await eventually(() => upstream.received().length === 6, 'the server got both chunks');
    assert.equal(upstream.received().toString(), 'abcdef');

    upstream.socket.write('xyz');
    await eventually(() => timers.length === 3, 'the answer was scheduled');
    assert.equal(peer.received().length, 0, 'nothing reaches the client before its timer');
    timers[2].fn();
    await eventually(() => peer.received().length === 3, 'the client got the answer');
    assert.equal(peer.received().toString(), 'xyz');
    assert.deepEqual(
      { delayedChunks: relay.snapshot().delayedChunks, scheduledDelayMs: relay.snapshot().scheduledDelayMs },
      { delayedChunks: 3, scheduledDelayMs: 21 },
    );

    relay.setDelay(0);
    peer.socket.write('g');
    await eventually(() => upstream.received().length === 7, 'undelayed bytes go straight through');
    assert.equal(timers.length, 3, 'no timer without a delay');
    peer.socket.destroy();
  });
});
