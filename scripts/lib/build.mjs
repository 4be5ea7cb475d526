// The worker's build, in four steps that each use a tool already on the machine or in npm:
//   1. cargo builds the crate for wasm32-unknown-unknown (release profile, size-tuned);
//   2. wasm-bindgen (the CLI pinned to the crate's version) writes the JS bindings;
//   3. esbuild (from npm) bundles src/entry.mjs with those bindings into build/index.js;
//   4. wasm-opt (binaryen from npm) shrinks the module with -Os, GUFA (whole-module inference
//      of the values that reach each call and local) and -Os again, and drops its name
//      section. -Os, not -Oz: -Oz's module is 2% smaller raw but compresses worse, and the
//      upload limit counts compressed bytes. Measured 2026-12-05 (bytes, zlib level 9):
//      -Oz 185,014; -Os 184,080; -Os --gufa -Os 183,655, for 2 s more build time.
// worker-build does the same with downloads from GitHub; doing it here needs only the
// wasm-bindgen CLI, which installs in about a minute and a half.
//
// Steps 2-4 are skipped when the module cargo produced, the entry and the options are the
// same as last time, so a rebuild without Rust changes (wrangler's [build], a second test run)
// costs one no-op cargo call.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bin, ROOT, run, rustBuildEnv } from './toolchain.mjs';

const OUT = join(ROOT, 'build');
/** The built module. */
export const WASM_PATH = join(OUT, 'index_bg.wasm');
/** The built entry module. */
const JS_PATH = join(OUT, 'index.js');

const CRATE_WASM = join(ROOT, 'target', 'wasm32-unknown-unknown', 'release', 'edge_task_api.wasm');
const ENTRY = join(ROOT, 'src', 'entry.mjs');
const STAMP = join(OUT, '.stamp');

/** Builds build/index.js and build/index_bg.wasm; `optimize: false` skips wasm-opt. */
export function buildWorker(tools, { optimize = true } = {}) {
  run('cargo', ['build', '--release', '--quiet', '--lib', '--target', 'wasm32-unknown-unknown'], { env: rustBuildEnv() });

  const stamp = createHash('sha256')
    .update(readFileSync(CRATE_WASM))
    .update(readFileSync(ENTRY))
    .update(JSON.stringify({ optimize, wasmBindgen: tools.wasmBindgen }))
    .digest('hex');
  if (existsSync(JS_PATH) && existsSync(WASM_PATH) && existsSync(STAMP) && readFileSync(STAMP, 'utf8') === stamp) {
    return;
  }

  const staging = join(OUT, '.staging');
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  rmSync(STAMP, { force: true });
  try {
    // The reset-state function and the abort handler are what src/entry.mjs recovers with.
    run(tools.wasmBindgen, [
      CRATE_WASM, '--out-dir', staging, '--out-name', 'index', '--target', 'module', '--no-typescript',
      '--experimental-reset-state-function', '--force-enable-abort-handler',
    ]);
    copyFileSync(ENTRY, join(staging, 'entry.mjs'));
    run(bin('esbuild'), [
      'entry.mjs', '--bundle', '--format=esm', '--minify', '--external:./index_bg.wasm', '--external:cloudflare:*',
      `--outfile=${JS_PATH}`, '--allow-overwrite', '--log-level=warning',
    ], { cwd: staging });
    // wasm-bindgen imports the module in the source phase (`import source`); workerd and
    // wrangler take a plain import of a .wasm file as the compiled module it is.
    writeFileSync(JS_PATH, readFileSync(JS_PATH, 'utf8').replace(/\bimport source\s+/g, 'import '));
    const module = join(staging, 'index_bg.wasm');
    if (optimize) {
      run(bin('wasm-opt'), ['-Os', '--gufa', '-Os', '--all-features', '--strip-debug', '--strip-producers', module, '-o', WASM_PATH]);
    } else {
      copyFileSync(module, WASM_PATH);
    }
    writeFileSync(STAMP, stamp);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}
