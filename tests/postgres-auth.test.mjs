// The worker's own PostgreSQL client against a real PostgreSQL: SCRAM-SHA-256 with passwords
// that SASLprep changes (the server prepared them when the role was created, the worker when
// it connects: both must agree), a password SASLprep refuses (both then use its raw bytes),
// and a wrong one (refused, so the successes above are not an accident). Each through the
// Hyperdrive binding, repeated so the pipelined second connection is covered too.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startWorkerd } from '../scripts/lib/workerd.mjs';
import { Api, assertProblem } from './support/api.mjs';
import { TEST_SECRET } from './support/fixtures.mjs';
import { sharedDatabase } from './support/stack.mjs';

const PASSWORDS = {
  // Fullwidth P and the ﬁ ligature become P and fi (NFKC); the no-break space becomes a
  // space; the soft hyphen goes.
  edge_saslprep_maps: '\u{FF30}\u{00E4}ss\u{00A0}w\u{00F6}r\u{00AD}d \u{FB01}ve',
  // Right-to-left text followed by a Latin letter: SASLprep refuses it, so the raw bytes count.
  edge_saslprep_refuses: '\u{05D0}\u{05D1}\u{05D2}abc',
  edge_plain_ascii: 'correct horse battery staple',
};

describe('SCRAM-SHA-256 against PostgreSQL, as the worker connects', () => {
  let postgres;
  let client;

  before(async () => {
    postgres = await sharedDatabase();
    client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    for (const [role, password] of Object.entries(PASSWORDS)) {
      await client.query(`DROP ROLE IF EXISTS ${role}`);
      // A plaintext password: the server applies SASLprep itself to build the verifier.
      await client.query(`SET password_encryption = 'scram-sha-256'`);
      await client.query(`CREATE ROLE ${role} LOGIN PASSWORD ${client.escapeLiteral(password)}`);
    }
  });

  after(async () => {
    for (const role of Object.keys(PASSWORDS)) await client.query(`DROP ROLE IF EXISTS ${role}`);
    await client.end();
  });

  async function readiness(user, password) {
    const database = { port: postgres.port, user, password, database: postgres.database };
    const worker = await startWorkerd({ database, vars: { BETTER_AUTH_SECRET: TEST_SECRET } });
    try {
      const api = new Api(worker.url);
      // The first connection learns the method; the second pipelines on it.
      const statuses = [];
      for (let i = 0; i < 2; i++) statuses.push((await api.request('GET', '/ready')).status);
      return { statuses, logs: worker.logs(), api };
    } finally {
      await worker.stop();
    }
  }

  for (const [role, password] of Object.entries(PASSWORDS)) {
    test(`${role}: the worker's proof is accepted and the server's verified`, async () => {
      const { statuses, logs } = await readiness(role, password);
      assert.deepEqual(statuses, [200, 200], logs.slice(-1500));
    });
  }

  test('a wrong password is refused with 503, and the password is never logged', async () => {
    const wrong = 'not-the-password';
    const database = { port: postgres.port, user: 'edge_plain_ascii', password: wrong, database: postgres.database };
    const worker = await startWorkerd({ database, vars: { BETTER_AUTH_SECRET: TEST_SECRET } });
    try {
      assertProblem(assert, await new Api(worker.url).request('GET', '/ready'), 503);
      assert.match(worker.logs(), /28P01/);
      assert.ok(!worker.logs().includes(wrong));
    } finally {
      await worker.stop();
    }
  });
});
