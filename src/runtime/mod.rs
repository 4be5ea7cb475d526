//! The plumbing between this crate and the Workers runtime: how a request's future is driven,
//! how requests, responses, timers, clocks and sockets cross the JavaScript boundary, and the
//! byte-level codecs (base64, JSON writing) the hot paths use. Nothing here knows about tasks.

pub mod base64;
pub mod deadline;
pub mod driver;
pub mod http;
pub mod js;
pub mod json;
pub mod net;
pub mod ratelimit;
