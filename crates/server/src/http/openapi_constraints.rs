//! The constraints the server enforces, written into the generated
//! document's schemas: the values an enum takes, the patterns and lengths
//! of names, the largest size a store holds, the bounds of a page. The
//! domain types that enforce them carry no OpenAPI derive (the domain has
//! no infrastructure crate), so they are stated here, once, next to the
//! tests that hold them to what the domain accepts.

use coffer_domain::{Filename, LogicalPath, MAX_OBJECT_SIZE, MAX_PARTS};
use coffer_ports::MAX_PAGE_SIZE;
use serde_json::Value;
use utoipa::Modify;
use utoipa::Number;
use utoipa::openapi::schema::{ArrayItems, KnownFormat, Schema, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

/// A filename: not empty, no `/`, no control character, not `.` or `..`
/// (without look-ahead, which not every validator has: a name starts with
/// another character than `.`, or is `.` and more than `.`, or `..` and
/// more). Its length is bounded in UTF-8 bytes, which `maxLength` counts
/// in characters: the bound is the same number, stricter in bytes.
const FILENAME: &str = r"^([^./\u0000-\u001f\u007f-\u009f][^/\u0000-\u001f\u007f-\u009f]*|\.[^./\u0000-\u001f\u007f-\u009f][^/\u0000-\u001f\u007f-\u009f]*|\.\.[^/\u0000-\u001f\u007f-\u009f]+)$";
/// A category: 1 to 32 lowercase letters, digits or `-`.
const CATEGORY: &str = "^[a-z0-9-]{1,32}$";
/// A folder: `/`-separated segments as a filename's, each of 1 to 255
/// characters (bytes, for the domain), with an optional leading and trailing
/// `/`; empty or `/` is the root.
const FOLDER_PATTERN: &str = r"^/?(([^./\\\u0000-\u001f\u007f-\u009f][^/\\\u0000-\u001f\u007f-\u009f]{0,254}|\.[^./\\\u0000-\u001f\u007f-\u009f][^/\\\u0000-\u001f\u007f-\u009f]{0,253}|\.\.[^/\\\u0000-\u001f\u007f-\u009f]{1,253})(/([^./\\\u0000-\u001f\u007f-\u009f][^/\\\u0000-\u001f\u007f-\u009f]{0,254}|\.[^./\\\u0000-\u001f\u007f-\u009f][^/\\\u0000-\u001f\u007f-\u009f]{0,253}|\.\.[^/\\\u0000-\u001f\u007f-\u009f]{1,253}))*/?)?$";
/// Whom a grant is for: `user:<subject>` or `role:<admin|editor|viewer>`.
const GRANT_SUBJECT: &str =
    r"^(user:[^\u0000-\u001f\u007f-\u009f]{1,255}|role:(admin|editor|viewer))$";
/// A webhook URL Coffer would call: `http(s)://`, a host name of letters,
/// digits and `-` with a dot (an address or a dotless name is refused or
/// unresolvable), an optional port, a path and query of unreserved
/// characters: the usual shape, not the whole grammar the server's URL
/// parser accepts.
const WEBHOOK_URL: &str = r"^https?://[a-z][a-z0-9-]{0,62}(\.[a-z][a-z0-9-]{0,62})+(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~-]*)*(\?[A-Za-z0-9._~=&-]*)?$";
/// A media type as the domain reads it: `type/subtype` in RFC 6838 token
/// characters, optional parameters after `;`, printable ASCII.
const CONTENT_TYPE: &str = r"^ *[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+ *(;[ -~]*)?$";
/// A display name: printable, not blank (it is trimmed), 1 to 200
/// characters.
const DISPLAY_NAME: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";
/// A tenant slug: 3 to 63 lowercase letters, digits or `-`, not at either end.
const SLUG: &str = "^[a-z0-9]([a-z0-9-]{1,61})[a-z0-9]$";
/// A region: 2 to 32 lowercase letters, digits or `-`.
const REGION: &str = "^[a-z0-9-]{2,32}$";
/// A bucket: 3 to 63 lowercase letters, digits, `-` or `.`, starting and
/// ending with a letter or digit.
const BUCKET: &str = "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$";
/// A SHA-256 digest in hex, or in canonical base64 (padded; the last
/// character carries no stray bits), with ASCII whitespace around it.
pub(super) const SHA256: &str =
    r"^[ \t\n\r\x0b\x0c]*([0-9a-fA-F]{64}|[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=)[ \t\n\r\x0b\x0c]*$";

/// What one property or query parameter must satisfy.
enum Rule {
    OneOf(&'static [&'static str]),
    Pattern(&'static str, usize),
    /// A pattern (which may match the empty string) and a length bound.
    Matches(&'static str, usize),
    Maximum(u64),
    Minimum(u64),
    /// An array of 1..=`max` integers, each within `1..=item_max`.
    Numbers {
        max: usize,
        item_max: u64,
    },
    /// An RFC 3339 timestamp.
    DateTime,
}

/// The feature flags, as [`coffer_domain::FeatureKey`] names them.
const FEATURES: &[&str] = &[
    "streamed_uploads",
    "multipart_uploads",
    "content_streaming",
    "malware_scanning",
    "share_links",
    "upload_requests",
];
const VISIBILITY: Rule = Rule::OneOf(&["private", "tenant"]);
const FILE_STATUS: Rule =
    Rule::OneOf(&["pending", "scanning", "available", "quarantined", "deleted"]);
const ACCESS: Rule = Rule::OneOf(&["read", "write", "manage"]);
const RETENTION_MODE: Rule = Rule::OneOf(&["governance", "compliance"]);
const CREDENTIAL_ACCESS: Rule = Rule::OneOf(&["write", "read"]);
const PLAN: Rule = Rule::OneOf(&["starter", "professional", "enterprise"]);
const TENANT_STATUS: Rule = Rule::OneOf(&[
    "provisioning",
    "provisioning_failed",
    "active",
    "suspended",
    "cancelled",
]);
const NAME: Rule = Rule::Pattern(FILENAME, Filename::MAX_BYTES);
const FOLDER: Rule = Rule::Matches(FOLDER_PATTERN, LogicalPath::MAX_BYTES);
const SUBJECT: Rule = Rule::Pattern(super::openapi_shapes::SUBJECT, 255);
const SIZE: Rule = Rule::Maximum(MAX_OBJECT_SIZE);

/// `(schema, property, rule)`: every constrained property of the API's schemas.
const PROPERTIES: &[(&str, &str, Rule)] = &[
    ("InitiateBody", "filename", NAME),
    ("InitiateBody", "category", Rule::Pattern(CATEGORY, 32)),
    ("InitiateBody", "path", FOLDER),
    ("InitiateBody", "visibility", VISIBILITY),
    ("InitiateBody", "size", SIZE),
    (
        "InitiateBody",
        "content_type",
        Rule::Pattern(CONTENT_TYPE, 255),
    ),
    (
        "SessionFileBody",
        "content_type",
        Rule::Pattern(CONTENT_TYPE, 255),
    ),
    ("CreateTenantBody", "slug", Rule::Pattern(SLUG, 63)),
    (
        "CreateTenantBody",
        "display_name",
        Rule::Pattern(DISPLAY_NAME, 200),
    ),
    (
        "UpdateTenantBody",
        "display_name",
        Rule::Pattern(DISPLAY_NAME, 200),
    ),
    ("CreateTenantBody", "region", Rule::Pattern(REGION, 32)),
    (
        "CreateTenantBody",
        "dedicated_bucket",
        Rule::Pattern(BUCKET, 63),
    ),
    ("CreateTenantBody", "admin_subject", SUBJECT),
    (
        "InitiateBody",
        "checksum_sha256",
        Rule::Pattern(SHA256, 128),
    ),
    ("InitiateVersionBody", "size", SIZE),
    (
        "InitiateVersionBody",
        "checksum_sha256",
        Rule::Pattern(SHA256, 128),
    ),
    ("UpdateBody", "filename", NAME),
    ("UpdateBody", "path", FOLDER),
    ("UpdateBody", "visibility", VISIBILITY),
    ("SessionFileBody", "filename", NAME),
    ("SessionFileBody", "category", Rule::Pattern(CATEGORY, 32)),
    ("SessionFileBody", "path", FOLDER),
    ("SessionFileBody", "visibility", VISIBILITY),
    (
        "SessionFileBody",
        "checksum_sha256",
        Rule::Pattern(SHA256, 128),
    ),
    ("FolderHoldBody", "path", FOLDER),
    (
        "PartsBody",
        "part_numbers",
        Rule::Numbers {
            max: 1000,
            item_max: MAX_PARTS,
        },
    ),
    ("GrantBody", "access", ACCESS),
    ("GrantBody", "subject", Rule::Pattern(GRANT_SUBJECT, 260)),
    // One less than the domain's bound: the parser adds the `/` of an
    // empty path (`http://a.b?x` is stored as `http://a.b/?x`).
    (
        "WebhookBody",
        "url",
        Rule::Pattern(WEBHOOK_URL, coffer_domain::webhook::WebhookUrl::MAX_LEN - 1),
    ),
    ("RetentionBody", "mode", RETENTION_MODE),
    ("CredentialsBody", "access", CREDENTIAL_ACCESS),
    ("CredentialsBody", "ttl_secs", Rule::Minimum(900)),
    ("CreateTenantBody", "plan", PLAN),
    ("UpdateTenantBody", "plan", PLAN),
    (
        "UpdateTenantBody",
        "status",
        Rule::OneOf(&["active", "suspended", "cancelled"]),
    ),
    ("FileDto", "visibility", VISIBILITY),
    ("FileDto", "status", FILE_STATUS),
    ("FileDto", "version", Rule::Minimum(1)),
    ("GrantDto", "access", ACCESS),
    ("RetentionDto", "mode", RETENTION_MODE),
    ("CredentialsDto", "access", CREDENTIAL_ACCESS),
    ("TenantDto", "plan", PLAN),
    ("TenantDto", "status", TENANT_STATUS),
    (
        "OnboardingDto",
        "state",
        Rule::OneOf(&["queued", "running", "done", "failed"]),
    ),
];

/// `(path, query parameter, rule)`: the constrained query parameters (every
/// listing's `limit` besides).
const PARAMETERS: &[(&str, &str, Rule)] = &[
    ("/api/v1/files", "category", Rule::Pattern(CATEGORY, 32)),
    ("/api/v1/files", "status", FILE_STATUS),
    ("/api/v1/files", "owner", SUBJECT),
    ("/api/v1/files", "path", FOLDER),
    ("/api/v1/files", "prefix", FOLDER),
    ("/api/v1/files", "filename", NAME),
    (
        "/api/v1/tenants/{id}/features/{key}",
        "key",
        Rule::OneOf(FEATURES),
    ),
    ("/api/v1/audit", "actor", SUBJECT),
    ("/api/v1/audit", "since", Rule::DateTime),
    ("/api/v1/audit", "until", Rule::DateTime),
];

/// Writes [`PROPERTIES`], [`PARAMETERS`] and the page bounds into the document.
pub struct Constraints;

impl Modify for Constraints {
    fn modify(&self, openapi: &mut OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            for (schema, property, rule) in PROPERTIES {
                if let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*schema)
                    && let Some(RefOr::T(target)) = object.properties.get_mut(*property)
                {
                    apply(target, rule);
                }
            }
        }
        for (path, item) in &mut openapi.paths.paths {
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                for parameter in op.parameters.iter_mut().flatten() {
                    let RefOr::T(parameter) = parameter else {
                        continue;
                    };
                    let Some(RefOr::T(schema)) = parameter.schema.as_mut() else {
                        continue;
                    };
                    // Every listing's cursor: a position the API returned.
                    if matches!(parameter.name.as_str(), "cursor" | "after")
                        && let Schema::Object(cursor) = schema
                        && cursor.format.is_none()
                    {
                        cursor.pattern = Some(coffer_domain::PageCursor::PATTERN.to_owned());
                    }
                    // Every listing's `limit`: a page of 1 to MAX_PAGE_SIZE.
                    if parameter.name == "limit"
                        && let Schema::Object(limit) = schema
                    {
                        limit.minimum = Some(Number::UInt(1));
                        limit.maximum = Some(Number::UInt(MAX_PAGE_SIZE as usize));
                    }
                    for (_, _, rule) in PARAMETERS
                        .iter()
                        .filter(|(p, n, _)| p == path && *n == parameter.name)
                    {
                        apply(schema, rule);
                    }
                }
            }
        }
    }
}

