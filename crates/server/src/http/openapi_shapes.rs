//! What the derived document cannot say about a value's shape, written into
//! it as JSON: each tenant setting as a path of its own with its value's
//! schema (one `{key}` path cannot tie the body to the key), the `metadata`
//! filter as a JSON-valued query parameter, the limit overrides' fields, and
//! the part numbers that key `checksums_sha256`.

use coffer_domain::{RetentionRule, SettingKey};
use serde_json::{Value, json};
use utoipa::Modify;
use utoipa::openapi::OpenApi;

/// The settings routes as the handlers declare them.
const SETTING_TEMPLATE: &str = "/api/v1/tenants/{id}/settings/{key}";

/// A subject as the domain accepts it (its byte bound is stricter than
/// `maxLength`, which counts characters).
pub(super) const SUBJECT: &str = r"^[^\u0000-\u001f\u007f-\u009f]{1,255}$";

/// A content-type pattern of a plan or setting: `type/subtype`, `type/*`
/// or `*/*` (or `*`), in RFC 6838 token characters.
const CONTENT_TYPE_PATTERN: &str = r"^(\*|\*/\*|[A-Za-z0-9!#$&^_.+-]+/(\*|[A-Za-z0-9!#$&^_.+-]+))$";

/// What the value of `key` may be; `null` clears a stored setting.
fn setting_value(key: SettingKey) -> Value {
    match key {
        SettingKey::MaxFileSize => {
            json!({ "type": ["integer", "null"], "minimum": 1, "maximum": u64::MAX })
        }
        SettingKey::UrlTtlSecs => json!({
            "type": ["integer", "null"], "minimum": 1,
            "maximum": coffer_domain::MAX_URL_TTL_SECS,
        }),
        SettingKey::RetentionDays => json!({
            "type": ["integer", "null"], "minimum": 0,
            "maximum": coffer_domain::MAX_RETENTION_DAYS,
        }),
        SettingKey::AllowedContentTypes => json!({
            "type": ["array", "null"], "maxItems": 100,
            "items": { "type": "string", "maxLength": 255, "pattern": CONTENT_TYPE_PATTERN },
        }),
        SettingKey::RecordsRetention => json!({
            "type": ["object", "null"], "maxProperties": 100,
            "propertyNames": { "type": "string", "pattern": "^[a-z0-9-]{1,32}$" },
            "additionalProperties": {
                "type": "object", "required": ["mode", "days"], "additionalProperties": false,
                "properties": {
                    "mode": { "type": "string", "enum": ["governance", "compliance"] },
                    "days": { "type": "integer", "minimum": 1, "maximum": RetentionRule::MAX_DAYS },
                },
            },
        }),
    }
}

/// `LimitOverrides`: each field overrides the plan's value; absent or
/// `null` keeps it.
fn limit_overrides() -> Value {
    let count = || json!({ "type": ["integer", "null"], "minimum": 0, "maximum": u64::MAX });
    let rate = || json!({ "type": ["integer", "null"], "minimum": 0, "maximum": u32::MAX });
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "max_file_size": count(),
            "max_total_bytes": count(),
            "max_files": count(),
            "allowed_content_types": setting_value(SettingKey::AllowedContentTypes),
            "url_ttl_secs": setting_value(SettingKey::UrlTtlSecs),
            "retention_days": setting_value(SettingKey::RetentionDays),
            "requests_per_minute": rate(),
            "user_requests_per_minute": rate(),
        },
    })
}

/// Writes the shapes into the document.
pub struct Shapes;

impl Modify for Shapes {
    fn modify(&self, openapi: &mut OpenApi) {
        let Ok(mut doc) = serde_json::to_value(&*openapi) else {
            return;
        };
        keyed_settings(&mut doc);
        upload_form(&mut doc);
        json_metadata_filter(&mut doc);
        let schemas = &mut doc["components"]["schemas"];
        schemas["LimitOverrides"] = limit_overrides();
        let overrides = json!({ "$ref": "#/components/schemas/LimitOverrides" });
        let nullable = json!({ "oneOf": [overrides, { "type": "null" }] });
        for (schema, value) in [
            ("CreateTenantBody", &nullable),
            ("UpdateTenantBody", &nullable),
            ("TenantDto", &overrides),
        ] {
            if let Some(property) = schemas[schema]["properties"].get_mut("limit_overrides") {
                *property = value.clone();
            }
        }
        multipart_needs_a_part(&mut schemas["InitiateBody"]);
        // A setting's value is a number, a list or an object (or unset).
        for property in ["value", "effective"] {
            if let Some(value) = schemas["SettingDto"]["properties"].get_mut(property) {
                *value = json!({ "type": ["integer", "array", "object", "null"] });
            }
        }
        if let Some(checksums) = schemas["PartsBody"]["properties"].get_mut("checksums_sha256") {
            checksums["additionalProperties"] =
                json!({ "type": "string", "pattern": super::openapi_constraints::SHA256 });
            // A part number, 1 to 10 000.
            checksums["propertyNames"] =
                json!({ "type": "string", "pattern": "^([1-9][0-9]{0,3}|10000)$" });
            checksums["maxProperties"] = json!(1000);
        }
        // Only a document utoipa reads back replaces the derived one (the
        // tests below fail if a shape stops reading back).
        if let Ok(shaped) = serde_json::from_value(doc) {
            *openapi = shaped;
        }
    }
}

