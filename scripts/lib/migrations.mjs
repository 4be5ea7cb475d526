// Applies the plain SQL files in migrations/ with node-postgres: no platform binary to install.
// The format and the bookkeeping are dbmate's (`-- migrate:up` / `-- migrate:down` sections,
// a `schema_migrations` table of versions), so a database migrated by dbmate, or by an
// earlier version of this project, carries on where it left off.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './toolchain.mjs';

const MIGRATIONS = join(ROOT, 'migrations');
/** Serializes concurrent migrators on one database (any fixed key works; this one spells "tasks"). */
const LOCK_KEY = 0x7461736b73;

/** Splits a migration file into its `up` and `down` SQL. */
function parseMigration(text) {
  const up = text.indexOf('-- migrate:up');
  const down = text.indexOf('-- migrate:down');
  if (up === -1) throw new Error('no `-- migrate:up` section');
  return {
    up: text.slice(up + '-- migrate:up'.length, down === -1 ? undefined : down).trim(),
    down: down === -1 ? '' : text.slice(down + '-- migrate:down'.length).trim(),
  };
}

/** The migrations in order: { version, file, up, down }. The version is the file's prefix. */
function migrations(dir = MIGRATIONS) {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.sql'))
    .sort()
    .map((file) => ({ version: file.split('_')[0], file, ...parseMigration(readFileSync(join(dir, file), 'utf8')) }));
}

/**
 * pg's options for `databaseUrl`. Without an `sslmode`, pg would talk to any host in the clear,
 * password included: TLS with a verified certificate is required instead, except to a
 * loopback host (the embedded database of `npm start` and the tests).
 */
export function connectionOptions(databaseUrl) {
  const url = new URL(databaseUrl);
  const loopback = ['localhost', '[::1]'].includes(url.hostname) || url.hostname.startsWith('127.');
  if (url.searchParams.has('sslmode') || loopback) return { connectionString: databaseUrl };
  return { connectionString: databaseUrl, ssl: { rejectUnauthorized: true } };
}

/**
 * Applies every pending migration to `databaseUrl`, each in its own transaction together with
 * its bookkeeping row. Errors carry PostgreSQL's message, never the connection string.
 */
export async function migrate(databaseUrl, { quiet = false } = {}) {
  const { default: pg } = await import('pg');
  const client = new pg.Client(connectionOptions(databaseUrl));
  await client.connect();
  let current;
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY]);
    await client.query('CREATE TABLE IF NOT EXISTS schema_migrations (version varchar(128) PRIMARY KEY)');
    const { rows } = await client.query('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((row) => row.version));
    for (const migration of migrations()) {
      if (applied.has(migration.version)) continue;
      current = migration.file;
      await client.query('BEGIN');
      await client.query(migration.up);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
      await client.query('COMMIT');
      if (!quiet) console.log(`  applied ${migration.file}`);
    }
    current = undefined;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw new Error(`migration ${current ?? 'bookkeeping'} failed: ${error.message}`);
  } finally {
    await client.end();
  }
}
