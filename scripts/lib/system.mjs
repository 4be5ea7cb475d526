// System tools the benchmark needs that npm does not ship: the load generator (wrk), the
// connection pooler (PgBouncer) and PostgreSQL's own benchmark client (pgbench). They come
// from Debian's apt; each is installed only when missing, with one progress line per step.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { step } from './toolchain.mjs';

/** The tools, with the Debian package each comes from. */
const TOOLS = [
  { name: 'wrk', pkg: 'wrk' },
  { name: 'pgbouncer', pkg: 'pgbouncer' },
  { name: 'pgbench', pkg: 'postgresql-client' },
];

/** Directories searched besides PATH: pgbouncer lives in /usr/sbin, often not on a user's PATH. */
const EXTRA_DIRS = ['/usr/sbin', '/usr/bin', '/usr/local/bin'];

/** The absolute path of an executable, or null. */
export function which(name) {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...EXTRA_DIRS];
  for (const dir of dirs) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

function apt(args) {
  const result = spawnSync('apt-get', args, {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (result.error) throw new Error(`apt-get ${args[0]}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`apt-get ${args.join(' ')} exited with ${result.status}:\n${result.stderr.trim()}`);
  }
}

/**
 * Makes sure wrk, pgbouncer and pgbench exist, installing the missing ones with apt-get
 * (`apt-get update` once, then one `apt-get install`). Returns { wrk, pgbouncer, pgbench }
 * as absolute paths.
 */
export function ensureBenchTools() {
  const missing = TOOLS.filter((tool) => !which(tool.name));
  for (const tool of TOOLS.filter((tool) => !missing.includes(tool))) step(`${tool.name}: present`);
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      throw new Error(
        `missing ${missing.map((tool) => tool.name).join(', ')}; install them with ` +
          `sudo apt-get install ${missing.map((tool) => tool.pkg).join(' ')}`,
      );
    }
    step('apt-get update');
    apt(['update', '-qq']);
    const packages = [...new Set(missing.map((tool) => tool.pkg))];
    step(`apt-get install ${packages.join(' ')}`);
    apt(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
  }
  const paths = Object.fromEntries(TOOLS.map((tool) => [tool.name, which(tool.name)]));
  for (const [name, path] of Object.entries(paths)) {
    if (!path) throw new Error(`${name} is still missing after apt-get install`);
  }
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
