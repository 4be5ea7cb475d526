// Reaching PostgreSQL as Cloudflare's docs show: node-postgres through the Hyperdrive binding,
// a new client per request (Hyperdrive keeps the pool, near the database); or, when only
// DATABASE_URL is set, Neon's serverless driver over its HTTP SQL endpoint.

import { neon, neonConfig } from '@neondatabase/serverless';
import type { ExecutionContext } from 'hono';
import { Client } from 'pg';

export interface Env {
  BETTER_AUTH_SECRET: string;
  HYPERDRIVE?: { connectionString: string };
  DATABASE_URL?: string;
  /** Where Neon's driver sends queries; unset, it derives the endpoint from the Neon host. */
  NEON_HTTP_ENDPOINT?: string;
}

/** A row as the database's text, column by column. */
export type Row = (string | null)[];

/** Runs one statement and returns its rows. */
export async function query(env: Env, ctx: ExecutionContext, text: string, params: unknown[] = []): Promise<Row[]> {
  if (!env.HYPERDRIVE) {
    if (!env.DATABASE_URL) throw new Error('bind HYPERDRIVE or set DATABASE_URL');
    if (env.NEON_HTTP_ENDPOINT) neonConfig.fetchEndpoint = env.NEON_HTTP_ENDPOINT;
    const sql = neon(env.DATABASE_URL, { arrayMode: true, fullResults: true });
    const result = await sql.query(text, params);
    return result.rows as Row[];
  }
  const client = new Client({ connectionString: env.HYPERDRIVE.connectionString });
  await client.connect();
  try {
    const result = await client.query({ text, values: params, rowMode: 'array' });
    return result.rows;
  } finally {
    // Closing need not delay the response.
    ctx.waitUntil(client.end());
  }
}
