// `npm run example`: serves the example web client (examples/web-client/) on
// http://localhost:3000, the origin wrangler.toml's ALLOWED_ORIGINS allows, so that it can
// call the API that `npm start` runs on http://127.0.0.1:8787.
//
//   EXAMPLE_PORT=3001 npm run example   another port (add its origin to ALLOWED_ORIGINS)

import { join } from 'node:path';
import { serveDirectory } from './lib/static-server.mjs';
import { ROOT, step } from './lib/toolchain.mjs';

const port = Number(process.env.EXAMPLE_PORT ?? 3000);
const server = await serveDirectory(join(ROOT, 'examples', 'web-client'), { port });
const api = process.env.API_URL ?? `http://127.0.0.1:${process.env.PORT ?? 8787}`;
step(`example web client: http://localhost:${server.port}/?api=${encodeURIComponent(api)}`);
step('sign up or in against the local Better Auth (npm start runs it on :8788), or mint a dev token; Ctrl-C stops');
const stop = () => server.close().then(() => process.exit(0));
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
