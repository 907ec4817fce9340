//! JSON request bodies: 400 for malformed JSON, 413 past the size limit, and 422 naming
//! every field that breaks a rule written in the OpenAPI schema.

use std::{
    any::TypeId,
    collections::HashMap,
    sync::{Arc, LazyLock, RwLock},
};

use poem::{Request, RequestBody, Result};
use poem_openapi::{
    impl_apirequest_for_payload,
    payload::{ParsePayload, Payload},
    registry::{MetaSchema, MetaSchemaRef, Registry},
    types::{ParseFromJSON, Type},
};
use regex::Regex;
use serde_json::Value;

use crate::error::{ApiError, FieldError};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Rules of a body type beyond its schema (e.g. a title that is only whitespace), checked on
/// the raw JSON when the schema check already failed, so one 422 names every bad field.
pub trait BodyRules {
    fn rule_errors(_value: &Value) -> Vec<FieldError> {
        Vec::new()
    }
}

/// A field name and a check of its raw string value, returning what is wrong with it.
pub type FieldCheck = (&'static str, fn(&str) -> Option<String>);

/// Runs `checks` on the string fields of a raw JSON object.
pub fn raw_field_errors(value: &Value, checks: &[FieldCheck]) -> Vec<FieldError> {
    checks
        .iter()
        .filter_map(|(field, check)| {
            let raw = value.get(*field)?.as_str()?;
            Some(FieldError::new(*field, check(raw)?))
        })
        .collect()
}

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

impl<T: ParseFromJSON + BodyRules + 'static> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(request: &Request, body: &mut RequestBody) -> Result<Self> {
        let bytes = read_limited(request, body).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::BadRequest(
                "The request body is empty: send a JSON object.".into(),
            )
            .into());
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("The body is not valid JSON: {e}.")))?;
        parse_value::<T>(value).map(Self).map_err(Into::into)
    }
}

impl_apirequest_for_payload!(JsonBody<T>, T: ParseFromJSON + BodyRules + 'static);

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

/// Parses a JSON value into `T`; on failure, lists every field that breaks its schema.
pub fn parse_value<T: ParseFromJSON + BodyRules + 'static>(value: Value) -> Result<T, ApiError> {
    let mut errors = schema_errors::<T>(&value);
    if !errors.is_empty() {
        for extra in T::rule_errors(&value) {
            if !errors.iter().any(|e| e.field == extra.field) {
                errors.push(extra);
            }
        }
        return Err(ApiError::Validation(errors));
    }
    T::parse_from_json(Some(value)).map_err(|e| {
        let message = e.into_message();
        let message = message
            .split_once("verification failed. ")
            .map(|(_, rule)| format!("breaks the rule {rule}"))
            .unwrap_or_else(|| "does not match the documented schema".into());
        ApiError::validation("body", message)
    })
}

/// A body type's schema, built once: registering a type's schema allocates its whole
/// description, which is too much work to repeat on every request.
struct Schema {
    registry: Registry,
    root: MetaSchemaRef,
}

fn schema_of<T: Type + 'static>() -> Arc<Schema> {
    static SCHEMAS: LazyLock<RwLock<HashMap<TypeId, Arc<Schema>>>> =
        LazyLock::new(Default::default);
    let id = TypeId::of::<T>();
    if let Some(schema) = SCHEMAS.read().ok().and_then(|m| m.get(&id).cloned()) {
        return schema;
    }
    let mut registry = Registry::new();
    T::register(&mut registry);
    let schema = Arc::new(Schema {
        registry,
        root: T::schema_ref(),
    });
    if let Ok(mut m) = SCHEMAS.write() {
        m.insert(id, schema.clone());
    }
    schema
}

/// The schemas' patterns, compiled once each: compiling one costs far more than matching.
fn matches_pattern(pattern: &str, text: &str) -> bool {
    static COMPILED: LazyLock<RwLock<HashMap<String, Option<Regex>>>> =
        LazyLock::new(Default::default);
    if let Some(hit) = COMPILED.read().ok().and_then(|m| {
        m.get(pattern)
            .map(|re| re.as_ref().map(|re| re.is_match(text)))
    }) {
        return hit.unwrap_or(false);
    }
    let re = Regex::new(pattern).ok();
    let hit = re.as_ref().is_some_and(|re| re.is_match(text));
    if let Ok(mut m) = COMPILED.write() {
        m.insert(pattern.to_owned(), re);
    }
    hit
}

