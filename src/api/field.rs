//! Wire types for fields governed by a domain rule ([`FieldRule`]): the OpenAPI schema shows
//! the rule's facts, and parsing never fails on its own. Whatever arrived is kept, so that one
//! pass over a request can name every field at fault, with the rule's own message.

use std::{borrow::Cow, marker::PhantomData};

use poem_openapi::{
    param::Header,
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde_json::Value;

use crate::{
    domain::field::{FieldRule, Given, Refusal},
    error::ApiError,
};

/// The schema a rule's facts describe.
fn schema<R: FieldRule>() -> MetaSchema {
    let facts = R::FACTS;
    let mut schema = MetaSchema::new(facts.json_type);
    schema.description = Some(facts.accepts);
    schema.min_length = facts.min_chars;
    schema.max_length = facts.max_chars;
    schema.pattern = facts.pattern.map(str::to_owned);
    schema.enum_items = facts.choices.iter().map(|c| Value::from(*c)).collect();
    if let Some((min, max)) = facts.range {
        schema.minimum = Some(min as f64);
        schema.maximum = Some(max as f64);
    }
    schema.example = Some(match facts.json_type {
        "string" => Value::from(facts.example),
        _ => serde_json::from_str(facts.example).unwrap_or_else(|_| Value::from(facts.example)),
    });
    schema
}

/// A body field under rule `R`, as sent: absent, `null`, or a JSON value. `REQUIRED` only
/// says whether the schema lists it as required; the rule decides what is accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<R, const REQUIRED: bool = false> {
    given: Given,
    rule: PhantomData<fn() -> R>,
}

impl<R, const REQUIRED: bool> Field<R, REQUIRED> {
    pub fn given(&self) -> Given {
        self.given.clone()
    }

    /// A field holding `text` (for examples).
    pub fn text(text: &str) -> Self {
        Self::from(Given::Text(text.to_owned()))
    }
}

impl<R, const REQUIRED: bool> From<Given> for Field<R, REQUIRED> {
    fn from(given: Given) -> Self {
        Self {
            given,
            rule: PhantomData,
        }
    }
}

impl<R: FieldRule, const REQUIRED: bool> Type for Field<R, REQUIRED> {
    const IS_REQUIRED: bool = REQUIRED;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        R::FACTS.json_type.into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(schema::<R>()))
    }

    raw_value_is_self!();
}

impl<R: FieldRule, const REQUIRED: bool> ParseFromJSON for Field<R, REQUIRED> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Ok(Self::from(match value {
            None => Given::Absent,
            Some(Value::Null) => Given::Null,
            Some(Value::String(s)) => Given::Text(s),
            Some(Value::Bool(b)) => Given::Flag(b),
            Some(_) => Given::Other,
        }))
    }
}

impl<R: FieldRule, const REQUIRED: bool> ToJSON for Field<R, REQUIRED> {
    fn to_json(&self) -> Option<Value> {
        match &self.given {
            Given::Absent => None,
            Given::Null | Given::Other => Some(Value::Null),
            Given::Text(s) => Some(Value::from(s.as_str())),
            Given::Flag(b) => Some(Value::from(*b)),
        }
    }
}

/// A query or header parameter under rule `R`: the value, or what its sender is told. The
/// operation reports every refused parameter at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param<R>(pub Result<R, String>);

impl<R: FieldRule + Send + Sync> Type for Param<R> {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        R::FACTS.json_type.into()
    }

    /// Without an example: Swagger UI's "Try it out" would send it.
    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema {
            example: None,
            ..schema::<R>()
        }))
    }

    raw_value_is_self!();
}

impl<R: FieldRule + Send + Sync> ParseFromParameter for Param<R> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        Ok(Self(R::check(value)))
    }
}

/// A header parameter under its rule: absent is `None`, a value its rule refuses a 422
/// naming the header.
pub fn header<R: FieldRule>(
    name: &'static str,
    param: Header<Option<Param<R>>>,
) -> Result<Option<R>, ApiError> {
    param
        .0
        .map(|p| {
            p.0.map_err(|message| {
                vec![Refusal {
                    field: name,
                    message,
                }]
            })
        })
        .transpose()
        .map_err(ApiError::from)
}
