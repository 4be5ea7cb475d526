// The database floor: pgbench running the worker's own statements with a new connection per
// transaction (-C), as the worker connects once per request. Its throughput is what the
// database and the connection model allow at best; the API is compared against it.

import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runMeasured } from './cpu.mjs';

/** The value at quantile q (0..1) of ascending numbers, nearest-rank; NaN when empty. */
export function percentile(sorted, q) {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/**
 * Per-transaction latencies in milliseconds from pgbench's transaction logs (--log), each
 * including its new connection. pgbench's own per-transaction time starts after connecting,
 * so the time between a client's consecutive completions is used instead: with -C a client
 * disconnects, reconnects and runs the next transaction back to back. A client's first
 * transaction has no predecessor and falls back to pgbench's own time.
 */
function latenciesFromLogs(dir) {
  const byClient = new Map();
  for (const file of readdirSync(dir).filter((name) => name.startsWith('tx.'))) {
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      // client_id transaction_no time script_no time_epoch time_us
      const [client, , time, , epoch, micros] = line.trim().split(/\s+/).map(Number);
      if (!Number.isFinite(micros)) continue;
      const list = byClient.get(client) ?? [];
      list.push({ doneUs: epoch * 1e6 + micros, timeUs: time });
      byClient.set(client, list);
    }
  }
  const latencies = [];
  for (const list of byClient.values()) {
    list.sort((a, b) => a.doneUs - b.doneUs);
    list.forEach((entry, index) => {
      latencies.push((index === 0 ? entry.timeUs : entry.doneUs - list[index - 1].doneUs) / 1000);
    });
  }
  return latencies.sort((a, b) => a - b);
}

/**
 * Runs pgbench against { host, port, user, password, database } with the given scripts
 * (texts, chosen at random per transaction) and -D variables, `concurrency` clients, a new
 * connection per transaction, in extended query mode (Parse/Bind/Execute with an unnamed
 * statement, as the worker's driver sends). Runs for `seconds`, or `transactions` per client
 * when given. Resolves { transactions, tps, p50Ms, p99Ms, errors, cpuMs, durationS }.
 */
export async function runPgbench({ target, scripts, defines = {}, concurrency, seconds, transactions, tempDir = tmpdir() }) {
  if (target.host !== '127.0.0.1') throw new Error('the benchmark only targets 127.0.0.1');
  const dir = mkdtempSync(join(tempDir, 'pgbench-'));
  try {
    const files = scripts.map((text, index) => {
      const path = join(dir, `script-${index}.sql`);
      writeFileSync(path, `${text.trim()}\n`);
      return path;
    });
    const args = [
      '--no-vacuum',
      '--protocol=extended',
      '--connect',
      `--client=${concurrency}`,
      `--jobs=${Math.max(1, Math.min(concurrency, cpus().length))}`,
      transactions ? `--transactions=${transactions}` : `--time=${seconds}`,
      '--log',
      `--log-prefix=${join(dir, 'tx')}`,
      ...files.flatMap((file) => ['--file', file]),
      ...Object.entries(defines).flatMap(([name, value]) => ['--define', `${name}=${value}`]),
      `--host=${target.host}`,
      `--port=${target.port}`,
      `--username=${target.user}`,
      target.database,
    ];
    const env = { ...process.env, PGPASSWORD: target.password, PGSSLMODE: 'disable', PGAPPNAME: 'bench-floor' };
    const run = await runMeasured('pgbench', args, { env, cwd: dir, tempDir: dir, timeoutMs: ((seconds ?? 30) + 60) * 1000 });
    const output = `${run.stdout}\n${run.stderr}`;
    // pgbench exits 2 when clients aborted on an error; anything else non-zero is a failure to run.
    if (run.status !== 0 && run.status !== 2) throw new Error(`pgbench failed (${run.status}):\n${output.trim()}`);
    const processed = Number(output.match(/number of transactions actually processed: (\d+)/)?.[1]);
    const failed = Number(output.match(/number of failed transactions: (\d+)/)?.[1] ?? 0);
    const aborted = (output.match(/client \d+ .*aborted/g) ?? []).length;
    const tps = Number(output.match(/^tps = ([\d.]+)/m)?.[1]);
    if (!Number.isFinite(processed) || !Number.isFinite(tps)) {
      throw new Error(`could not read pgbench's results:\n${output.trim()}`);
    }
    const latencies = latenciesFromLogs(dir);
    return {
      transactions: processed,
      tps,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      errors: failed + aborted,
      errorDetail: failed + aborted > 0 ? output.split('\n').filter((line) => /error/i.test(line)).slice(0, 3).join('\n') : undefined,
      cpuMs: run.cpuMs,
      durationS: run.wallMs / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
