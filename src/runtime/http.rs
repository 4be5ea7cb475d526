//! The request and the response at the boundary with the runtime.
//!
//! Every call between wasm and JavaScript costs more than the work most of them do, so the
//! request's parts are read only when a route needs them (never the `cf` object, which the
//! runtime builds on first access), and a response crosses once: status, headers and body in
//! one call, instead of a call per header and more to assemble it.

use std::{borrow::Cow, cell::OnceCell};

use wasm_bindgen::prelude::*;
use worker::{js_sys, wasm_bindgen_futures::JsFuture, web_sys};

#[wasm_bindgen(module = "/src/runtime/http.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestParts)]
    fn request_parts(request: &web_sys::Request) -> String;

    #[wasm_bindgen(js_name = routeHeaders)]
    fn route_headers(request: &web_sys::Request) -> String;

    #[wasm_bindgen(catch)]
    fn respond(
        status: u16,
        body: Option<Vec<u8>>,
        headers: &str,
    ) -> Result<web_sys::Response, JsValue>;

    #[wasm_bindgen(js_name = readBody)]
    fn read_body(request: &web_sys::Request, limit: u32) -> js_sys::Promise;
}

/// The request headers every request reads, fetched with the method and URL in one call. The
/// JavaScript of `requestParts` lists them again, in this order.
const FIRST_HEADERS: [&str; 4] = ["cf-ray", "origin", "authorization", "cf-connecting-ip"];

/// The request headers only a route's handler reads, fetched in one call when the first of
/// them is asked for: a request refused before that (a 401, a 404) never reads them. The
/// JavaScript of `routeHeaders` lists them again, in this order.
const ROUTE_HEADERS: [&str; 5] = [
    "content-type",
    "content-length",
    "if-match",
    "if-none-match",
    "idempotency-key",
];

/// The incoming request.
pub struct Incoming {
    raw: web_sys::Request,
    method: String,
    url: String,
    first_headers: Vec<Option<String>>,
    route_headers: OnceCell<Vec<Option<String>>>,
}

/// Why a body could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// It is longer than the limit.
    TooLarge,
    /// The stream failed before its end.
    Unreadable,
}

impl Incoming {
    /// Wraps the runtime's request, reading its method, URL and [`FIRST_HEADERS`].
    pub fn new(raw: web_sys::Request) -> Self {
        let parts = request_parts(&raw);
        let mut parts = parts.split('\n');
        let method = parts.next().unwrap_or_default().to_owned();
        let url = parts.next().unwrap_or_default().to_owned();
        let first_headers = header_values(parts);
        Self {
            raw,
            method,
            url,
            first_headers,
            route_headers: OnceCell::new(),
        }
    }

    /// The method as sent (the runtime upper-cases the standard ones).
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The full URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL's path: the runtime's URLs are absolute and serialized, so it starts at the
    /// first `/` after the authority and ends at the query or fragment.
    pub fn path(&self) -> &str {
        path_of(&self.url)
    }

    /// A header's value, if the request has it. Only [`FIRST_HEADERS`] and [`ROUTE_HEADERS`]
    /// are read.
    pub fn header(&self, name: &str) -> Option<String> {
        let position = |names: &[&str]| {
            names
                .iter()
                .position(|known| known.eq_ignore_ascii_case(name))
        };
        if let Some(index) = position(&FIRST_HEADERS) {
            return self.first_headers.get(index)?.clone();
        }
        let index = position(&ROUTE_HEADERS);
        debug_assert!(index.is_some(), "{name} is not a header the API reads");
        let route_headers = self
            .route_headers
            .get_or_init(|| header_values(route_headers(&self.raw).split('\n')));
        route_headers.get(index?)?.clone()
    }

    /// The body, read to its end unless it grows past `limit` bytes.
    pub async fn body(&self, limit: usize) -> Result<Vec<u8>, BodyError> {
        let limit = u32::try_from(limit).unwrap_or(u32::MAX);
        let value = JsFuture::from(read_body(&self.raw, limit))
            .await
            .map_err(|_| BodyError::Unreadable)?;
        if value.is_null() {
            return Err(BodyError::TooLarge);
        }
        Ok(js_sys::Uint8Array::unchecked_from_js(value).to_vec())
    }
}

