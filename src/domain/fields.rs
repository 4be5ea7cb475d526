//! How one declaration of a resource's fields drives everything else about them.
//!
//! A resource (see [`super::task`]) lists its fields once, in a `describe_resource!` table:
//! each field's JSON name (which is also its column), the SQL expression that reads it as
//! text, the type it is stored as and, for a field the client writes, the type its input
//! parses into. The macro derives from that table, at compile time:
//! - the resource's struct, its column list, its row decoder and its JSON writer;
//! - the create input and the partial update, with their parsers and error lists;
//! - the parameters the insert and the update bind, in the table's order;
//! - the idempotency digest of a create.
//!
//! The traits here say how each type plays each part: [`Stored`] for a value read from a row
//! and written to JSON, [`Input`] for a value parsed from a request and bound to a statement.
//! Everything is monomorphized: a derived writer is the same calls a hand-written one would
//! make, with no reflection at run time.

use serde_json::Value;

use super::values::{Description, DueDate, FieldError, Priority, Tags, Title};
use crate::runtime::json::Object;

/// A value as a statement parameter. Parameters travel as text or boolean; the statement casts
/// them (`$3::date`), which keeps their types identical whichever transport sends them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// A text value or NULL.
    Text(Option<String>),
    /// A boolean value or NULL.
    Bool(Option<bool>),
}

/// What an update does to one written field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Leave it; the NULL of its parameter's kind, for the statement's fixed shape.
    Keep(Param),
    /// Set it to this parameter (a nullable field's NULL clears it).
    Set(Param),
}

/// One field of a resource's description, as the statements and checks see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The JSON name, which is also the column's name.
    pub name: &'static str,
    /// The SQL expression that reads the column as the text [`Stored::decode`] expects.
    pub select: &'static str,
    /// How the client writes it; `None` for a field only the database sets.
    pub input: Option<InputField>,
}

/// How a client-written field is bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputField {
    /// The SQL type its parameter is cast to.
    pub cast: &'static str,
    /// Whether `null` is a value (it clears the field) rather than a type error.
    pub nullable: bool,
    /// A valid JSON value for it that is not its default, for unit tests.
    #[cfg(test)]
    pub example: &'static str,
}

impl InputField {
    /// How a field of input type `T` is bound.
    pub const fn of<T: Input>() -> Self {
        Self {
            cast: T::CAST,
            nullable: T::NULLABLE,
            #[cfg(test)]
            example: T::EXAMPLE,
        }
    }
}

/// A stored value: decoded from its text column, written into the resource's JSON object.
pub trait Stored: Sized {
    /// The value of a column as the field's `select` renders it; `None` when the text is not
    /// one (a NULL where none may be, a rank out of range): the row is malformed.
    fn decode(column: Option<String>) -> Option<Self>;
    /// Writes `"name":value` into the object.
    fn write_json(&self, name: &'static str, object: &mut Object);
    /// The most bytes the JSON value can take, every character escaped at its longest
    /// (`\u00XX`, six bytes for one): cheap to sum, to know when a page needs measuring.
    fn json_bound(&self) -> usize;
    /// A column that decodes, for unit tests' placeholder rows: NULL where NULL is a value.
    #[cfg(test)]
    const PLACEHOLDER: Option<&'static str>;
}

/// A client-written value: parsed from the request's JSON and bound as a parameter.
pub trait Input: Sized {
    /// The SQL type its parameter is cast to.
    const CAST: &'static str;
    /// Whether `null` is a value of the field.
    const NULLABLE: bool;
    /// The NULL of its parameter's kind: what an update binds for a field it leaves alone.
    const NULL: Param;
    /// Parses the field's JSON value.
    fn parse(field: &'static str, value: &Value) -> Result<Self, FieldError>;
    /// What a create that leaves the field out gets; `None` when the field is required.
    fn when_absent() -> Option<Self>;
    /// The value as a statement parameter.
    fn param(&self) -> Param;
    /// The value in the create's idempotency digest.
    fn digest(&self) -> Value;
    /// A valid JSON value that is not the default, for unit tests.
    #[cfg(test)]
    const EXAMPLE: &'static str;
}

impl Stored for String {
    #[cfg(test)]
    const PLACEHOLDER: Option<&'static str> = Some("x");
    fn decode(column: Option<String>) -> Option<Self> {
        column
    }
    fn write_json(&self, name: &'static str, object: &mut Object) {
        object.str(name, self);
    }
    fn json_bound(&self) -> usize {
        2 + 6 * self.len()
    }
}

impl Stored for Option<String> {
    #[cfg(test)]
    const PLACEHOLDER: Option<&'static str> = None;
    fn decode(column: Option<String>) -> Option<Self> {
        Some(column)
    }
    fn write_json(&self, name: &'static str, object: &mut Object) {
        object.optional_str(name, self.as_deref());
    }
    fn json_bound(&self) -> usize {
        self.as_ref().map_or(4, Stored::json_bound)
    }
}

impl Stored for bool {
    #[cfg(test)]
    const PLACEHOLDER: Option<&'static str> = Some("false");
    fn decode(column: Option<String>) -> Option<Self> {
        match column.as_deref() {
            Some("true") => Some(true),
            Some("false") => Some(false),
            _ => None,
        }
    }
    fn write_json(&self, name: &'static str, object: &mut Object) {
        object.bool(name, *self);
    }
    fn json_bound(&self) -> usize {
        5
    }
}

impl Stored for Priority {
    #[cfg(test)]
    const PLACEHOLDER: Option<&'static str> = Some("0");
    fn decode(column: Option<String>) -> Option<Self> {
        column.as_deref().and_then(Priority::from_rank)
    }
    fn write_json(&self, name: &'static str, object: &mut Object) {
        object.str(name, self.name());
    }
    fn json_bound(&self) -> usize {
        2 + self.name().len()
    }
}

/// A `text[]` column as the JSON array of strings the database renders for it
/// (`to_json(tags)`: compact, escaped as JSON requires), passed through as it is. Parsing
/// every row's tags only to write them out again cost more than the rest of the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonArray(String);

impl JsonArray {
    /// The database's JSON text, if it is an array.
    pub fn new(json: String) -> Option<Self> {
        (json.starts_with('[') && json.ends_with(']')).then_some(Self(json))
    }

