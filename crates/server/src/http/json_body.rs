//! [`JsonBody`]: a JSON request body, its numbers read as the OpenAPI
//! document's JSON Schema reads them.
//!
//! In JSON Schema `2009.0` is an `integer` (the same number as `2009`), so a
//! document that says `integer` promises to take it; serde reads it only as
//! a float and would refuse it for a `u16`. The body is read as a JSON value
//! first (with `web::Json`'s limit, content type and `400 malformed_json`),
//! integral floats become integers, then the type is read from it (`422
//! invalid_body`, as before).

use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use coffer_domain::{ErrorCode, holds_nul};
use coffer_service::ErrorKind;
use serde::de::DeserializeOwned;
use serde_json::{Number, Value};

use super::ApiError;

/// A JSON body of type `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T> JsonBody<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for JsonBody<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let value = web::Json::<Value>::from_request(req, payload);
        Box::pin(async move {
            let mut value = value.await?.into_inner();
            if !value.is_object() {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    ErrorCode::InvalidBody,
                    "the body must be a JSON object",
                )
                .into());
            }
            if holds_nul(&value) {
                return Err(ApiError::new(
                    ErrorKind::Invalid,
                    ErrorCode::InvalidBody,
                    "text must not contain U+0000 (NUL), which PostgreSQL cannot store",
                )
                .into());
            }
            integral_floats_as_integers(&mut value);
            serde_json::from_value(value).map(JsonBody).map_err(|e| {
                ApiError::new(ErrorKind::Invalid, ErrorCode::InvalidBody, e.to_string()).into()
            })
        })
    }
}

/// The largest magnitude a float keeps as a `u64` or `i64` exactly.
const TWO_POW_64: f64 = 18_446_744_073_709_551_616.0;
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// `2009.0` becomes `2009`, wherever it is; other numbers stay as sent.
fn integral_floats_as_integers(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().filter(|f| n.is_f64() && f.fract() == 0.0) {
                // The casts are exact: `f` is integral and within range.
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let integer = if (0.0..TWO_POW_64).contains(&f) {
                    Some(Number::from(f as u64))
                } else if (-TWO_POW_63..0.0).contains(&f) {
                    Some(Number::from(f as i64))
                } else {
                    None
                };
                if let Some(integer) = integer {
                    *n = integer;
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(fields) => fields.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use coffer_domain::holds_nul;

    use super::integral_floats_as_integers;

    #[test]
    fn nul_is_found_in_any_string_or_key() {
        assert!(holds_nul(&json!({ "reason": "a\u{0}" })));
        assert!(holds_nul(&json!({ "m": { "k\u{0}": 1 } })));
        assert!(holds_nul(&json!([["\u{0}"]])));
        assert!(!holds_nul(&json!({ "reason": "line\nbreak", "n": 0 })));
    }

    #[test]
    fn integral_floats_become_integers_and_nothing_else_changes() {
        let mut value = json!({
            "part_numbers": [2009.0, 3, -4.0],
            "size": 1e19,
            "nested": { "ratio": 0.5, "huge": 1e300, "name": "2.0" },
        });
        integral_floats_as_integers(&mut value);
        assert_eq!(value["part_numbers"], json!([2009, 3, -4]));
        assert!(value["part_numbers"][0].is_u64());
        assert_eq!(value["size"].as_u64(), Some(10_000_000_000_000_000_000));
        assert_eq!(value["nested"]["ratio"], json!(0.5));
        assert!(value["nested"]["huge"].is_f64(), "beyond u64: left as sent");
        assert_eq!(value["nested"]["name"], "2.0");
    }
}
