// The system under test: a fresh PostgreSQL with the migrations applied and the built worker
// on plain workerd in front of it. Each test file starts its own stack, so files are
// independent and every run begins from an empty database.

import { migrate, startPostgres } from '../../scripts/lib/postgres.mjs';
import { startWorkerd } from '../../scripts/lib/workerd.mjs';

/** The secret the test stacks verify tokens with. */
export const TEST_SECRET = 'e2e-test-secret-with-at-least-thirty-two-bytes';
/** The browser origin the test stacks allow. */
export const ALLOWED_ORIGIN = 'http://localhost:3000';

/**
 * Starts PostgreSQL and the worker. `vars` override the worker's text bindings.
 * Returns { url, postgres, worker, stop() }.
 */
export async function startStack({ vars = {} } = {}) {
  const postgres = await startPostgres();
  try {
    migrate(postgres.url, { quiet: true });
    const worker = await startWorkerd({
      database: postgres,
      vars: { BETTER_AUTH_SECRET: TEST_SECRET, ALLOWED_ORIGINS: ALLOWED_ORIGIN, ENVIRONMENT: 'test', ...vars },
    });
    return {
      url: worker.url,
      postgres,
      worker,
      async stop() {
        await worker.stop();
        await postgres.stop();
      },
    };
  } catch (error) {
    await postgres.stop();
    throw error;
  }
}
