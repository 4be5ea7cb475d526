// CPU time of processes, from /proc/PID/stat (Linux): utime + stime, in milliseconds. Used to
// charge the worker, the database and the load generator their CPU per request.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnManaged } from '../processes.mjs';

/** Clock ticks per second, the unit of /proc/PID/stat's times (100 on Linux). */
const TICKS_PER_SECOND = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;
const MS_PER_TICK = 1000 / TICKS_PER_SECOND;

/**
 * A process's /proc/PID/stat fields from the state on (field 3), or null when it is gone.
 * The command name (field 2) may hold spaces and parentheses, so split after the last ')'.
 */
function statFields(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

// Indexes into statFields(): fields 4, 14, 15, 16, 17 of proc(5), less 3.
const PPID = 1;
const UTIME = 11;
const STIME = 12;
const CUTIME = 13;
const CSTIME = 14;

/** CPU milliseconds a process has used itself (all its threads), or 0 when it is gone. */
export function processCpuMs(pid) {
  const fields = statFields(pid);
  return fields ? (Number(fields[UTIME]) + Number(fields[STIME])) * MS_PER_TICK : 0;
}

/**
 * CPU milliseconds of a process and all its children, living and exited. Exited children
 * count once their parent has reaped them (cutime/cstime); PostgreSQL's postmaster reaps its
 * per-connection backends as they end, so this covers connection-per-request load too.
 */
export function processTreeCpuMs(pid) {
  const fields = statFields(pid);
  if (!fields) return 0;
  let ticks = Number(fields[UTIME]) + Number(fields[STIME]) + Number(fields[CUTIME]) + Number(fields[CSTIME]);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const child = statFields(entry);
    if (child && Number(child[PPID]) === pid) ticks += Number(child[UTIME]) + Number(child[STIME]);
  }
  return ticks * MS_PER_TICK;
}

/**
 * Runs a command to completion and measures the CPU it used. A tiny shell runs it and, once
 * it has reaped it, reads its own children's CPU time (cutime + cstime) from /proc.
 * Asynchronous on purpose: the event loop must keep draining the worker's output meanwhile.
 * Resolves { status, stdout, stderr, cpuMs, wallMs }.
 */
export function runMeasured(command, args, { env, cwd, timeoutMs = 120_000, tempDir = tmpdir() } = {}) {
  const dir = mkdtempSync(join(tempDir, 'cpu-'));
  const statFile = join(dir, 'stat');
  const script = 'out=$1; shift; "$@"; code=$?; cat /proc/$$/stat > "$out"; exit $code';
  const started = performance.now();
  const child = spawnManaged('/bin/sh', ['-c', script, 'sh', statFile, command, ...args], {
    env,
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (status, signal) => {
      clearTimeout(timer);
      const wallMs = performance.now() - started;
      let cpuMs = 0;
      try {
        const text = readFileSync(statFile, 'utf8');
        const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
        cpuMs = (Number(fields[CUTIME]) + Number(fields[CSTIME])) * MS_PER_TICK;
      } catch {
        // Killed before it could write: no figure.
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ status: status ?? signal, stdout, stderr, cpuMs, wallMs });
    });
  });
}
