//! Domain types. Each one validates on construction, so a value that exists is a valid value:
//! handlers parse raw input into these types and the store only ever sees them.
//!
//! - [`values`]: the values a task is made of and a request names (ids, title, dates, tags);
//! - [`query`]: what a request asks for (a list's filters and page, the feed's position);
//! - [`task`]: the task, its fields declared once, and its JSON;
//! - [`fields`]: how one declaration of fields drives the rest.

pub mod fields;
pub mod query;
pub mod task;
pub mod values;

pub use fields::{JsonArray, Param};
pub use query::*;
pub use task::*;
pub use values::*;
