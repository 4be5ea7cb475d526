// `npm run migrate`: applies pending migrations from migrations/ to DATABASE_URL.
// For production: DATABASE_URL='postgres://…neon.tech/neondb?sslmode=require' npm run migrate

import { ensureNodeModules, step } from './lib/toolchain.mjs';

ensureNodeModules();
const { migrate } = await import('./lib/migrations.mjs');
const url = process.env.DATABASE_URL;
if (!url) {
  console.error('Set DATABASE_URL to the PostgreSQL to migrate, e.g. DATABASE_URL=postgres://… npm run migrate');
  process.exit(2);
}
step(`migrating ${new URL(url).host}`);
await migrate(url);
