//! How request bodies read optional and nested objects: only from JSON
//! objects (serde's derive also reads a struct from an array of its fields
//! in order, `[null, null]`, which no document of the API describes), and
//! `null` as the field left out.

use serde::Deserialize;
use serde::de::{DeserializeOwned, Error as _};
use serde_json::Value;

/// An optional struct field read from a JSON object only (`null` is
/// absent).
///
/// # Errors
/// Anything but a JSON object of `T` or `null`.
pub fn optional_object<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(deserializer)? {
        Value::Null => Ok(None),
        value @ Value::Object(_) => serde_json::from_value(value)
            .map(Some)
            .map_err(D::Error::custom),
        _ => Err(D::Error::custom("expected a JSON object or null")),
    }
}

/// A list of structs, each read from a JSON object only (see
/// [`optional_object`]).
///
/// # Errors
/// Anything but a list of JSON objects of `T`.
pub fn objects<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    let items = Vec::<Value>::deserialize(deserializer)?;
    if items.iter().any(|item| !item.is_object()) {
        return Err(D::Error::custom("expected a list of JSON objects"));
    }
    serde_json::from_value(Value::Array(items)).map_err(D::Error::custom)
}

/// An optional field sent as `null` is the same as one left out.
///
/// # Errors
/// Anything but a `T` or `null`.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// An object field sent as `null` is the same as one left out.
///
/// # Errors
/// Anything but a JSON object of `T` or `null`.
pub fn object_or_null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned + Default,
{
    Ok(optional_object(deserializer)?.unwrap_or_default())
}
