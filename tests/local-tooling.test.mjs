// The local tooling's own safety (issue 14, items 6 and 7): where embedded PostgreSQL is
// loaded from, and the Hyperdrive setup that wrangler.toml and the README describe together.

import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connectionOptions } from '../scripts/lib/migrations.mjs';
import { reachableByOthers } from '../scripts/lib/postgres.mjs';
import { removeTemporaryDir, temporaryDir } from '../scripts/lib/processes.mjs';
import { ROOT } from '../scripts/lib/toolchain.mjs';

test('temporary directories are fresh each time and writable by their owner only', () => {
  const first = temporaryDir('edge-task-api-tooling-');
  const second = temporaryDir('edge-task-api-tooling-');
  try {
    assert.notEqual(first, second, 'a path someone created first is never reused');
    for (const dir of [first, second]) {
      const { uid, mode } = statSync(dir);
      assert.equal(uid, process.getuid(), `${dir} belongs to the current user`);
      assert.equal(mode & 0o022, 0, `${dir} is writable by no one else`);
    }
  } finally {
    removeTemporaryDir(first);
    removeTemporaryDir(second);
  }
});

test('a directory behind a private ancestor counts as unreachable, so root copies instead of importing from it', () => {
  const base = temporaryDir('edge-task-api-tooling-');
  try {
    const inner = join(base, 'checkout', 'node_modules');
    mkdirSync(inner, { recursive: true });
    chmodSync(base, 0o755);
    chmodSync(join(base, 'checkout'), 0o755);
    // The system's temporary directory is world-traversable, so the whole chain is too.
    assert.equal(reachableByOthers(inner), true);
    chmodSync(join(base, 'checkout'), 0o700);
    assert.equal(reachableByOthers(inner), false, 'one ancestor without the execute bit for others');
  } finally {
    removeTemporaryDir(base);
  }
});

test('wrangler.toml and the README agree that Hyperdrive is created with caching disabled', () => {
  const wrangler = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8');
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const comment = wrangler.slice(0, wrangler.indexOf('[[hyperdrive]]'));
  assert.match(comment, /caching disabled/, 'the comment above the binding says how to create it');
  // The comment wraps, so its lines are joined first.
  const prose = comment.replace(/\n# ?/g, ' ');
  assert.match(prose, /README\.md "Deploying to Cloudflare with Neon"/, 'and points to the README');
  assert.match(readme, /^## Deploying to Cloudflare with Neon$/m, 'the section it points to exists');
  const create = readme.match(/npx wrangler hyperdrive create [^\n]*/)?.[0];
  assert.ok(create, 'the README shows the create command');
  assert.match(create, /--caching-disabled/, create);
  assert.doesNotMatch(wrangler, /hyperdrive create(?![^\n]*--caching-disabled)/, 'no create command without the flag');
});

test('migrations require TLS with a verified certificate to a remote host unless the URL says otherwise', () => {
  const remote = connectionOptions('postgres://u:p@ep-x.us-east-2.aws.neon.tech/neondb');
  assert.deepEqual(remote.ssl, { rejectUnauthorized: true });
  for (const url of [
    'postgres://u:p@127.0.0.1:54329/tasks',
    'postgres://u:p@localhost/tasks',
    'postgres://u:p@db.internal/tasks?sslmode=disable',
    'postgres://u:p@ep-x.neon.tech/neondb?sslmode=require',
  ]) {
    assert.equal(connectionOptions(url).ssl, undefined, `${url}: pg reads the URL's own sslmode`);
  }
});
