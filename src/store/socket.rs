//! A TCP connection from `cloudflare:sockets`, shaped for [`super::postgres::Wire`].
//!
//! The connection takes its stream reader and writer once and holds them for its lifetime:
//! locking and releasing them around every read and write (as a general-purpose
//! `AsyncRead`/`AsyncWrite` wrapper must) costs several calls into JavaScript per operation.
//! Here a flight is one call, and a read is one call and one copy. Writes are not awaited: the
//! stream queues them in order, and a failed write surfaces as a failed read.
//!
//! The connection carries its storage call's deadline as a timer of its own, which closes the
//! socket and fails the waiting read. It is closed when dropped (Terminate, then the stream),
//! so it cannot outlive the storage call that opened it.

use bytes::BytesMut;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use worker::{js_sys, wasm_bindgen_futures::JsFuture};

use super::{postgres::Wire, StoreError};

#[wasm_bindgen(inline_js = r#"
import { connect } from 'cloudflare:sockets';

class Connection {
  constructor(socket, limitMs) {
    this.socket = socket;
    this.reader = socket.readable.getReader();
    this.writer = socket.writable.getWriter();
    this.failure = undefined;
    this.limitMs = limitMs;
    // The storage call's deadline: closing the socket fails the read that is waiting.
    this.timer = setTimeout(() => {
      this.failure ??= new Error(`the database did not answer within ${limitMs / 1000} s`);
      socket.close().catch(() => {});
    }, limitMs);
  }
  write(bytes) {
    // A copy: the argument is a view of the module's memory, which the write outlives.
    this.writer.write(bytes.slice()).catch((error) => { this.failure ??= error; });
  }
  read() {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return this.reader.read().then(
      ({ value, done }) => (done ? undefined : value),
      (error) => { throw this.failure ?? error; },
    );
  }
  startTls() {
    clearTimeout(this.timer);
    this.reader.releaseLock();
    this.writer.releaseLock();
    return new Connection(this.socket.startTls(), this.limitMs);
  }
  close(farewell) {
    clearTimeout(this.timer);
    // The server ends the session on Terminate and closes its side, which closes the socket.
    this.writer.write(farewell.slice()).catch(() => {});
    this.writer.close().catch(() => {});
  }
}

export function openConnection(hostname, port, startTls, limitMs) {
  return new Connection(connect({ hostname, port }, { secureTransport: startTls ? 'starttls' : 'off' }), limitMs);
}
"#)]
extern "C" {
    type Connection;

    #[wasm_bindgen(catch, js_name = openConnection)]
    fn open_connection(
        hostname: &str,
        port: u16,
        start_tls: bool,
        limit_ms: u32,
    ) -> Result<Connection, JsValue>;

    #[wasm_bindgen(method)]
    fn write(this: &Connection, bytes: &[u8]);

    #[wasm_bindgen(method)]
    fn read(this: &Connection) -> js_sys::Promise;

    #[wasm_bindgen(method, catch, js_name = startTls)]
    fn start_tls(this: &Connection) -> Result<Connection, JsValue>;

    #[wasm_bindgen(method)]
    fn close(this: &Connection, farewell: &[u8]);
}

/// An open TCP connection; closed (after `farewell`) when dropped.
pub struct TcpConnection {
    connection: Connection,
    farewell: &'static [u8],
}

impl TcpConnection {
    /// Connects to `host:port`. With `tls_later`, the connection can be upgraded with
    /// [`Self::start_tls`] (the platform needs to know at connect time). Reads fail once
    /// `limit` has passed since the connection opened.
    pub fn open(
        host: &str,
        port: u16,
        tls_later: bool,
        limit: Duration,
        farewell: &'static [u8],
    ) -> Result<Self, StoreError> {
        let limit_ms = u32::try_from(limit.as_millis()).unwrap_or(u32::MAX);
        let connection = open_connection(host, port, tls_later, limit_ms).map_err(|error| {
            StoreError::Unavailable(format!(
                "opening a socket: {}",
                crate::runtime::js::error_message(&error, "unknown error")
            ))
        })?;
        Ok(Self {
            connection,
            farewell,
        })
    }

    /// Switches the connection to TLS; nothing read or written before carries over.
    pub fn start_tls(&mut self) -> Result<(), StoreError> {
        self.connection = self.connection.start_tls().map_err(|error| {
            StoreError::Unavailable(format!(
                "starting TLS: {}",
                crate::runtime::js::error_message(&error, "unknown error")
            ))
        })?;
        Ok(())
    }

    /// Queues `bytes` for sending.
    pub fn send(&mut self, bytes: &[u8]) {
        self.connection.write(bytes);
    }

    /// Appends the next chunk the server sent to `inbox`.
    pub async fn receive(&mut self, inbox: &mut BytesMut) -> Result<(), StoreError> {
        let chunk = JsFuture::from(self.connection.read())
            .await
            .map_err(|error| {
                StoreError::Unavailable(format!(
                    "reading from the database: {}",
                    crate::runtime::js::error_message(&error, "unknown error")
                ))
            })?;
        if chunk.is_undefined() {
            return Err(StoreError::Unavailable(
                "the database closed the connection".to_owned(),
            ));
        }
        let chunk = js_sys::Uint8Array::unchecked_from_js(chunk);
        let start = inbox.len();
        inbox.resize(start + chunk.length() as usize, 0);
        chunk.copy_to(&mut inbox[start..]);
        Ok(())
    }
}

impl Drop for TcpConnection {
    fn drop(&mut self) {
        self.connection.close(self.farewell);
    }
}

impl Wire for TcpConnection {
    async fn send(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        TcpConnection::send(self, bytes);
        Ok(())
    }

    async fn receive(&mut self, inbox: &mut BytesMut) -> Result<(), StoreError> {
        TcpConnection::receive(self, inbox).await
    }
}