/// Header values as `requestParts` and `routeHeaders` send them: NUL for an absent header.
fn header_values<'a>(values: impl Iterator<Item = &'a str>) -> Vec<Option<String>> {
    values
        .map(|value| (value != "\0").then(|| value.to_owned()))
        .collect()
}

/// The path of an absolute URL.
fn path_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    let rest = &url[after_scheme..];
    let path = rest.find('/').map_or("", |index| &rest[index..]);
    let end = path.find(['?', '#']).unwrap_or(path.len());
    match &path[..end] {
        "" => "/",
        path => path,
    }
}

/// A response being built: status, headers and body, sent to the runtime in one piece.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    status: u16,
    /// Most values are constants (`no-store`, `Origin`, a content type): borrowed, not copied.
    headers: Vec<(&'static str, Cow<'static, str>)>,
    body: Option<Vec<u8>>,
}

impl Reply {
    /// A response with this status and body (`None`: no body, as 204 and 304 require).
    pub fn new(status: u16, body: Option<Vec<u8>>) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
        }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// A header's value, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_ref())
    }

    /// Sets a header, replacing any value it had.
    pub fn set(&mut self, name: &'static str, value: impl Into<Cow<'static, str>>) {
        let value = value.into();
        match self
            .headers
            .iter_mut()
            .find(|(existing, _)| existing.eq_ignore_ascii_case(name))
        {
            Some(slot) => slot.1 = value,
            None => self.headers.push((name, value)),
        }
    }

    /// The response with a header set.
    pub fn with(mut self, name: &'static str, value: impl Into<Cow<'static, str>>) -> Self {
        self.set(name, value);
        self
    }

    /// Hands the response to the runtime. A header value with a line break (none of ours can
    /// have one; an echoed request header cannot either) is dropped rather than let it split
    /// the list the runtime receives.
    pub fn into_js(self) -> Result<web_sys::Response, String> {
        let mut headers = String::with_capacity(256);
        for (name, value) in &self.headers {
            if value.contains(['\n', '\r']) {
                continue;
            }
            headers.push_str(name);
            headers.push('\n');
            headers.push_str(value);
            headers.push('\n');
        }
        respond(self.status, self.body, &headers).map_err(|error| {
            crate::runtime::js::error_message(&error, "the runtime refused the response")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_javascript_reads_the_same_headers_in_the_same_order() {
        let listed = |constant: &str| -> Vec<String> {
            include_str!("http.js")
                .split_once(&format!("const {constant} = ["))
                .and_then(|(_, rest)| rest.split_once("];"))
                .map(|(list, _)| list)
                .unwrap_or_else(|| panic!("http.js declares {constant}"))
                .split(',')
                .map(|name| name.trim().trim_matches('\'').to_owned())
                .collect()
        };
        assert_eq!(listed("FIRST_HEADERS"), FIRST_HEADERS);
        assert_eq!(listed("ROUTE_HEADERS"), ROUTE_HEADERS);
    }

    #[test]
    fn the_path_is_cut_from_the_serialized_url() {
        for (url, path) in [
            (
                "https://api.example.com/api/u1/tasks?limit=5",
                "/api/u1/tasks",
            ),
            ("http://127.0.0.1:8787/health#top", "/health"),
            ("https://api.example.com", "/"),
            (
                "https://api.example.com/api/a%20b/tasks/",
                "/api/a%20b/tasks/",
            ),
        ] {
            assert_eq!(path_of(url), path, "{url}");
        }
    }

    #[test]
    fn headers_are_set_once_by_name_whatever_the_case() {
        let reply = Reply::new(200, None)
            .with("ETag", "\"1\"")
            .with("etag", "\"2\"")
            .with("Link", "<x>; rel=\"next\"");
        assert_eq!(reply.header("ETAG"), Some("\"2\""));
        assert_eq!(reply.headers.len(), 2);
    }
}