fn apply(schema: &mut Schema, rule: &Rule) {
    match (schema, rule) {
        (Schema::Object(object), Rule::OneOf(values)) => {
            let mut values: Vec<Value> = values.iter().map(|v| Value::from(*v)).collect();
            if is_nullable(&object.schema_type) {
                values.push(Value::Null);
            }
            object.enum_values = Some(values);
        }
        (Schema::Object(object), Rule::Pattern(pattern, max)) => {
            object.pattern = Some((*pattern).to_owned());
            object.min_length = Some(1);
            object.max_length = Some(*max);
        }
        (Schema::Object(object), Rule::Matches(pattern, max)) => {
            object.pattern = Some((*pattern).to_owned());
            object.max_length = Some(*max);
        }
        (Schema::Object(object), Rule::Maximum(max)) => {
            object.maximum = Some(Number::UInt(usize::try_from(*max).unwrap_or(usize::MAX)));
        }
        (Schema::Object(object), Rule::DateTime) => {
            object.format = Some(SchemaFormat::KnownFormat(KnownFormat::DateTime));
        }
        (Schema::Object(object), Rule::Minimum(min)) => {
            object.minimum = Some(Number::UInt(usize::try_from(*min).unwrap_or(usize::MAX)));
        }
        (Schema::Array(array), Rule::Numbers { max, item_max }) => {
            array.min_items = Some(1);
            array.max_items = Some(*max);
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(Schema::Object(item)) = items.as_mut()
            {
                item.minimum = Some(Number::UInt(1));
                item.maximum = Some(Number::UInt(
                    usize::try_from(*item_max).unwrap_or(usize::MAX),
                ));
            }
        }
        _ => {}
    }
}

