//! Request bodies, each declared once with `request_body!`: its fields (a list of
//! [`BodyField`]s, from which the OpenAPI document's schema is built) and how they are
//! read into a domain value ([`RequestBody`]). Bodies are read field by field, not
//! deserialized into structs, to answer FastAPI's exact 422s. A handler takes the body as
//! [`crate::extract::Parsed`].

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    ArrayBuilder, KnownFormat, ObjectBuilder, Schema, SchemaFormat, SchemaType, Type,
};

use crate::validation::{Fields, Rejection, json_object};

/// A request body that reads into a value: declared with `request_body!`.
pub trait RequestBody {
    /// What the body gives the handler.
    type Value;

    /// Reads the value from `fields`; `None` when a field was rejected (on `fields`, which
    /// collects every error before the body is refused).
    fn read(fields: &mut Fields) -> Option<Self::Value>;

    /// Reads a whole body with its raw `Content-Type`.
    ///
    /// # Errors
    /// The [`Rejection`] to answer with 422: not a JSON object, or a field that does not
    /// fit.
    fn parse(content_type: Option<&[u8]>, body: &[u8]) -> Result<Self::Value, Rejection> {
        let mut fields = Fields::new(json_object(content_type, body)?);
        let value = Self::read(&mut fields);
        fields.finish(value)
    }
}

/// One field of a JSON request body.
#[derive(Debug, Clone, Copy)]
pub struct BodyField {
    /// Its key.
    pub name: &'static str,
    /// Must be present.
    pub required: bool,
    /// `null` is accepted (as absent).
    pub nullable: bool,
    /// Holds an email address.
    pub email: bool,
    /// A boolean, not a string.
    pub boolean: bool,
    /// A list of strings.
    pub list: bool,
    /// Shortest value the rules accept, in characters.
    pub min_length: Option<usize>,
    /// Longest value the rules accept, in characters.
    pub max_length: Option<usize>,
    /// What it is, for the document.
    pub description: &'static str,
}

impl BodyField {
    /// A required string.
    pub const fn required(name: &'static str, description: &'static str) -> Self {
        Self {
            name,
            required: true,
            nullable: false,
            email: false,
            boolean: false,
            list: false,
            min_length: None,
            max_length: None,
            description,
        }
    }

    /// An optional string, `null` allowed.
    pub const fn optional(name: &'static str, description: &'static str) -> Self {
        Self {
            required: false,
            nullable: true,
            ..Self::required(name, description)
        }
    }

    /// An optional boolean, `null` allowed.
    pub const fn flag(name: &'static str, description: &'static str) -> Self {
        Self {
            boolean: true,
            ..Self::optional(name, description)
        }
    }

    /// Holding an email address (at most 254 characters).
    #[must_use]
    pub const fn email(mut self) -> Self {
        self.email = true;
        self.max_length = Some(254);
        self
    }

    /// A list of strings rather than one.
    #[must_use]
    pub const fn list(mut self) -> Self {
        self.list = true;
        self
    }

    /// With length bounds.
    #[must_use]
    pub const fn length(mut self, min: Option<usize>, max: Option<usize>) -> Self {
        self.min_length = min;
        self.max_length = max;
        self
    }

    fn schema(&self) -> Schema {
        if self.list {
            return Schema::Array(
                ArrayBuilder::new()
                    .items(ObjectBuilder::new().schema_type(SchemaType::new(Type::String)))
                    .min_items(Some(1))
                    .description(Some(self.description))
                    .build(),
            );
        }
        let base = if self.boolean {
            Type::Boolean
        } else {
            Type::String
        };
        let kind = if self.nullable {
            SchemaType::from_iter([base, Type::Null])
        } else {
            SchemaType::new(base)
        };
        ObjectBuilder::new()
            .schema_type(kind)
            .format(
                self.email
                    .then_some(SchemaFormat::KnownFormat(KnownFormat::Email)),
            )
            .min_length(self.min_length)
            .max_length(self.max_length)
            .description(Some(self.description))
            .build()
            .into()
    }
}

/// The schema of a JSON object body with `fields`.
pub fn object(description: &str, fields: &[BodyField]) -> RefOr<Schema> {
    let mut object = ObjectBuilder::new()
        .schema_type(SchemaType::new(Type::Object))
        .description(Some(description));
    for field in fields {
        object = object.property(field.name, field.schema());
        if field.required {
            object = object.required(field.name);
        }
    }
    RefOr::T(Schema::Object(object.build()))
}

/// Declares a request body type: its schema for the OpenAPI document from its fields, and,
/// with a reader `|fields| -> Value { … }`, how it is read ([`RequestBody`]).
macro_rules! request_body {
    (
        $(#[$meta:meta])* $name:ident, $description:literal, $fields:expr,
        |$reader:ident| -> $value:ty $body:block
    ) => {
        $crate::validation::body::request_body!($(#[$meta])* $name, $description, $fields);

        impl $crate::validation::body::RequestBody for $name {
            type Value = $value;

            fn read($reader: &mut $crate::validation::Fields) -> Option<$value> $body
        }
    };
    ($(#[$meta:meta])* $name:ident, $description:literal, $fields:expr) => {
        $(#[$meta])*
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::validation::body::object($description, &$fields)
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}
pub(crate) use request_body;
