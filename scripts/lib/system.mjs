// System tools that npm does not ship: the benchmark's load generator (wrk), connection pooler
// (PgBouncer) and PostgreSQL's benchmark client (pgbench), and a Chromium for the browser test.
// Each is found by name on PATH (plus the sbin directories, where PgBouncer lives). When one is
// missing, it is installed with apt-get only when running as root on a machine that has
// apt-get, with one `apt-get update` per process; otherwise the caller gets the command that
// installs it, to skip the one test that needs it with that message.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { step } from './toolchain.mjs';

/** The tools: the names each goes by, and the Debian and Homebrew packages that ship it. */
const SYSTEM_TOOLS = {
  wrk: { names: ['wrk'], apt: 'wrk', brew: 'wrk' },
  pgbouncer: { names: ['pgbouncer'], apt: 'pgbouncer', brew: 'pgbouncer' },
  pgbench: { names: ['pgbench'], apt: 'postgresql-client', brew: 'postgresql@17' },
  chromium: { names: ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'], apt: 'chromium', brew: '--cask chromium' },
};

/** Directories searched besides PATH: pgbouncer lives in /usr/sbin, often not on a user's PATH. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/local/sbin', '/usr/bin', '/usr/local/bin', '/opt/homebrew/bin'];

/** The absolute path of an executable, or null. */
export function which(name) {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

function locate(tool) {
  for (const name of SYSTEM_TOOLS[tool].names) {
    const path = which(name);
    if (path) return path;
  }
  return null;
}

/** How a user installs these tools on this platform. */
function installHint(tools) {
  const packages = (manager) => [...new Set(tools.map((tool) => SYSTEM_TOOLS[tool][manager]))].join(' ');
  return process.platform === 'darwin' ? `brew install ${packages('brew')}` : `sudo apt-get install ${packages('apt')}`;
}

let aptUpdated = false;

function apt(args) {
  const result = spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    timeout: 900_000,
  });
  if (result.error) throw new Error(`apt-get ${args[0]}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`apt-get ${args.join(' ')} exited with ${result.status}:\n${result.stderr.trim()}`);
  }
}

/**
 * Finds the tools, installing missing ones with apt-get when that is allowed (root, apt-get
 * present). Returns { paths: { tool: path }, missing: [tool], hint } where `hint` says how to
 * install what is still missing.
 */
export function findSystemTools(tools) {
  let missing = tools.filter((tool) => !locate(tool));
  if (missing.length > 0 && process.getuid?.() === 0 && which('apt-get')) {
    if (!aptUpdated) {
      step('apt-get update');
      apt(['update', '-qq']);
      aptUpdated = true;
    }
    const packages = [...new Set(missing.map((tool) => SYSTEM_TOOLS[tool].apt))];
    step(`apt-get install ${packages.join(' ')}`);
    apt(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
    missing = tools.filter((tool) => !locate(tool));
  }
  const paths = Object.fromEntries(tools.map((tool) => [tool, locate(tool)]));
  return { paths, missing, hint: missing.length > 0 ? installHint(missing) : null };
}

/** The benchmark's tools as absolute paths { wrk, pgbouncer, pgbench }; throws naming what to install. */
export function ensureBenchTools() {
  const { paths, missing, hint } = findSystemTools(['wrk', 'pgbouncer', 'pgbench']);
  if (missing.length > 0) throw new Error(`the benchmark needs ${missing.join(', ')}: ${hint}`);
  for (const [name, path] of Object.entries(paths)) step(`${name}: ${path}`);
  return paths;
}

/** A short description of the machine: CPU model, core count, memory, OS. */
export function machine() {
  const cpuinfo = safeRead('/proc/cpuinfo');
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1]?.trim() ?? 'unknown CPU';
  const meminfo = safeRead('/proc/meminfo');
  const memKiB = Number(meminfo.match(/^MemTotal:\s*(\d+)/m)?.[1] ?? 0);
  const os = safeRead('/etc/os-release').match(/^PRETTY_NAME="?([^"\n]+)"?$/m)?.[1] ?? process.platform;
  const cores = Number(spawnSync('nproc', { encoding: 'utf8' }).stdout?.trim()) || undefined;
  return { cpu: model, cores, memoryGiB: Math.round(memKiB / 1024 / 1024), os };
}

function safeRead(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