/// Every rule of `T`'s OpenAPI schema that `value` breaks, one entry per field.
pub fn schema_errors<T: Type + 'static>(value: &Value) -> Vec<FieldError> {
    let cached = schema_of::<T>();
    let (registry, root) = (&cached.registry, &cached.root);
    let Some(schema) = resolve(registry, root) else {
        return Vec::new();
    };
    let Some(object) = value.as_object() else {
        return vec![FieldError::new("body", "must be a JSON object")];
    };
    let mut errors = Vec::new();
    for (name, property) in &schema.properties {
        let required = schema.required.contains(name);
        match object.get(*name) {
            None if required => errors.push(FieldError::new(*name, "is required")),
            // Optional is not nullable: leave a field out, or send a value.
            Some(Value::Null) if !is_nullable(registry, property) => {
                errors.push(FieldError::new(*name, "must not be null"))
            }
            None | Some(Value::Null) => {}
            Some(v) => {
                if let Some(message) = value_error(registry, property, v) {
                    errors.push(FieldError::new(*name, message));
                }
            }
        }
    }
    errors
}

fn resolve<'a>(registry: &'a Registry, schema: &'a MetaSchemaRef) -> Option<&'a MetaSchema> {
    match schema {
        MetaSchemaRef::Inline(s) => Some(s),
        MetaSchemaRef::Reference(name) => registry.schemas.get(name),
    }
}

fn is_nullable(registry: &Registry, schema: &MetaSchemaRef) -> bool {
    resolve(registry, schema).is_some_and(|s| s.nullable)
}

/// The first rule `value` breaks, checking the schema and everything it is composed of.
fn value_error(registry: &Registry, schema: &MetaSchemaRef, value: &Value) -> Option<String> {
    let schema = resolve(registry, schema)?;
    if let Some(message) = own_rule_error(schema, value) {
        return Some(message);
    }
    schema
        .all_of
        .iter()
        .find_map(|part| value_error(registry, part, value))
}

fn own_rule_error(schema: &MetaSchema, value: &Value) -> Option<String> {
    let type_ok = match schema.ty {
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    };
    if !type_ok {
        let article = if schema.ty.starts_with(['a', 'i', 'o']) {
            "an"
        } else {
            "a"
        };
        return Some(format!("must be {article} {}", schema.ty));
    }
    if !schema.enum_items.is_empty() && !schema.enum_items.contains(value) {
        let allowed: Vec<String> = schema
            .enum_items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect();
        return Some(format!("must be one of {}", allowed.join(", ")));
    }
    if let Some(s) = value.as_str() {
        let len = s.chars().count();
        if let Some(max) = schema.max_length.filter(|max| len > *max) {
            return Some(format!("must be at most {max} characters"));
        }
        if let Some(min) = schema.min_length.filter(|min| len < *min) {
            let unit = if min == 1 { "character" } else { "characters" };
            return Some(format!("must be at least {min} {unit}"));
        }
        if let Some(pattern) = &schema.pattern
            && !matches_pattern(pattern, s)
        {
            return Some(format!("must match the pattern {pattern}"));
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(max) = schema.maximum.filter(|max| n > *max) {
            return Some(format!("must be at most {max}"));
        }
        if let Some(min) = schema.minimum.filter(|min| n < *min) {
            return Some(format!("must be at least {min}"));
        }
    }
    if let Some(items) = value.as_array() {
        if let Some(max) = schema.max_items.filter(|max| items.len() > *max) {
            return Some(format!("must have at most {max} items"));
        }
        if let Some(min) = schema.min_items.filter(|min| items.len() < *min) {
            return Some(format!("must have at least {min} items"));
        }
    }
    None
}

/// A JSON body that may be left out entirely (`None`); when present it follows the same
/// rules as [`JsonBody`].
#[derive(Debug, Clone)]
pub struct OptionalJsonBody<T>(pub Option<T>);

impl<'a, T: ParseFromJSON + BodyRules + 'static> poem_openapi::ApiExtractor<'a>
    for OptionalJsonBody<T>
{
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
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError::BadRequest(format!("The body is not valid JSON: {e}.")))?;
        parse_value::<T>(value)
            .map(|v| Self(Some(v)))
            .map_err(Into::into)
    }
}
