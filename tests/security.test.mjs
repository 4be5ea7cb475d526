// What the worker guarantees on the wire, each against a peer that tries to get more:
// - a PostgreSQL endpoint that asks for a cleartext or MD5 password on a connection without
//   TLS gets none when DB_ALLOW_PASSWORD_WITHOUT_TLS=false (only SCRAM is answered there), and
//   the request answers 503; by default the binding's socket answers each method;
// - a Neon HTTP endpoint that redirects never gets its redirect followed, so the connection
//   string (password included) reaches no second host;
// - a flood of /health opens at most a handful of database connections.

import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { authenticationRequest, TERMINATE } from '../scripts/lib/pg-wire.mjs';
import { startWorkerd } from '../scripts/lib/workerd.mjs';
import { Api, assertProblem } from './support/api.mjs';
import { TEST_SECRET } from './support/fixtures.mjs';
import { sharedDatabase } from './support/stack.mjs';

const PASSWORD = 'the-database-password';

/** Listens on a free loopback port; resolves { server, port }. */
async function listen(server) {
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port };
}

/**
 * A fake PostgreSQL server: it reads the startup message, asks for a password with
 * authentication request `code` (3 cleartext, 5 MD5), and keeps every byte the client sends
 * after that (a well-behaved client sends at most Terminate).
 */
async function passwordPhishingServer(code) {
  const received = [];
  const server = createServer((socket) => {
    let startupSeen = false;
    let buffered = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!startupSeen && buffered.length >= 4 && buffered.length >= buffered.readUInt32BE(0)) {
        startupSeen = true;
        buffered = buffered.subarray(buffered.readUInt32BE(0));
        // MD5 comes with a 4-byte salt (zeros will do).
        socket.write(authenticationRequest(code, new Uint8Array(code === 5 ? 4 : 0)));
      }
      if (startupSeen && buffered.length > 0) {
        received.push(Buffer.from(buffered));
        buffered = Buffer.alloc(0);
        socket.end();
      }
    });
    socket.on('error', () => {});
  });
  return { ...(await listen(server)), received };
}

describe('a database endpoint that asks for a password without TLS', () => {
  for (const [code, kind] of [[3, 'cleartext'], [5, 'MD5']]) {
    test(`gets no ${kind} password with DB_ALLOW_PASSWORD_WITHOUT_TLS=false, and the request answers 503`, async () => {
      const fake = await passwordPhishingServer(code);
      const database = { port: fake.port, user: 'postgres', password: PASSWORD, database: 'tasks' };
      const vars = { BETTER_AUTH_SECRET: TEST_SECRET, DB_ALLOW_PASSWORD_WITHOUT_TLS: 'false' };
      const worker = await startWorkerd({ database, vars });
      try {
        const response = await new Api(worker.url).request('GET', '/ready');
        assertProblem(assert, response, 503);
        // Only a Terminate ('X', length 4) may follow: the client hanging up politely.
        const after = Buffer.concat(fake.received);
        assert.ok(after.length === 0 || after.equals(TERMINATE), `the client sent ${after.toString('hex')} after the password request`);
        assert.ok(!after.includes(PASSWORD), 'the password never left the worker');
        assert.match(worker.logs(), new RegExp(`asked for a ${kind} password on a connection without TLS`));
      } finally {
        await worker.stop();
        fake.server.close();
      }
    });
  }

  // The Hyperdrive binding's socket is routed by the runtime to Hyperdrive on the same machine
  // (workerd's hyperdrive.c++; the connection string says sslmode=disable), and Cloudflare does
  // not document which password method Hyperdrive asks the worker for: by default each is
  // answered there, so production works whatever it asks.
  for (const [code, kind] of [[3, 'cleartext'], [5, 'MD5']]) {
    test(`gets the ${kind} password on the Hyperdrive binding's socket by default`, async () => {
      const fake = await passwordPhishingServer(code);
      const database = { port: fake.port, user: 'postgres', password: PASSWORD, database: 'tasks' };
      const worker = await startWorkerd({ database, vars: { BETTER_AUTH_SECRET: TEST_SECRET } });
      try {
        await new Api(worker.url).request('GET', '/ready');
        const sent = Buffer.concat(fake.received);
        assert.equal(String.fromCharCode(sent[0]), 'p', 'a PasswordMessage');
        if (code === 3) assert.ok(sent.includes(PASSWORD));
        else assert.ok(!sent.includes(PASSWORD) && sent.includes('md5'), 'MD5 sends a digest, never the password');
      } finally {
        await worker.stop();
        fake.server.close();
      }
    });
  }
});

describe('a Neon HTTP endpoint that redirects', () => {
  let target;
  let redirector;
  let worker;
  const seenByTarget = [];

  before(async () => {
    target = await listen(createHttpServer((request, response) => {
      seenByTarget.push(request.headers);
      response.end('{}');
    }));
    redirector = await listen(createHttpServer((request, response) => {
      request.resume();
      response.writeHead(307, { Location: `http://127.0.0.1:${target.port}/sql` });
      response.end();
    }));
    worker = await startWorkerd({
      vars: {
        BETTER_AUTH_SECRET: TEST_SECRET,
        DATABASE_URL: `postgres://postgres:${PASSWORD}@ep-a-1.us-east-2.aws.neon.tech/tasks`,
        NEON_HTTP_ENDPOINT: `http://127.0.0.1:${redirector.port}/sql`,
      },
    });
  });
  after(async () => {
    await worker?.stop();
    target?.server.close();
    redirector?.server.close();
  });

  test('is not followed: the request answers 503, the redirect is logged, the second host sees nothing', async () => {
    const response = await new Api(worker.url).request('GET', '/ready');
    assertProblem(assert, response, 503);
    assert.match(worker.logs(), /answered a redirect \(HTTP 307\), which is not followed/);
    assert.deepEqual(seenByTarget, [], 'no request, so no Neon-Connection-String, reached the redirect target');
  });
});

describe('a flood of /health', () => {
  let relay;
  let worker;
  let connections = 0;

  before(async () => {
    // A TCP relay in front of the run's PostgreSQL that counts the connections through it.
    const postgres = await sharedDatabase();
    relay = await listen(createServer((client) => {
      connections += 1;
      const server = connect(postgres.port, '127.0.0.1');
      client.pipe(server).pipe(client);
      client.on('error', () => server.destroy());
      server.on('error', () => client.destroy());
    }));
    // A worker of its own: a fresh isolate, whose /health has checked nothing yet.
    worker = await startWorkerd({
      database: { ...postgres, port: relay.port },
      vars: { BETTER_AUTH_SECRET: TEST_SECRET },
    });
  });
  after(async () => {
    await worker?.stop();
    relay?.server.close();
  });

  const burst = (path, count) =>
    Promise.all(Array.from({ length: count }, () => fetch(`${worker.url}${path}`).then((response) => response.status)));

  test('100 concurrent requests open at most a handful of database connections', async () => {
    const statuses = await burst('/health', 100);
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.ok(connections >= 1 && connections <= 3, `${connections} connections for 100 /health requests`);
  });

  test('while /ready, the readiness check, goes to the database every time', async () => {
    const before = connections;
    const statuses = await burst('/ready', 20);
    assert.deepEqual([...new Set(statuses)], [200]);
    assert.equal(connections - before, 20, 'one connection per /ready request');
  });
});
