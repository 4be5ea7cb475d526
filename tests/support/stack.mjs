// The system under test: a fresh PostgreSQL with the migrations applied and the built worker
// on plain workerd in front of it. Each test file starts its own stack, so files are
// independent and every run begins from an empty database.

import { after, before, describe } from 'node:test';
import { migrate, startPostgres } from '../../scripts/lib/postgres.mjs';
import { startWorkerd } from '../../scripts/lib/workerd.mjs';
import { Api } from './api.mjs';
import { startNeonStandin } from './neon-standin.mjs';

/** The secret the test stacks verify tokens with. */
export const TEST_SECRET = 'e2e-test-secret-with-at-least-thirty-two-bytes';
/** The browser origin the test stacks allow. */
export const ALLOWED_ORIGIN = 'http://localhost:3000';

/**
 * The transports every end-to-end suite runs over: the Hyperdrive binding (tokio-postgres over
 * a socket) and Neon's HTTP endpoint (fetch, served here by the local stand-in).
 */
export const TRANSPORTS = ['hyperdrive', 'neon-http'];

/**
 * Starts PostgreSQL and the worker reaching it over `transport`. `vars` override the worker's
 * text bindings. Returns { url, transport, postgres, worker, stop() }.
 */
export async function startStack({ transport = 'hyperdrive', vars = {} } = {}) {
  const postgres = await startPostgres();
  let standin;
  try {
    migrate(postgres.url, { quiet: true });
    const base = { BETTER_AUTH_SECRET: TEST_SECRET, ALLOWED_ORIGINS: ALLOWED_ORIGIN, ENVIRONMENT: 'test' };
    let worker;
    if (transport === 'neon-http') {
      // No Hyperdrive binding: DATABASE_URL alone selects the HTTP transport.
      standin = await startNeonStandin();
      worker = await startWorkerd({
        vars: { ...base, DATABASE_URL: postgres.url, NEON_HTTP_ENDPOINT: standin.url, ...vars },
      });
    } else {
      worker = await startWorkerd({ database: postgres, vars: { ...base, ...vars } });
    }
    return {
      url: worker.url,
      transport,
      postgres,
      worker,
      async stop() {
        await worker.stop();
        await standin?.close();
        await postgres.stop();
      },
    };
  } catch (error) {
    await standin?.close();
    await postgres.stop();
    throw error;
  }
}

/**
 * Defines the same suite once per transport, each with its own stack. `defineTests` receives
 * a context whose `stack` and `api` are set before its tests run.
 */
export function forEachTransport(defineTests) {
  for (const transport of TRANSPORTS) {
    describe(`over ${transport}`, () => {
      const context = { transport };
      before(async () => {
        context.stack = await startStack({ transport });
        context.api = new Api(context.stack.url);
      });
      after(() => context.stack?.stop());
      defineTests(context);
    });
  }
}
