// A real Better Auth server, for `npm start` and the tests: the npm package better-auth with
// email and password, its jwt() plugin (EdDSA tokens, keys at /api/auth/jwks) and its
// bearer() plugin (session tokens in `set-auth-token`), on the project's PostgreSQL, its
// schema migrated at start. This is a stock setup: the same options a Next.js app passes.

import { createServer } from 'node:http';

/**
 * Starts Better Auth on 127.0.0.1:`port` (0: any free port) against `databaseUrl`, signing with
 * `secret`. `trustedOrigins` may call it from a browser (CORS, and Better Auth's own origin
 * check). Returns { url, auth, close() }.
 */
export async function startBetterAuth({ databaseUrl, secret, port = 0, trustedOrigins = [] }) {
  const [{ betterAuth }, { bearer, jwt }, { getMigrations }, { toNodeHandler }, { default: pg }] = await Promise.all([
    import('better-auth'),
    import('better-auth/plugins'),
    import('better-auth/db/migration'),
    import('better-auth/node'),
    import('pg'),
  ]);
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const url = `http://127.0.0.1:${server.address().port}`;
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 });
  // An idle connection that the server closes (a restart) is replaced on the next query.
  pool.on('error', () => {});
  const auth = betterAuth({
    baseURL: url,
    secret,
    database: pool,
    emailAndPassword: { enabled: true },
    plugins: [jwt(), bearer()],
    trustedOrigins,
    telemetry: { enabled: false },
  });
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();

  const handle = toNodeHandler(auth);
  server.on('request', (request, response) => {
    const origin = request.headers.origin;
    if (origin && trustedOrigins.includes(origin)) {
      // A frontend on another origin reads the tokens from these headers.
      response.setHeader('Access-Control-Allow-Origin', origin);
      response.setHeader('Access-Control-Allow-Credentials', 'true');
      response.setHeader('Access-Control-Expose-Headers', 'set-auth-token, set-auth-jwt');
      response.setHeader('Vary', 'Origin');
      if (request.method === 'OPTIONS') {
        response.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
        response.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
        response.writeHead(204).end();
        return;
      }
    }
    handle(request, response);
  });
  return {
    url,
    auth,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await pool.end();
    },
  };
}
