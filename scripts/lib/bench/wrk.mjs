// The HTTP load generator: wrk with a script that replays prepared requests and counts every
// response's status (see wrk.lua). Only ever pointed at 127.0.0.1.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runMeasured } from './cpu.mjs';

const SCRIPT = fileURLToPath(new URL('./wrk.lua', import.meta.url));

/**
 * One raw HTTP/1.1 request, as wrk sends it. `origin` is the worker's base URL; `body`, when
 * given, is sent as JSON.
 */
export function httpRequest(origin, { method, path, headers = {}, body }) {
  const url = new URL(path, origin);
  if (url.hostname !== '127.0.0.1') throw new Error(`the benchmark only targets 127.0.0.1, not ${url.hostname}`);
  const lines = [`${method} ${url.pathname}${url.search} HTTP/1.1`, `Host: ${url.host}`];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  const payload = body === undefined ? '' : JSON.stringify(body);
  if (body !== undefined) lines.push('Content-Type: application/json');
  if (body !== undefined || ['POST', 'PUT', 'PATCH'].includes(method)) {
    lines.push(`Content-Length: ${Buffer.byteLength(payload)}`);
  }
  return `${lines.join('\r\n')}\r\n\r\n${payload}`;
}

/**
 * Sends one request prepared for wrk (see httpRequest) with fetch, for checks outside a load
 * run. Resolves { status, headers, text }.
 */
export async function sendRaw(origin, raw) {
  const [head, body] = raw.split('\r\n\r\n');
  const [requestLine, ...headerLines] = head.split('\r\n');
  const [method, path] = requestLine.split(' ');
  const headers = Object.fromEntries(
    headerLines.map((line) => line.split(/:\s*/, 2)).filter(([name]) => !/^(host|content-length)$/i.test(name)),
  );
  const response = await fetch(new URL(path, origin), { method, headers, body: body || undefined });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

/**
 * Runs wrk against `origin` with `requests` (raw HTTP strings) over `concurrency` keep-alive
 * connections, one per wrk thread (so the script can time each request; see wrk.lua), each
 * thread taking its own share of the requests in turn. Resolves with the run's figures:
 * { requests, durationS, rps, p50Ms, p90Ms, p99Ms, maxMs, meanMs, statuses, unexpected, socketErrors,
 *   errors, highestIndex, cpuMs }
 * where `errors` counts socket errors, timeouts and every status other than `expect`.
 */
export async function runWrk({ origin, requests, expect, concurrency, seconds, timeoutS = 10, tempDir = tmpdir() }) {
  if (new URL(origin).hostname !== '127.0.0.1') throw new Error('the benchmark only targets 127.0.0.1');
  const threads = concurrency;
  const dir = mkdtempSync(join(tempDir, 'wrk-'));
  try {
    const file = join(dir, 'requests.txt');
    writeFileSync(
      file,
      requests
        .map((request) => {
          if (/[\t\n]/.test(request.replaceAll('\r\n', ''))) throw new Error('a request holds a tab or bare newline');
          return request.replaceAll('\r\n', '\t');
        })
        .join('\n') + '\n',
    );
    const args = [
      `--threads=${threads}`,
      `--connections=${concurrency}`,
      `--duration=${seconds}s`,
      `--timeout=${timeoutS}s`,
      `--script=${SCRIPT}`,
      origin,
      '--',
      file,
      String(threads),
    ];
    const run = await runMeasured('wrk', args, { timeoutMs: (seconds + timeoutS + 30) * 1000, tempDir: dir });
    const line = run.stdout.split('\n').find((text) => text.startsWith('BENCH_RESULT '));
    if (run.status !== 0 || !line) {
      throw new Error(`wrk failed (${run.status}):\n${run.stderr}${run.stdout}`.trim());
    }
    const result = JSON.parse(line.slice('BENCH_RESULT '.length));
    const durationS = result.duration_us / 1e6;
    const answered = Object.values(result.statuses).reduce((sum, count) => sum + count, 0);
    const unexpected = answered - (result.statuses[expect] ?? 0);
    const socketErrors = Object.values(result.socket_errors).reduce((sum, count) => sum + count, 0);
    return {
      requests: result.requests,
      durationS,
      rps: result.requests / durationS,
      p50Ms: result.latency_us.p50 / 1000,
      p90Ms: result.latency_us.p90 / 1000,
      p99Ms: result.latency_us.p99 / 1000,
      maxMs: result.latency_us.max / 1000,
      meanMs: result.latency_us.mean / 1000,
      statuses: result.statuses,
      unexpected,
      socketErrors: result.socket_errors,
      errors: unexpected + socketErrors,
      highestIndex: result.highest_index,
      threads,
      cpuMs: run.cpuMs,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