/// The fields of `POST /files` as `multipart/form-data`, as the form reader
/// takes them: each a text field checked like its JSON twin, `metadata` a
/// JSON object (an object property's default encoding in a form), then the
/// `file` part; nothing else.
fn upload_form(doc: &mut Value) {
    let initiate = doc["components"]["schemas"]["InitiateBody"]["properties"].clone();
    let Some(form) = doc["paths"]["/api/v1/files"]["post"]["requestBody"]["content"]
        .get_mut("multipart/form-data")
    else {
        return;
    };
    let text = |name: &str| {
        let mut field = initiate[name].clone();
        field["type"] = json!("string");
        if let Some(values) = field.get_mut("enum").and_then(Value::as_array_mut) {
            values.retain(|v| !v.is_null());
        }
        field
    };
    form["schema"] = json!({
        "type": "object",
        "required": ["file"],
        "additionalProperties": false,
        "properties": {
            "filename": text("filename"),
            "content_type": text("content_type"),
            "category": text("category"),
            "path": text("path"),
            "visibility": text("visibility"),
            "checksum_sha256": text("checksum_sha256"),
            "metadata": { "type": "object" },
            "file": { "type": "string", "format": "binary" },
        },
    });
}

/// `"multipart": true` needs at least one full part
/// ([`coffer_domain::MIN_PART_SIZE`]); a smaller file is one PUT.
fn multipart_needs_a_part(initiate: &mut Value) {
    if !initiate.is_object() {
        return;
    }
    let description = initiate
        .as_object_mut()
        .and_then(|o| o.remove("description"))
        .unwrap_or(Value::Null);
    let mut single = initiate.clone();
    single["properties"]["multipart"] = json!({ "type": "boolean", "enum": [false] });
    let mut parts = initiate.clone();
    parts["properties"]["multipart"] = json!({ "type": "boolean", "enum": [true] });
    parts["properties"]["size"]["minimum"] = json!(coffer_domain::MIN_PART_SIZE);
    if let Some(required) = parts["required"].as_array_mut() {
        required.push(json!("multipart"));
    }
    *initiate = json!({ "description": description, "anyOf": [single, parts] });
}

/// Replaces the `{key}` settings path with one path per setting, its `PUT`
/// body holding that setting's value schema.
fn keyed_settings(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    let Some(template) = paths.remove(SETTING_TEMPLATE) else {
        return;
    };
    for key in SettingKey::ALL {
        let mut item = template.clone();
        for (method, operation) in item.as_object_mut().into_iter().flatten() {
            if let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(Value::as_array_mut)
            {
                parameters.retain(|p| p["name"] != "key");
            }
            if let Some(id) = operation["operationId"].as_str() {
                operation["operationId"] = json!(format!("{id}_{}", key.as_str()));
            }
            if method == "put" {
                operation["requestBody"]["content"]["application/json"]["schema"] = json!({
                    "type": "object", "required": ["value"], "additionalProperties": false,
                    "properties": { "value": setting_value(key) },
                });
            }
        }
        paths.insert(SETTING_TEMPLATE.replace("{key}", key.as_str()), item);
    }
}

