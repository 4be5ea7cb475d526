// The JavaScript side of src/http.rs: reading the request and building the response, each in
// one call from the wasm.

// The headers the API reads, in the order of HEADERS in http.rs (a unit test compares them).
const HEADERS = ['cf-ray', 'origin', 'authorization', 'content-type', 'content-length', 'if-match',
  'if-none-match', 'idempotency-key'];

// The method, the URL and those headers in one string: one call and one string to decode
// instead of one per part. Line breaks cannot occur in any of them; NUL marks an absent header.
export function requestParts(request) {
  const headers = request.headers;
  let parts = request.method + '\n' + request.url;
  for (const name of HEADERS) parts += '\n' + (headers.get(name) ?? '\0');
  return parts;
}

export function respond(status, body, headers) {
  const init = new Headers();
  const parts = headers.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) init.set(parts[i], parts[i + 1]);
  return new Response(body ?? null, { status, headers: init });
}

export async function readBody(request, limit) {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.length;
  }
  return body;
}