fn is_nullable(schema_type: &SchemaType) -> bool {
    matches!(schema_type, SchemaType::Array(types) if types.contains(&Type::Null))
}

#[cfg(test)]
mod tests {
    use coffer_domain::{
        Access, Category, Filename, Plan, RetentionMode, Sha256Digest, TenantStatus, Visibility,
    };
    use utoipa::OpenApi as _;

    use crate::http::ApiDoc;

    fn document() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
    }

    /// A property of a schema (of its first alternative, when it has some).
    fn property<'d>(doc: &'d serde_json::Value, schema: &str, name: &str) -> &'d serde_json::Value {
        let schema = &doc["components"]["schemas"][schema];
        match schema.get("anyOf") {
            Some(alternatives) => &alternatives[0]["properties"][name],
            None => &schema["properties"][name],
        }
    }

    fn strings(values: &serde_json::Value) -> Vec<String> {
        values
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    }

    /// Whether the domain type of an enum parses a value.
    type Parses = fn(&str) -> bool;

    /// Every enum of the document is exactly what the domain parses.
    #[test]
    fn enums_are_what_the_domain_accepts() {
        let doc = document();
        let cases: [(&str, &str, Parses); 6] = [
            ("InitiateBody", "visibility", |v| {
                v.parse::<Visibility>().is_ok()
            }),
            ("FileDto", "status", |v| {
                v.parse::<coffer_domain::FileStatus>().is_ok()
            }),
            ("GrantBody", "access", |v| v.parse::<Access>().is_ok()),
            ("RetentionBody", "mode", |v| {
                v.parse::<RetentionMode>().is_ok()
            }),
            ("TenantDto", "plan", |v| v.parse::<Plan>().is_ok()),
            ("TenantDto", "status", |v| v.parse::<TenantStatus>().is_ok()),
        ];
        for (schema, name, parses) in cases {
            let values = strings(&property(&doc, schema, name)["enum"]);
            assert!(!values.is_empty(), "{schema}.{name} has no enum");
            for value in &values {
                assert!(parses(value), "{schema}.{name}: {value} does not parse");
            }
            for other in ["", "x", "PRIVATE", "all"] {
                assert!(
                    parses(other) == values.iter().any(|v| v == other),
                    "{schema}.{name}: {other:?}"
                );
            }
        }
        // A nullable field's enum admits null (the field may be sent as null).
        let optional = &property(&doc, "UpdateBody", "visibility")["enum"];
        assert!(
            optional
                .as_array()
                .is_some_and(|v| v.contains(&serde_json::Value::Null))
        );
    }

    /// The patterns agree with the domain's parsers on both sides.
    #[test]
    fn patterns_are_what_the_domain_accepts() {
        let doc = document();
        let pattern = |schema: &str, name: &str| {
            let raw = property(&doc, schema, name)["pattern"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            regex::Regex::new(&raw).unwrap_or_else(|e| panic!("{schema}.{name}: {e}"))
        };
        let filename = pattern("InitiateBody", "filename");
        for name in [
            "report.pdf",
            "ünïcode café.txt",
            ".hidden",
            "a..b",
            "x/y",
            "",
            ".",
            "..",
            "tab\there",
            "nul\u{0}",
            "c1\u{85}",
        ] {
            assert_eq!(
                filename.is_match(name),
                Filename::new(name).is_ok(),
                "filename {name:?}"
            );
        }
        let category = pattern("InitiateBody", "category");
        for name in [
            "documents",
            "tax-2026",
            "",
            "Documents",
            "a_b",
            &"x".repeat(33),
            &"x".repeat(32),
        ] {
            assert_eq!(
                category.is_match(name),
                Category::new(name).is_ok(),
                "category {name:?}"
            );
        }
        let sha = pattern("InitiateBody", "checksum_sha256");
        let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        for digest in [
            hex,
            &hex.to_uppercase(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFV=",
            "\u{c}\t 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\r\n",
            &hex[1..],
            "zz",
            "",
        ] {
            assert_eq!(
                sha.is_match(digest),
                Sha256Digest::parse(digest).is_ok(),
                "checksum {digest:?}"
            );
        }
    }

    #[test]
    fn sizes_parts_and_pages_are_bounded() {
        let doc = document();
        assert_eq!(
            property(&doc, "InitiateBody", "size")["maximum"],
            serde_json::json!(coffer_domain::MAX_OBJECT_SIZE)
        );
        let parts = property(&doc, "PartsBody", "part_numbers");
        assert_eq!(parts["items"]["minimum"], 1);
        assert_eq!(
            parts["items"]["maximum"],
            serde_json::json!(coffer_domain::MAX_PARTS)
        );
        let mut limits = 0;
        for item in doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, i)| i)
        {
            for op in item.as_object().into_iter().flatten().map(|(_, o)| o) {
                for parameter in op["parameters"].as_array().into_iter().flatten() {
                    if parameter["name"] == "limit" {
                        limits += 1;
                        assert_eq!(parameter["schema"]["minimum"], 1, "{parameter}");
                        assert_eq!(parameter["schema"]["maximum"], 1000, "{parameter}");
                    }
                }
            }
        }
        assert!(limits >= 5, "every listing's limit: {limits}");
    }

    #[test]
    fn query_parameters_carry_their_constraints() {
        let doc = document();
        let parameter = |path: &str, name: &str| {
            doc["paths"][path]["get"]["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name)
                .map(|p| p["schema"].clone())
                .unwrap_or_default()
        };
        assert!(parameter("/api/v1/files", "category")["pattern"].is_string());
        assert_eq!(
            parameter("/api/v1/files", "filename")["pattern"],
            property(&doc, "InitiateBody", "filename")["pattern"]
        );
        assert_eq!(
            strings(&parameter("/api/v1/files", "status")["enum"]),
            ["pending", "scanning", "available", "quarantined", "deleted"]
        );
        for name in ["since", "until"] {
            assert_eq!(
                parameter("/api/v1/audit", name)["format"],
                "date-time",
                "{name}"
            );
        }
    }

    /// The folder, subject and grant patterns agree with the domain's parsers.
    #[test]
    fn folders_and_subjects_are_what_the_domain_accepts() {
        let doc = document();
        let folder = regex::Regex::new(
            property(&doc, "UpdateBody", "path")["pattern"]
                .as_str()
                .unwrap_or_default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let long = "x".repeat(255);
        let longer = "x".repeat(256);
        for path in [
            "",
            "/",
            "/contracts/2026",
            "contracts/2026/",
            ".hidden/a..b",
            long.as_str(),
            longer.as_str(),
            "/a//b",
            "/a/./b",
            "/a/../b",
            "a\\b",
            "tab\there",
        ] {
            assert_eq!(
                folder.is_match(path),
                coffer_domain::LogicalPath::new(path).is_ok(),
                "path {path:?}"
            );
        }
        let grant = regex::Regex::new(super::GRANT_SUBJECT).unwrap_or_else(|e| panic!("{e}"));
        for subject in [
            "user:bob",
            "role:editor",
            "role:viewer",
            "role:platform-admin",
            "role:x",
            "user:",
            "bob",
            "group:x",
            "user:tab\there",
        ] {
            assert_eq!(
                grant.is_match(subject),
                subject.parse::<coffer_domain::GrantSubject>().is_ok(),
                "grant subject {subject:?}"
            );
        }
        let features: Vec<&str> = coffer_domain::FeatureKey::ALL
            .iter()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(features, super::FEATURES);
    }

    /// Webhook URLs the document allows are ones the domain accepts.
    #[test]
    fn documented_webhook_urls_are_accepted() {
        let url = regex::Regex::new(super::WEBHOOK_URL).unwrap_or_else(|e| panic!("{e}"));
        for raw in [
            "https://hooks.example.com/coffer",
            "http://a.b:8080/x/y-z_1.~",
            "https://example.com",
            "https://hooks.example.com/coffer?x=1&y=z",
        ] {
            assert!(url.is_match(raw), "{raw}");
            assert!(
                coffer_domain::webhook::WebhookUrl::new(raw).is_ok(),
                "{raw}"
            );
        }
        for raw in [
            "http://localhost/",
            "https://10.0.0.1/",
            "ftp://a.b/",
            "http://a.b:99999/",
        ] {
            assert!(!url.is_match(raw), "{raw}");
        }
    }

    /// Every cursor parameter's pattern reads exactly what the decoder does.
    #[test]
    fn cursors_are_what_the_decoder_reads() {
        use coffer_domain::PageCursor;
        let doc = document();
        let cursor = &doc["paths"]["/api/v1/files"]["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|p| p["name"] == "cursor")
            .map(|p| p["schema"]["pattern"].clone())
            .unwrap_or_default();
        assert_eq!(cursor, PageCursor::PATTERN);
        let pattern = regex::Regex::new(PageCursor::PATTERN).unwrap_or_else(|e| panic!("{e}"));
        let hex = "0123456789abcdef0123456789abcdef";
        for raw in [
            format!("1764748800000000000.{hex}"),
            format!("-5.{hex}"),
            format!("99999999999999999999.{hex}"),
            format!("8999999999999999999.{hex}"),
            format!("-9284400558311639405.{hex}"),
            format!("+5.{hex}"),
            format!("5.{}", hex.to_uppercase()),
            "5.abc".to_owned(),
            String::new(),
        ] {
            assert_eq!(
                pattern.is_match(&raw),
                PageCursor::decode(&raw).is_ok(),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn display_names_are_what_the_domain_accepts() {
        let pattern = regex::Regex::new(super::DISPLAY_NAME).unwrap_or_else(|e| panic!("{e}"));
        for name in [
            "Acme",
            " Acme Ltd ",
            "Ünïcode",
            "",
            "   ",
            "a\u{c}b",
            "\u{81}",
        ] {
            assert_eq!(
                pattern.is_match(name),
                coffer_domain::Tenant::validate_display_name(name).is_ok(),
                "{name:?}"
            );
        }
    }
}
