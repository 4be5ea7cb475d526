// The system under test: a PostgreSQL with the migrations applied and the built worker on
// plain workerd in front of it, over one of the two transports.
//
// The runner (scripts/test.mjs) loads every suite into one process, so one stack per transport
// serves all of them: `sharedStack` starts it on first use and stops it when the run ends.
// Suites stay independent because every test works as fresh random users. A suite that needs
// other worker settings gets its own worker on the shared database (`stackWith`). Run alone
// (`node --test tests/tasks.test.mjs`), a file starts the stacks it uses itself.

import { after, describe, before } from 'node:test';
import { migrate } from '../../scripts/lib/migrations.mjs';
import { startNeonStandin } from '../../scripts/lib/neon-standin.mjs';
import { startPostgres } from '../../scripts/lib/postgres.mjs';
import { startWorkerd } from '../../scripts/lib/workerd.mjs';
import { Api } from './api.mjs';
import { ALLOWED_ORIGIN, TEST_SECRET } from './fixtures.mjs';

export { ALLOWED_ORIGIN, TEST_SECRET };

/**
 * The transports every end-to-end suite runs over: the Hyperdrive binding (the worker's own
 * PostgreSQL client over a socket) and Neon's HTTP endpoint (fetch, served here by the local stand-in).
 */
export const TRANSPORTS = ['hyperdrive', 'neon-http'];

const BASE_VARS = { BETTER_AUTH_SECRET: TEST_SECRET, ALLOWED_ORIGINS: ALLOWED_ORIGIN, ENVIRONMENT: 'test' };

/**
 * The rate limits wrangler.toml declares (`[[ratelimits]]`), which every stack's worker gets
 * from the stand-in (startWorkerd's `rateLimits`).
 */
export const RATE_LIMITS = {
  USER_RATE_LIMITER: { limit: 1200, period: 60 },
  // Production's default is 300. Plain workerd gets no CF-Connecting-IP, so every suite's
  // failed authentications share one address here; tests/rate-limits.test.mjs checks
  // the limit itself on a stack of its own.
  CLIENT_RATE_LIMITER: { limit: 20_000, period: 60 },
};

/**
 * Starts the worker over `transport` in front of `postgres`, a migrated cluster the caller
 * owns. `vars` override the worker's text bindings; `rateLimits` override entries of
 * RATE_LIMITS (binding by binding) or add bindings.
 * Returns { url, transport, postgres, worker, stop() }; `stop` stops the worker and stand-in.
 */
async function startStack({ transport, vars = {}, postgres, rateLimits = {} }) {
  let standin;
  try {
    let worker;
    const platform = { rateLimits: { ...RATE_LIMITS, ...rateLimits } };
    if (transport === 'neon-http') {
      // No Hyperdrive binding: DATABASE_URL alone selects the HTTP transport.
      standin = await startNeonStandin();
      worker = await startWorkerd({
        vars: { ...BASE_VARS, DATABASE_URL: postgres.url, NEON_HTTP_ENDPOINT: standin.url, ...vars },
        ...platform,
      });
    } else {
      worker = await startWorkerd({ database: postgres, vars: { ...BASE_VARS, ...vars }, ...platform });
    }
    return {
      url: worker.url,
      transport,
      postgres,
      worker,
      async stop() {
        await worker.stop();
        await standin?.close();
      },
    };
  } catch (error) {
    await standin?.close();
    throw error;
  }
}

const shared = new Map();
let sharedPostgres;

/** The one migrated PostgreSQL of this run. */
export function sharedDatabase() {
  sharedPostgres ??= startPostgres().then(async (postgres) => {
    await migrate(postgres.url, { quiet: true });
    return postgres;
  });
  return sharedPostgres;
}

/** The run's stack over `transport`, started on first use, on the run's one database. */
export function sharedStack(transport = 'hyperdrive') {
  if (!shared.has(transport)) {
    shared.set(transport, sharedDatabase().then((postgres) => startStack({ transport, postgres })));
  }
  return shared.get(transport);
}

/**
 * A worker with other settings on the run's database; the caller stops it. `vars` override
 * text bindings; `options.rateLimits` override rate limits binding by binding (for example
 * `{ CLIENT_RATE_LIMITER: { limit: 2, period: 60 } }` to reach a limit in a test).
 */
export async function stackWith(vars, transport = 'hyperdrive', { rateLimits } = {}) {
  return startStack({ transport, vars, rateLimits, postgres: await sharedDatabase() });
}

// Registered on the root test, so it runs once every suite of the process has finished.
after(async () => {
  for (const stack of shared.values()) await (await stack).stop();
  await (await sharedPostgres)?.stop();
});

/**
 * Defines the same suite once per transport, on that transport's shared stack. `defineTests`
 * receives a context whose `stack` and `api` are set before its tests run.
 */
export function forEachTransport(defineTests) {
  for (const transport of TRANSPORTS) {
    describe(`over ${transport}`, () => {
      const context = { transport };
      before(async () => {
        context.stack = await sharedStack(transport);
        context.api = new Api(context.stack.url);
      });
      defineTests(context);
    });
  }
}
