//! [`Nullable`]: a response field that is always present, `null` when it has no value.

use std::borrow::Cow;

use poem_openapi::{
    registry::{MetaSchemaRef, Registry},
    types::{ParseFromJSON, ParseResult, ToJSON, Type},
};
use serde_json::Value;

/// Like `Option<T>`, but the schema lists the field as required: the server always sends
/// it, as `null` when there is no value. With `#[oai(nullable)]` on the field, generated
/// clients see `T | null` rather than an optional `T | null | undefined` that never happens.
/// Parsing still accepts a missing key, as `None`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

impl<T> From<Option<T>> for Nullable<T> {
    fn from(value: Option<T>) -> Self {
        Self(value)
    }
}

impl<T: Type> Type for Nullable<T> {
    const IS_REQUIRED: bool = true;

    type RawValueType = T::RawValueType;

    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        format!("nullable_{}", T::name()).into()
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.0.as_ref().and_then(T::as_raw_value)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        self.0.raw_element_iter()
    }
}

impl<T: ParseFromJSON> ParseFromJSON for Nullable<T> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        Option::<T>::parse_from_json(value)
            .map(Self)
            .map_err(poem_openapi::types::ParseError::propagate)
    }
}

impl<T: ToJSON> ToJSON for Nullable<T> {
    fn to_json(&self) -> Option<Value> {
        self.0.to_json()
    }
}

impl<T: serde::Serialize> serde::Serialize for Nullable<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_missing_parse_as_none_and_none_renders_as_null() {
        let parsed = Nullable::<String>::parse_from_json(Some(Value::Null)).ok();
        assert_eq!(parsed, Some(Nullable(None)));
        let parsed = Nullable::<String>::parse_from_json(None).ok();
        assert_eq!(parsed, Some(Nullable(None)));
        let parsed = Nullable::<String>::parse_from_json(Some(Value::from("x"))).ok();
        assert_eq!(parsed, Some(Nullable(Some("x".to_owned()))));
        assert_eq!(Nullable::<String>(None).to_json(), Some(Value::Null));
    }
}