/// `GET /files?metadata=…` takes a JSON object, sent as the parameter's text.
fn json_metadata_filter(doc: &mut Value) {
    let Some(parameters) = doc["paths"]["/api/v1/files"]["get"]["parameters"].as_array_mut() else {
        return;
    };
    for parameter in parameters.iter_mut().filter(|p| p["name"] == "metadata") {
        if let Some(fields) = parameter.as_object_mut() {
            fields.remove("schema");
            fields.insert(
                "content".to_owned(),
                json!({ "application/json": { "schema": { "type": "object" } } }),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use coffer_domain::SettingKey;
    use utoipa::OpenApi as _;

    use crate::http::ApiDoc;

    fn document() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
    }

    /// Every value the setting's schema allows at its bounds is one the
    /// domain stores, and every value just past them is refused.
    #[test]
    fn each_setting_has_a_path_whose_value_the_domain_accepts() {
        let doc = document();
        assert!(
            doc["paths"].get(super::SETTING_TEMPLATE).is_none(),
            "the generic settings path is replaced"
        );
        for key in SettingKey::ALL {
            let path = format!("/api/v1/tenants/{{id}}/settings/{}", key.as_str());
            let put = &doc["paths"][&path]["put"];
            let value =
                &put["requestBody"]["content"]["application/json"]["schema"]["properties"]["value"];
            assert!(value.is_object(), "{path}: {put}");
            assert!(doc["paths"][&path]["get"].is_object(), "{path}");
            assert!(
                !put["parameters"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|p| p["name"] == "key"),
                "{path}"
            );
            let bounds: Vec<serde_json::Value> = match (&value["minimum"], &value["maximum"]) {
                (serde_json::Value::Number(min), serde_json::Value::Number(max)) => {
                    vec![min.clone().into(), max.clone().into()]
                }
                _ => vec![],
            };
            for bound in bounds {
                assert!(key.validate(&bound).is_ok(), "{path}: {bound}");
            }
            if let Some(min) = value["minimum"].as_u64().filter(|m| *m > 0) {
                assert!(key.validate(&serde_json::json!(min - 1)).is_err(), "{path}");
            }
            if let Some(max) = value["maximum"].as_u64().filter(|m| *m < u64::MAX) {
                assert!(key.validate(&serde_json::json!(max + 1)).is_err(), "{path}");
            }
        }
    }

    /// The content-type pattern agrees with what a setting accepts.
    #[test]
    fn content_type_patterns_are_what_the_domain_accepts() {
        let pattern =
            regex::Regex::new(super::CONTENT_TYPE_PATTERN).unwrap_or_else(|e| panic!("{e}"));
        for raw in [
            "application/pdf",
            "image/*",
            "*/*",
            "*",
            "Text/Plain",
            "vnd.a+b/x.y",
            "text",
            "text/",
            "/plain",
            "text/plain; charset=utf-8",
            "a b/c",
            "*/plain",
        ] {
            let accepted = SettingKey::AllowedContentTypes
                .validate(&serde_json::json!([raw]))
                .is_ok();
            assert_eq!(pattern.is_match(raw), accepted, "{raw:?}");
        }
    }

    #[test]
    fn the_metadata_filter_is_a_json_object_parameter() {
        let doc = document();
        let metadata = doc["paths"]["/api/v1/files"]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "metadata")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            metadata["content"]["application/json"]["schema"]["type"],
            "object"
        );
        assert!(metadata.get("schema").is_none());
    }

    #[test]
    fn limit_overrides_name_every_field_and_no_other() {
        let doc = document();
        let overrides = &doc["components"]["schemas"]["LimitOverrides"];
        assert_eq!(overrides["additionalProperties"], false);
        let fields: Vec<&String> = overrides["properties"]
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        let every = serde_json::to_value(coffer_domain::LimitOverrides {
            max_file_size: Some(1),
            max_total_bytes: Some(1),
            max_files: Some(1),
            allowed_content_types: Some(vec![]),
            url_ttl_secs: Some(1),
            retention_days: Some(1),
            requests_per_minute: Some(1),
            user_requests_per_minute: Some(1),
        })
        .unwrap_or_default();
        let mut expected: Vec<&String> = every
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        expected.sort();
        let mut fields = fields;
        fields.sort();
        assert_eq!(fields, expected);
        assert_eq!(
            doc["components"]["schemas"]["UpdateTenantBody"]["properties"]["limit_overrides"]["oneOf"]
                [0]["$ref"],
            "#/components/schemas/LimitOverrides"
        );
    }

    /// A multipart upload is documented from one full part up, as the
    /// service refuses smaller ones.
    #[test]
    fn multipart_is_documented_from_one_part_up() {
        let doc = document();
        let alternatives = &doc["components"]["schemas"]["InitiateBody"]["anyOf"];
        assert_eq!(
            alternatives[0]["properties"]["multipart"]["enum"],
            serde_json::json!([false])
        );
        assert_eq!(
            alternatives[1]["properties"]["multipart"]["enum"],
            serde_json::json!([true])
        );
        let minimum = alternatives[1]["properties"]["size"]["minimum"].as_u64();
        let config = coffer_service::ServiceConfig::new(
            coffer_domain::BucketName::new("bucket").unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!(minimum, Some(config.multipart_min_part_size));
    }

    /// The form names exactly the fields the form reader takes.
    #[test]
    fn the_upload_form_names_its_fields() {
        let doc = document();
        let form = &doc["paths"]["/api/v1/files"]["post"]["requestBody"]["content"]["multipart/form-data"]
            ["schema"];
        assert_eq!(form["additionalProperties"], false);
        assert_eq!(form["required"], serde_json::json!(["file"]));
        assert!(form["properties"]["filename"]["pattern"].is_string());
        assert_eq!(
            form["properties"]["visibility"]["enum"],
            serde_json::json!(["private", "tenant"])
        );
    }
}
