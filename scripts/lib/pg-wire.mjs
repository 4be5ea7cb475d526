// PostgreSQL's wire protocol (version 3.0): the few messages the tests, the benchmark's relay
// and its I/O floor worker write by hand, in one place.
//
// Plain JavaScript on Uint8Array and DataView with nothing from Node, because workerd loads this
// module as it is beside the I/O floor worker (scripts/lib/bench/floor-worker.mjs). In Node the
// results go wherever a Buffer does: Buffer.concat, socket.write, buffer.equals.
//
// Every message but the untyped ones is a type byte, an int32 length that counts itself but not
// the type, and a body. Untyped packets (the startup message and the requests sent before it)
// are an int32 length that counts itself, an int32 code, and a body. Integers are big-endian.

const encoder = new TextEncoder();

/** The startup message's code: protocol version 3.0. */
export const PROTOCOL_3_0 = 196608;
/** The code of an SSLRequest (the client asks for TLS before its startup message). */
export const SSL_REQUEST = 80877103;
/** The code of a GSSENCRequest (the client asks for GSSAPI encryption before its startup message). */
export const GSSENC_REQUEST = 80877104;

/** The protocol's String: UTF-8 ending in NUL. */
export const cString = (text) => encoder.encode(`${text}\0`);

/** An Int16. */
export function int16(value) {
  const out = new Uint8Array(2);
  new DataView(out.buffer).setInt16(0, value);
  return out;
}

/** An Int32. */
export function int32(value) {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setInt32(0, value);
  return out;
}

/** `parts` (byte arrays) one after the other, in a new Uint8Array. */
export function concat(parts) {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** A typed message: `type` (one character), then its length, then the `body` parts in order. */
export function message(type, ...body) {
  let length = 4;
  for (const part of body) length += part.length;
  const out = new Uint8Array(1 + length);
  out[0] = type.charCodeAt(0);
  new DataView(out.buffer).setInt32(1, length);
  let at = 5;
  for (const part of body) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** An untyped packet: its length, the int32 `code`, then the `body` parts in order. */
export function untyped(code, ...body) {
  let length = 8;
  for (const part of body) length += part.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  view.setInt32(0, length);
  view.setInt32(4, code);
  let at = 8;
  for (const part of body) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * The startup message of protocol 3.0 with `parameters` (an object: name to value, such as
 * { user, database }) in their order, ended by the empty name.
 */
export function startupMessage(parameters) {
  let pairs = '';
  for (const [name, value] of Object.entries(parameters)) pairs += `${name}\0${value}\0`;
  return untyped(PROTOCOL_3_0, encoder.encode(`${pairs}\0`));
}

/** A backend AuthenticationRequest ('R') with `code` (0 ok, 3 cleartext password, 5 MD5, ...) and its data. */
export const authenticationRequest = (code, ...data) => message('R', int32(code), ...data);

/** A Sync message, the whole of it. */
export const SYNC = message('S');
/** A Terminate message, the whole of it. */
export const TERMINATE = message('X');
