// HS256 JWTs as Better Auth's secret signs them, for the tests and the benchmark.

import { createHmac } from 'node:crypto';

const base64url = (data) => Buffer.from(data).toString('base64url');

/**
 * Signs `claims` with HMAC-SHA-256 under `secret`. `header` is sent as given, so tests can
 * claim another algorithm over a valid HS256 signature.
 */
export function signJwt(claims, secret, header = { alg: 'HS256', typ: 'JWT' }) {
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  return `${signingInput}.${createHmac('sha256', secret).update(signingInput).digest('base64url')}`;
}
