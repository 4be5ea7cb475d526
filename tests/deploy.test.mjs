// The deploy bundle builds: `wrangler deploy --dry-run` runs the [build] command from
// wrangler.toml and packages the worker exactly as a real deploy would, without uploading.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { bin, projectEnv, ROOT } from '../scripts/lib/toolchain.mjs';

test('wrangler deploy --dry-run builds the bundle', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'edge-task-api-deploy-'));
  try {
    const result = spawnSync(bin('wrangler'), ['deploy', '--dry-run', '--outdir', outdir], {
      cwd: ROOT,
      encoding: 'utf8',
      env: projectEnv({ WRANGLER_SEND_METRICS: 'false', CI: 'true' }),
      timeout: 300_000,
    });
    const output = `${result.stdout}\n${result.stderr}`;
    assert.equal(result.status, 0, output);
    assert.match(output, /Total Upload: [\d.]+ KiB \/ gzip: [\d.]+ KiB/);
    assert.match(output, /env\.HYPERDRIVE/);
    assert.ok(existsSync(join(outdir, 'index.js')));
    // wrangler names the module by its content hash: <sha1>-index_bg.wasm.
    const wasm = readdirSync(outdir).filter((name) => name.endsWith('.wasm'));
    assert.equal(wasm.length, 1, `one wasm module in ${readdirSync(outdir)}`);
    assert.ok(statSync(join(outdir, wasm[0])).size > 0);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