    /// The JSON array.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Stored for JsonArray {
    #[cfg(test)]
    const PLACEHOLDER: Option<&'static str> = Some("[]");
    fn decode(column: Option<String>) -> Option<Self> {
        column.and_then(Self::new)
    }
    fn write_json(&self, name: &'static str, object: &mut Object) {
        object.raw(name, &self.0);
    }
    fn json_bound(&self) -> usize {
        self.0.len()
    }
}

impl Input for Title {
    #[cfg(test)]
    const EXAMPLE: &'static str = r#""another title""#;
    const CAST: &'static str = "text";
    const NULLABLE: bool = false;
    const NULL: Param = Param::Text(None);
    fn parse(field: &'static str, value: &Value) -> Result<Self, FieldError> {
        string(field, value).and_then(Title::parse)
    }
    fn when_absent() -> Option<Self> {
        None
    }
    fn param(&self) -> Param {
        Param::Text(Some(self.as_str().to_owned()))
    }
    fn digest(&self) -> Value {
        self.as_str().into()
    }
}

impl Input for Option<Description> {
    #[cfg(test)]
    const EXAMPLE: &'static str = r#""some notes""#;
    const CAST: &'static str = "text";
    const NULLABLE: bool = true;
    const NULL: Param = Param::Text(None);
    fn parse(field: &'static str, value: &Value) -> Result<Self, FieldError> {
        match value {
            Value::Null => Ok(None),
            Value::String(text) => Description::parse(text).map(Some),
            other => Err(FieldError::new(
                field,
                format!("must be a string or null, not {}", json_kind(other)),
            )),
        }
    }
    fn when_absent() -> Option<Self> {
        Some(None)
    }
    fn param(&self) -> Param {
        Param::Text(self.as_ref().map(|text| text.as_str().to_owned()))
    }
    fn digest(&self) -> Value {
        self.as_ref().map(Description::as_str).into()
    }
}

impl Input for bool {
    #[cfg(test)]
    const EXAMPLE: &'static str = r#"true"#;
    const CAST: &'static str = "boolean";
    const NULLABLE: bool = false;
    const NULL: Param = Param::Bool(None);
    fn parse(field: &'static str, value: &Value) -> Result<Self, FieldError> {
        boolean(field, value)
    }
    fn when_absent() -> Option<Self> {
        Some(false)
    }
    fn param(&self) -> Param {
        Param::Bool(Some(*self))
    }
    fn digest(&self) -> Value {
        (*self).into()
    }
}

impl Input for Option<DueDate> {
    #[cfg(test)]
    const EXAMPLE: &'static str = r#""2026-12-24""#;
    const CAST: &'static str = "date";
    const NULLABLE: bool = true;
    const NULL: Param = Param::Text(None);
    fn parse(field: &'static str, value: &Value) -> Result<Self, FieldError> {
        match value {
            // An empty `<input type="date">` sends "": no date, as null is.
            Value::Null => Ok(None),
            Value::String(text) if text.is_empty() => Ok(None),
            Value::String(text) => DueDate::parse(field, text).map(Some),
            other => Err(FieldError::new(
                field,
                format!(
                    "must be a date string (YYYY-MM-DD) or null, not {}",
                    json_kind(other)
                ),
            )),
        }
    }
    fn when_absent() -> Option<Self> {
        Some(None)
    }
    fn param(&self) -> Param {
        Param::Text(self.map(DueDate::to_text))
    }
    fn digest(&self) -> Value {
        self.map(DueDate::to_text).into()
    }
}

impl Input for Priority {
    #[cfg(test)]
    const EXAMPLE: &'static str = r#""high""#;
    const CAST: &'static str = "smallint";
    const NULLABLE: bool = false;
    const NULL: Param = Param::Text(None);
    fn parse(field: &'static str, value: &Value) -> Result<Self, FieldError> {
        string(field, value).and_then(|text| Priority::parse(field, text))
    }
    fn when_absent() -> Option<Self> {
        Some(Priority::default())
    }
    fn param(&self) -> Param {
        Param::Text(Some(self.rank().to_string()))
    }
    fn digest(&self) -> Value {
        self.rank().into()
    }
}

impl Input for Tags {
    #[cfg(test)]
    const EXAMPLE: &'static str = r#"["home"]"#;
    const CAST: &'static str = "text[]";
    const NULLABLE: bool = false;
    const NULL: Param = Param::Text(None);
    fn parse(field: &'static str, value: &Value) -> Result<Self, FieldError> {
        let Value::Array(items) = value else {
            return Err(FieldError::new(
                field,
                format!("must be an array of strings, not {}", json_kind(value)),
            ));
        };
        let texts = items
            .iter()
            .map(|item| {
                item.as_str().ok_or_else(|| {
                    FieldError::new(
                        field,
                        format!("must be an array of strings, not of {}", json_kind(item)),
                    )
                })
            })
            .collect::<Result<Vec<&str>, _>>()?;
        Tags::parse(texts)
    }
    fn when_absent() -> Option<Self> {
        Some(Tags::default())
    }
    fn param(&self) -> Param {
        Param::Text(Some(text_array(
            self.as_slice().iter().map(|tag| tag.as_str()),
        )))
    }
    fn digest(&self) -> Value {
        self.as_slice()
            .iter()
            .map(|tag| Value::from(tag.as_str()))
            .collect()
    }
}

/// A create's field: its parsed value, the default when it is absent, or `None` with the
/// error recorded. A required field sent as `null` counts as absent.
pub fn create_field<T: Input>(
    errors: &mut Vec<FieldError>,
    field: &'static str,
    value: Option<&Value>,
) -> Option<T> {
    let parsed = match value {
        None | Some(Value::Null) if T::when_absent().is_none() => {
            Err(FieldError::new(field, "is required"))
        }
        None => Ok(T::when_absent()),
        Some(value) => T::parse(field, value).map(Some),
    };
    parsed.unwrap_or_else(|error| {
        errors.push(error);
        None
    })
}

/// An update's field: `None` when absent, the parsed value when present, or `None` with the
/// error recorded.
pub fn patch_field<T: Input>(
    errors: &mut Vec<FieldError>,
    field: &'static str,
    value: Option<&Value>,
) -> Option<T> {
    value.and_then(|value| T::parse(field, value).map_err(|e| errors.push(e)).ok())
}

/// The name of the first field marked missing.
pub fn first_missing(fields: &[(bool, &'static str)]) -> &'static str {
    fields
        .iter()
        .find(|(missing, _)| *missing)
        .map_or("?", |(_, name)| name)
}

/// The same value: lets the derived create name each input field's type where it assembles
/// them.
pub fn identity<T>(value: T) -> T {
    value
}

/// A text[] parameter as PostgreSQL's array literal: every element double-quoted, with `"`
/// and `\` escaped, so no element can end the literal early.
pub fn text_array(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let quoted: Vec<String> = items
        .into_iter()
        .map(|item| {
            format!(
                "\"{}\"",
                item.as_ref().replace('\\', "\\\\").replace('"', "\\\"")
            )
        })
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// A JSON string's text, or an error naming the field and what it got instead.
pub fn string<'a>(field: &str, value: &'a Value) -> Result<&'a str, FieldError> {
    value.as_str().ok_or_else(|| {
        FieldError::new(field, format!("must be a string, not {}", json_kind(value)))
    })
}

/// A JSON boolean, or an error naming the field and what it got instead.
pub fn boolean(field: &str, value: &Value) -> Result<bool, FieldError> {
    value.as_bool().ok_or_else(|| {
        FieldError::new(
            field,
            format!("must be a boolean, not {}", json_kind(value)),
        )
    })
}

/// What kind of JSON value this is, for an error message.
pub fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Declares a resource's fields once and derives the rest (see the module's documentation).
///
/// Each row is `name: StoredType = "select expression"`, with `, input InputType` for a field
/// the client writes; rows keep the JSON's order, and written fields bind in that order. The
/// row's doc comments document the struct's field. A `version` column follows the fields:
/// every resource has one, raised by each write, and it is the ETag rather than a JSON field.
macro_rules! describe_resource {
    (@input) => { None };
    (@input $input:ty) => {
        Some($crate::domain::fields::InputField::of::<$input>())
    };
    (
        resource $resource:ident, create $create:ident, patch $patch:ident, id $id:ty,
        fields $fields:ident, columns $columns:ident;
        $(
            $(#[doc = $doc:literal])*
            $name:ident: $stored:ty = $select:expr $(, input $input:ty)?;
        )*
    ) => {
        #[doc = concat!("A stored ", stringify!($resource), ", as the API returns it: one field per row of its description.")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $resource {
            $( $(#[doc = $doc])* pub $name: $stored, )*
            /// Raised by every write; the ETag, never part of the JSON.
            pub version: String,
        }

        #[doc = concat!("Every field of a ", stringify!($resource), ", in column and JSON order.")]
        pub const $fields: &[$crate::domain::fields::Field] = &[
            $( $crate::domain::fields::Field {
                name: stringify!($name),
                select: $select,
                input: describe_resource!(@input $($input)?),
            }, )*
        ];

        #[doc = concat!("The columns a ", stringify!($resource), " row is read from: each field's `select`, in order, then the version.")]
        pub const $columns: &str = concat!($($select, ", ",)* "version::text");

        impl $resource {
            /// Decodes the columns the fields' `select`s render, in order, then the version;
            /// the error names the first column that is missing or not what its field stores.
            pub fn decode(
                columns: &mut impl Iterator<Item = Option<String>>,
            ) -> Result<Self, &'static str> {
                // Every column is decoded before any is judged, so that a failure drops what
                // was decoded in one place rather than at one early return per field.
                $( let $name: Option<$stored> = columns.next().and_then($crate::domain::fields::Stored::decode); )*
                let version: Option<String> = columns.next().flatten();
                match ($($name,)* version) {
                    ($(Some($name),)* Some(version)) => Ok(Self { $($name,)* version }),
                    ($($name,)* version) => Err($crate::domain::fields::first_missing(&[
                        $( ($name.is_none(), stringify!($name)), )*
                        (version.is_none(), "version"),
                    ])),
                }
            }

            /// Appends the JSON object to `out`, its fields in the description's order,
            /// compact, as `serde_json` would write them. Derived rather than serialized:
            /// a page of 100 is a thousand fields, and the generic serializer's per-field
            /// work was a sixth of a page's CPU.
            pub fn write_json(&self, out: &mut Vec<u8>) {
                let mut object = $crate::runtime::json::Object::open(out);
                $( $crate::domain::fields::Stored::write_json(&self.$name, stringify!($name), &mut object); )*
                object.close();
            }

            /// The most bytes [`Self::write_json`] can write for this value.
            pub fn json_bound(&self) -> usize {
                // The braces, and each field's quoted name, colon and comma.
                2 $( + stringify!($name).len() + 4 + $crate::domain::fields::Stored::json_bound(&self.$name) )*
            }
        }

        #[cfg(test)]
        impl $resource {
            /// A value of each field's placeholder column, for unit tests.
            pub fn placeholder() -> Self {
                Self {
                    $( $name: <$stored as $crate::domain::fields::Stored>::decode(
                        <$stored as $crate::domain::fields::Stored>::PLACEHOLDER.map(str::to_owned),
                    ).expect("a placeholder decodes"), )*
                    version: "1".to_owned(),
                }
            }
        }

        #[doc = concat!("A ", stringify!($resource), " to create: its id and every field the client writes.")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $create {
            /// The new row's id.
            pub id: $id,
            $( $( #[doc = concat!("Its `", stringify!($name), "`.")] pub $name: $input, )? )*
        }

        impl $create {
            /// Parses a create's JSON object: every written field, absent ones defaulted,
            /// each error recorded; other members are ignored.
            pub fn from_json(
                id: $id,
                object: &serde_json::Map<String, serde_json::Value>,
            ) -> Result<Self, Vec<$crate::domain::FieldError>> {
                let mut errors = Vec::new();
                let parsed = ($( $(
                    $crate::domain::fields::create_field::<$input>(
                        &mut errors, stringify!($name), object.get(stringify!($name))),
                )? )*);
                // One match over every field, so a failure drops the parsed values once.
                match parsed {
                    ($( $( ::core::option::Option::<$input>::Some($name), )? )*) if errors.is_empty() => {
                        Ok(Self {
                            id,
                            $( $( $name: $crate::domain::fields::identity::<$input>($name), )? )*
                        })
                    }
                    _ => Err(errors),
                }
            }

            /// Each written field's column, binding and parameter, in the description's order.
            pub fn bind(&self, mut each: impl FnMut(&'static str, $crate::domain::fields::InputField, $crate::domain::fields::Param)) {
                $( $(
                    each(stringify!($name), $crate::domain::fields::InputField::of::<$input>(),
                        $crate::domain::fields::Input::param(&self.$name));
                )? )*
            }

            /// A digest of what the request says (not its generated id): two creates with one
            /// `Idempotency-Key` are the same request when their bodies say the same, in any
            /// layout. Every written field enters it.
            pub fn request_digest(&self) -> String {
                use sha2::{Digest, Sha256};
                let canonical = serde_json::Value::Array(vec![
                    $( $( <$input as $crate::domain::fields::Input>::digest(&self.$name), )? )*
                ]);
                Sha256::digest(canonical.to_string().as_bytes())
                    .iter()
                    .map(|byte| format!("{byte:02x}"))
                    .collect()
            }
        }

        #[doc = concat!("A partial update of a ", stringify!($resource), ": `None` leaves a field as it is; for a nullable field, `Some(None)` clears it.")]
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $patch {
            $( $( #[doc = concat!("A new `", stringify!($name), "`, or `None` to leave it.")] pub $name: Option<$input>, )? )*
        }

        impl $patch {
            /// Parses an update's JSON object; a body that names no written field is an error
            /// on `body`, since it would change nothing.
            pub fn from_json(
                object: &serde_json::Map<String, serde_json::Value>,
            ) -> Result<Self, Vec<$crate::domain::FieldError>> {
                let mut errors = Vec::new();
                let patch = Self {
                    $( $( $name: $crate::domain::fields::patch_field::<$input>(
                        &mut errors, stringify!($name), object.get(stringify!($name))), )? )*
                };
                if !errors.is_empty() {
                    return Err(errors);
                }
                if patch.is_empty() {
                    let names: Vec<&str> = $fields
                        .iter()
                        .filter(|field| field.input.is_some())
                        .map(|field| field.name)
                        .collect();
                    return Err(vec![$crate::domain::FieldError::new(
                        "body",
                        format!("must contain at least one of {}", names.join(", ")),
                    )]);
                }
                Ok(patch)
            }

            /// True when the patch changes nothing.
            pub fn is_empty(&self) -> bool {
                true $( $( && <Option<$input>>::is_none(&self.$name) )? )*
            }

            /// Each written field's column, binding and change, in the description's order.
            pub fn bind(&self, mut each: impl FnMut(&'static str, $crate::domain::fields::InputField, $crate::domain::fields::Change)) {
                $( $(
                    each(stringify!($name), $crate::domain::fields::InputField::of::<$input>(),
                        match &self.$name {
                            Some(value) => $crate::domain::fields::Change::Set(
                                $crate::domain::fields::Input::param(value)),
                            None => $crate::domain::fields::Change::Keep(
                                <$input as $crate::domain::fields::Input>::NULL),
                        });
                )? )*
            }
        }
    };
}

pub(crate) use describe_resource;
