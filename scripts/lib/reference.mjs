// The benchmark's reference worker (reference/): bundled by wrangler exactly as a deploy would
// bundle it, and run from that bundle on plain workerd. Also wrangler's upload figure for our
// own build, so the two sizes are measured the same way.

import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bin, projectEnv, ROOT } from './toolchain.mjs';

export const REFERENCE_DIR = join(ROOT, 'reference');
/** What the reference's wrangler.toml sets, for workerd. */
export const REFERENCE_COMPATIBILITY_FLAGS = ['nodejs_compat'];

/** The bench scenarios the reference does not serve, and why. */
export const REFERENCE_UNSUPPORTED = {
  'list-jwks': 'HS256 tokens only',
  'list-session': 'HS256 tokens only',
  'page-deep': 'no paging cursor (ours is signed over the user, filters and sort)',
};

/** The workerd module kind of each file wrangler writes; the rest (README, maps) is not code. */
const KINDS = { '.js': 'esModule', '.mjs': 'esModule', '.wasm': 'wasm' };

/**
 * `wrangler deploy --dry-run --outdir outdir` in `cwd` (with `config`, when given). Returns
 * wrangler's own upload figure { kib, gzipKib } and the modules it wrote, entry point first,
 * as startWorkerd takes them.
 */
function dryRun(cwd, outdir, config) {
  const args = ['deploy', '--dry-run', '--outdir', outdir, ...(config ? ['--config', config] : [])];
  const run = spawnSync(bin('wrangler'), args, {
    cwd,
    encoding: 'utf8',
    env: projectEnv({ WRANGLER_SEND_METRICS: 'false', CI: 'true' }),
    timeout: 120_000,
  });
  const output = `${run.stdout ?? ''}${run.stderr ?? ''}`;
  const size = output.match(/Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/);
  if (run.status !== 0 || !size) throw new Error(`wrangler deploy --dry-run in ${cwd} failed (${run.status ?? run.signal}):\n${output}`);
  const files = readdirSync(outdir).filter((name) => KINDS[name.slice(name.lastIndexOf('.'))]);
  const modules = files
    .map((name) => ({ name, type: KINDS[name.slice(name.lastIndexOf('.'))], path: join(outdir, name) }))
    .sort((a, b) => (a.name === 'index.js' ? -1 : b.name === 'index.js' ? 1 : a.name.localeCompare(b.name)));
  return { upload: { kib: Number(size[1]), gzipKib: Number(size[2]), by: 'wrangler deploy --dry-run' }, modules };
}

/** Bundles reference/ into `outdir`: { upload, modules }. */
export function bundleReference(outdir) {
  return dryRun(REFERENCE_DIR, outdir);
}

/**
 * Wrangler's upload figure for build/ as it is. A config of its own without our [build]
 * command, so nothing is compiled: wrangler packages the built module as a deploy would.
 */
export function ourUploadSize(workDir) {
  const config = join(workDir, 'wrangler-size.toml');
  const date = readFileSync(join(ROOT, 'wrangler.toml'), 'utf8').match(/^compatibility_date = "([^"]+)"/m)?.[1] ?? '2026-11-01';
  writeFileSync(config, `name = "edge-task-api"\nmain = ${JSON.stringify(join(ROOT, 'build', 'index.js'))}\ncompatibility_date = "${date}"\n`);
  const outdir = join(workDir, 'ours-bundle');
  return dryRun(workDir, outdir, config).upload;
}
