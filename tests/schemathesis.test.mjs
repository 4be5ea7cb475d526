// Schemathesis (PyPI) against the live worker: it generates requests from openapi.json (valid
// and invalid ones, and sequences that follow the document's links), sends them with a valid
// token for the path's user, and checks every response with all its checks: no 5xx, statuses,
// content types, headers and bodies as documented, invalid input rejected, valid input
// accepted, 405 with Allow for undocumented methods, deleted tasks gone, auth not ignored.
// The test passes only with zero failures and at least MIN_CASES generated cases.
//
// Schemathesis is installed on first use into a virtualenv in the tools cache
// (~/.cache/edge-task-api/venv, or $EDGE_TASK_API_TOOLS/venv), never into the clone. The full
// output is saved to results/schemathesis.txt (git-ignored).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { spawnManaged } from '../scripts/lib/processes.mjs';
import { which } from '../scripts/lib/system.mjs';
import { ROOT, step, TOOLS } from '../scripts/lib/toolchain.mjs';
import { now, signToken } from './support/api.mjs';
import { OPENAPI_PATH } from './support/openapi.mjs';
import { sharedStack } from './support/stack.mjs';

const SCHEMATHESIS_VERSION = '4.32.5';
const VENV = join(TOOLS, 'venv');
const SEED = '20261127';
const MAX_EXAMPLES_PER_OPERATION = '50';
const MIN_CASES = 500;
const RUN_TIMEOUT_MS = 240_000;
const USER_ID = 'schemathesis_user';

/** The schemathesis executable at the pinned version, installing it when missing. */
function ensureSchemathesis() {
  const bin = join(VENV, 'bin', 'schemathesis');
  const installed = existsSync(bin) ? spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout : '';
  if (installed?.includes(SCHEMATHESIS_VERSION)) return bin;
  step(`schemathesis ${SCHEMATHESIS_VERSION}: installing into ${VENV} (once per machine)`);
  const quiet = { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 600_000 };
  if (!existsSync(join(VENV, 'bin', 'python'))) {
    const venv = spawnSync('python3', ['-m', 'venv', VENV], quiet);
    assert.equal(venv.status, 0, `python3 -m venv failed:\n${venv.stdout}${venv.stderr}`);
  }
  const pip = spawnSync(join(VENV, 'bin', 'pip'), [
    'install', '--quiet', '--disable-pip-version-check', `schemathesis==${SCHEMATHESIS_VERSION}`,
  ], quiet);
  assert.equal(pip.status, 0, `pip install schemathesis failed:\n${pip.stdout}${pip.stderr}`);
  return bin;
}

/** Runs a command to completion without blocking the event loop (workerd's logs keep flowing). */
function runAsync(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawnManaged(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output });
    });
  });
}

const SKIP = which('python3') ? false : `Schemathesis needs Python 3 with venv: ${process.platform === 'darwin' ? 'brew install python' : 'sudo apt-get install python3-venv'}`;

describe('Schemathesis against the worker', { skip: SKIP }, () => {

let stack;
let workDir;
before(async () => {
  stack = await sharedStack('hyperdrive');
  workDir = mkdtempSync(join(tmpdir(), 'edge-task-api-schemathesis-'));
});
after(async () => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

test(`schemathesis: all checks, seed ${SEED}, at least ${MIN_CASES} cases, zero failures`, { timeout: 900_000 }, async (t) => {
  const schemathesis = ensureSchemathesis();
  const token = signToken({ sub: USER_ID, iat: now(), exp: now() + 3600 });
  const args = [
    '--config-file', join(ROOT, 'tests', 'support', 'schemathesis.toml'),
    'run', OPENAPI_PATH,
    '--url', stack.url,
    '--header', `Authorization: Bearer ${token}`,
    '--checks', 'all',
    '--max-response-time', '10',
    '--seed', SEED,
    '--max-examples', MAX_EXAMPLES_PER_OPERATION,
    '--generation-database', 'none',
    '--request-timeout', '20',
    '--no-color',
  ];

  const { code, signal, output } = await runAsync(schemathesis, args, {
    cwd: workDir,
    env: { ...process.env, ST_USER_ID: USER_ID, NO_COLOR: '1' },
  });
  mkdirSync(join(ROOT, 'results'), { recursive: true });
  writeFileSync(join(ROOT, 'results', 'schemathesis.txt'), output);

  const summary = output.slice(output.lastIndexOf('SUMMARY'));
  assert.equal(signal, null, `schemathesis was stopped (${signal}) after ${RUN_TIMEOUT_MS} ms:\n${output.slice(-4000)}`);
  assert.equal(code, 0, `schemathesis found failures (full output in results/schemathesis.txt):\n${output.slice(output.indexOf('FAILURES'))}`);
  const generated = Number(summary.match(/(\d+) generated/)?.[1] ?? 0);
  assert.ok(generated >= MIN_CASES, `only ${generated} cases were generated:\n${summary}`);
  assert.doesNotMatch(summary, /\d+ (failures?|errors?)\b/, summary);
  t.diagnostic(summary.split('\n').filter((line) => /generated|Tested|passed/.test(line)).join(' | '));
});

});
