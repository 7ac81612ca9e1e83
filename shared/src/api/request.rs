//! Reading request bodies: a JSON object, and its fields as typed values, each failure a 400 that
//! names the field and says what would be accepted.

use serde_json::{Map, Value};

use super::error::ApiError;
use crate::domain::file::file_size_message;
use upload_contract::ErrorCode;

/// A JSON object request body.
#[derive(Debug)]
pub struct JsonBody(Map<String, Value>);

impl JsonBody {
    pub fn parse(bytes: &[u8]) -> Result<Self, ApiError> {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                ErrorCode::InvalidJson,
                "the request body is empty: send a JSON object",
            ));
        }
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(map)) => Ok(Self(map)),
            Ok(_) => Err(ApiError::bad_request(
                ErrorCode::InvalidJson,
                "the request body must be a JSON object",
            )),
            Err(err) => Err(ApiError::bad_request(
                ErrorCode::InvalidJson,
                format!("the request body is not valid JSON: {err}"),
            )),
        }
    }

    fn field(&self, name: &str) -> Option<&Value> {
        self.0.get(name).filter(|v| !v.is_null())
    }

    pub fn string(&self, name: &str) -> Result<&str, ApiError> {
        self.opt_string(name)?.ok_or_else(|| missing(name))
    }

    pub fn opt_string(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(invalid(name, "must be a string")),
        }
    }

    /// A whole number in `min..=max`.
    pub fn integer(&self, name: &str, min: u64, max: u64) -> Result<u64, ApiError> {
        let value = self.field(name).ok_or_else(|| missing(name))?;
        integer_in(value, name, min, max)
    }

    /// An optional whole number in `min..=max`.
    pub fn opt_integer(&self, name: &str, min: u64, max: u64) -> Result<Option<u64>, ApiError> {
        self.field(name)
            .map(|value| integer_in(value, name, min, max))
            .transpose()
    }

    pub fn opt_object(&self, name: &str) -> Result<Option<&Map<String, Value>>, ApiError> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(invalid(name, "must be an object")),
        }
    }

    pub fn opt_array(&self, name: &str) -> Result<Option<&Vec<Value>>, ApiError> {
        match self.field(name) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(invalid(name, "must be an array")),
        }
    }
}

/// Below 2^53 every whole number has an exact `f64`, so `5.0` can be read as `5` without guessing.
const EXACT_F64_INTEGERS: f64 = 9_007_199_254_740_992.0;

/// `fileSize`: a whole number of bytes from 1 to `max` (MAX_FILE_SIZE). Every invalid size (not a
/// number, negative, zero, too large) answers INVALID_FILE_SIZE with that range.
pub fn file_size(body: &JsonBody, max: u64) -> Result<u64, ApiError> {
    let value = body.field("fileSize").ok_or_else(|| missing("fileSize"))?;
    integer_in(value, "fileSize", 1, max)
        .map_err(|_| ApiError::bad_request(ErrorCode::InvalidFileSize, file_size_message(max)))
}

/// `value` as a whole number in `min..=max`, or a 400 naming `name`.
///
/// JSON has one number type, and JSON Schema (so `openapi.yaml`) counts `5.0` as the integer 5;
/// some encoders write whole doubles that way. Such a number is accepted as long as it is exact.
pub fn integer_in(value: &Value, name: &str, min: u64, max: u64) -> Result<u64, ApiError> {
    let whole = value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..EXACT_F64_INTEGERS).contains(f))
            .map(|f| f as u64)
    });
    match whole {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            name,
            &format!("must be a whole number from {min} to {max}"),
        )),
    }
}

fn missing(name: &str) -> ApiError {
    ApiError::bad_request(ErrorCode::MissingField, format!("{name} is required"))
}

fn invalid(name: &str, what: &str) -> ApiError {
    ApiError::bad_request(ErrorCode::InvalidField, format!("{name} {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(result: Result<impl std::fmt::Debug, ApiError>) -> ErrorCode {
        result.unwrap_err().code().clone()
    }

    #[test]
    fn body_must_be_a_json_object() {
        assert_eq!(code(JsonBody::parse(b"")), "INVALID_JSON");
        assert_eq!(code(JsonBody::parse(b"  \n")), "INVALID_JSON");
        assert_eq!(code(JsonBody::parse(b"{\"fileName\":")), "INVALID_JSON");
        assert_eq!(code(JsonBody::parse(b"[1,2]")), "INVALID_JSON");
        assert_eq!(code(JsonBody::parse(b"\xff\xfe")), "INVALID_JSON");
        assert!(JsonBody::parse(b"{}").is_ok());
    }

    #[test]
    fn fields_are_typed() {
        let body = JsonBody::parse(
            br#"{"a":"x","n":5,"n2":5.0,"neg":-1,"f":1.5,"big":1e30,"inexact":9007199254740993.0,"negz":-0.0,"s":"5","nul":null}"#,
        )
        .unwrap();
        assert_eq!(body.string("a").unwrap(), "x");
        assert_eq!(code(body.string("n")), "INVALID_FIELD");
        assert_eq!(code(body.string("missing")), "MISSING_FIELD");
        assert_eq!(code(body.string("nul")), "MISSING_FIELD");
        assert_eq!(body.integer("n", 1, 10).unwrap(), 5);
        assert_eq!(code(body.integer("n", 6, 10)), "INVALID_FIELD");
        // A whole number written as a float is the same number (JSON Schema's `integer`).
        assert_eq!(body.integer("n2", 1, 10).unwrap(), 5);
        assert_eq!(code(body.integer("n2", 6, 10)), "INVALID_FIELD");
        assert_eq!(body.integer("negz", 0, 10).unwrap(), 0);
        for name in ["neg", "f", "big", "inexact", "s", "a"] {
            assert_eq!(
                code(body.integer(name, 0, u64::MAX)),
                "INVALID_FIELD",
                "{name}"
            );
        }
        let err = body.integer("neg", 1, 10).unwrap_err();
        assert!(err
            .to_string()
            .contains("neg must be a whole number from 1 to 10"));
    }
}
