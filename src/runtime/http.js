// The JavaScript side of src/runtime/http.rs: reading the request and building the response, each in
// one call from the wasm.

// The headers every request reads, and those only a route's handler reads, each list in the
// order of its namesake in http.rs (a unit test compares them).
const FIRST_HEADERS = ['cf-ray', 'origin', 'authorization', 'cf-connecting-ip'];
const ROUTE_HEADERS = ['content-type', 'content-length', 'if-match', 'if-none-match', 'idempotency-key'];

// Each header's value after a line break: one string to decode instead of one per header.
// Line breaks cannot occur in a header value; NUL marks an absent header.
function values(headers, names) {
  let parts = '';
  for (const name of names) parts += '\n' + (headers.get(name) ?? '\0');
  return parts;
}

// The method, the URL and the first headers, in one call.
export function requestParts(request) {
  return request.method + '\n' + request.url + values(request.headers, FIRST_HEADERS);
}

// The route's headers, in one call; without the leading line break.
export function routeHeaders(request) {
  return values(request.headers, ROUTE_HEADERS).slice(1);
}

// The response in one call: the headers come as name and value lines (the names are the
// worker's own constants) and go to the runtime as one init object, read in one go rather
// than by a call per header.
export function respond(status, body, headers) {
  const init = {};
  const parts = headers.split('\n');
  for (let i = 0; i + 1 < parts.length; i += 2) init[parts[i]] = parts[i + 1];
  return new Response(body ?? null, { status, headers: init });
}

// The body, read to its end; null once it grows past `limit` bytes.
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
