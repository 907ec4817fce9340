//! JSON request bodies: 400 for malformed JSON or a key given twice, 413 past the size
//! limit, 415 for a content coding the server does not decode. What each field may hold is
//! its rule's business: body types hold fields as sent (see `api::field`).

use std::{cell::RefCell, fmt};

use poem::{
    Request, RequestBody, Result,
    http::{HeaderMap, header},
};
use poem_openapi::{
    impl_apirequest_for_payload,
    payload::{ParsePayload, Payload},
    registry::{MetaSchemaRef, Registry},
    types::{ParseFromJSON, Type},
};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::{error::ApiError, limits::MAX_BODY_BYTES};

/// A JSON request body whose rules are the ones its schema documents.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        matches!(content_type.parse::<mime::Mime>(), Ok(m)
            if m.type_() == "application"
                && (m.subtype() == "json" || m.suffix().is_some_and(|s| s == "json")))
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: ParseFromJSON + 'static> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> Result<Self> {
        let bytes = read_limited(request, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest(
                "The request body is empty: send a JSON object.".into(),
            )
            .into());
        }
        let value = parse_json(&bytes)?;
        parse_value::<T>(value).map(Self).map_err(Into::into)
    }
}

impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON + 'static);

/// Refuses (415) a request whose body is in a content coding: the server decodes none, and
/// reading gzip as JSON (or as a form) would answer for a request other than the one sent.
/// Checked for every request before its route reads anything.
pub fn check_content_coding(headers: &HeaderMap) -> Result<(), ApiError> {
    let encoded = headers
        .get_all(header::CONTENT_ENCODING)
        .iter()
        .any(|v| !is_identity(v.as_bytes()));
    if encoded {
        return Err(ApiError::UnsupportedContentEncoding);
    }
    Ok(())
}

/// Reads the body, refusing (413) anything over [`MAX_BODY_BYTES`], declared or streamed.
async fn read_limited(request: &Request, body: &mut RequestBody) -> Result<Vec<u8>> {
    let declared = request
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES as u64) {
        return Err(ApiError::PayloadTooLarge.into());
    }
    let body = body.take()?;
    match body.into_bytes_limit(MAX_BODY_BYTES).await {
        Ok(bytes) => Ok(bytes.to_vec()),
        Err(poem::error::ReadBodyError::PayloadTooLarge) => Err(ApiError::PayloadTooLarge.into()),
        Err(_) => Err(ApiError::BadRequest("The request body could not be read.".into()).into()),
    }
}

/// Whether a `Content-Encoding` value names no coding but `identity`.
fn is_identity(value: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .map(<[u8]>::trim_ascii)
        .all(|coding| coding.is_empty() || coding.eq_ignore_ascii_case(b"identity"))
}

/// Parses JSON as serde_json does, except that an object giving one key twice is refused
/// (400 naming the key): serde_json keeps the last value, so `{"title":"a","title":"b"}`
/// would be stored as "b" while a proxy or a log that keeps the first saw "a".
fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    let repeated = RefCell::new(None);
    let mut json = serde_json::Deserializer::from_slice(bytes);
    let parsed = StrictValue {
        repeated: &repeated,
    }
    .deserialize(&mut json)
    .and_then(|value| json.end().map(|()| value));
    match (parsed, repeated.into_inner()) {
        (_, Some(key)) => Err(ApiError::DuplicateKey(key)),
        (Ok(value), None) => Ok(value),
        (Err(e), None) => Err(ApiError::BadRequest(format!(
            "The body is not valid JSON: {e}."
        ))),
    }
}

/// A [`Value`] that refuses a key its object already holds, noting the key in `repeated`.
#[derive(Clone, Copy)]
struct StrictValue<'a> {
    repeated: &'a RefCell<Option<String>>,
}

impl<'de> DeserializeSeed<'de> for StrictValue<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                *self.repeated.borrow_mut() = Some(key);
                return Err(de::Error::custom("a key is given twice"));
            }
            let value = map.next_value_seed(self)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

/// Parses a JSON object into `T`, whose fields take any JSON (their rules come later).
fn parse_value<T: ParseFromJSON>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::validation("body", "must be a JSON object"));
    }
    T::parse_from_json(Some(value)).map_err(|_| {
        ApiError::validation("body", "must be a JSON object with the documented fields")
    })
}

/// A JSON body that may be left out entirely (`None`); when present it follows the same
/// rules as [`JsonBody`].
#[derive(Debug, Clone)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<'a, T: ParseFromJSON + 'static> poem_openapi::ApiExtractor<'a> for OptionalJsonBody<T> {
    const TYPES: &'static [poem_openapi::ApiExtractorType] =
        &[poem_openapi::ApiExtractorType::RequestObject];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<poem_openapi::registry::MetaRequest> {
        Some(poem_openapi::registry::MetaRequest {
            description: None,
            content: vec![poem_openapi::registry::MetaMediaType {
                content_type: <JsonBody<T> as Payload>::CONTENT_TYPE,
                schema: T::schema_ref(),
            }],
            required: false,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: poem_openapi::ExtractParamOptions<Self::ParamType>,
    ) -> Result<Self> {
        let bytes = read_limited(request, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        let json = request
            .content_type()
            .is_some_and(<JsonBody<T> as Payload>::check_content_type);
        if !json {
            return Err(ApiError::BadRequest(
                "The body must be JSON, sent with `Content-Type: application/json`.".into(),
            )
            .into());
        }
        let value = parse_json(&bytes)?;
        parse_value::<T>(value)
            .map(|v| Self(Some(v)))
            .map_err(Into::into)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_key_given_twice_is_refused_by_name_at_any_depth() {
        for (body, key) in [
            (r#"{"title":"a","title":"b"}"#, "title"),
            (r#"{"a":{"x":1,"y":2,"x":3}}"#, "x"),
            (r#"[{"t":1},{"t":1,"t":1}]"#, "t"),
        ] {
            match parse_json(body.as_bytes()) {
                Err(ApiError::DuplicateKey(k)) => assert_eq!(k, key, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
    }

    #[test]
    fn json_without_repeated_keys_parses_as_serde_json_does() {
        for body in [
            r#"{"title":"a","tags":["x","x"],"n":-1,"u":18446744073709551615,"f":1.5e3}"#,
            r#"{"a":{"title":1},"b":{"title":2},"c":null,"d":true}"#,
            " [1, \"two\", {}] ",
        ] {
            let expected: Value = serde_json::from_str(body).unwrap();
            assert_eq!(parse_json(body.as_bytes()).unwrap(), expected, "{body}");
        }
    }

    #[test]
    fn malformed_json_is_still_a_bad_request() {
        for body in [
            r#"{"title":"a""#,
            r#"{"title":"a"} x"#,
            r#"{"a":1,}"#,
            "nul",
        ] {
            assert!(
                matches!(parse_json(body.as_bytes()), Err(ApiError::BadRequest(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn only_identity_is_a_content_coding_the_server_reads() {
        for value in ["identity", "Identity", " identity , identity", ""] {
            assert!(is_identity(value.as_bytes()), "{value}");
        }
        for value in ["gzip", "br", "identity, gzip", "x-gzip", "deflate"] {
            assert!(!is_identity(value.as_bytes()), "{value}");
        }
    }
}
