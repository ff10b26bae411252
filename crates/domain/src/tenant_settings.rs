//! A tenant's effective configuration: plan defaults, then the tenant's
//! limit overrides, then its settings, then its feature flags (each flag
//! evaluated at `now`, so an expired one no longer applies) — and where each
//! value came from. One pure function, [`EffectiveConfig::resolve`], used by
//! every path that needs a limit or a flag.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;
use time::OffsetDateTime;

use crate::{
    Category, ContentType, ErrorCode, LimitOverrides, PlanLimits, RetentionRule, ValidationError,
};

/// Where an effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// Built into Coffer (feature flags nobody set).
    Default,
    /// The plan's defaults in configuration (`[plans.<plan>]`).
    Plan,
    /// The tenant's `limit_overrides`.
    Override,
    /// A tenant setting (`PUT /tenants/{id}/settings/{key}`).
    Setting,
    /// A tenant feature flag (`PUT /tenants/{id}/features/{key}`), unexpired.
    Feature,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Plan => "plan",
            Self::Override => "override",
            Self::Setting => "setting",
            Self::Feature => "feature",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a settings or feature key is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigKeyError {
    #[error(
        "unknown setting {0:?}; known settings: max_file_size, url_ttl_secs, allowed_content_types, retention_days, records_retention"
    )]
    UnknownSetting(String),
    #[error("the setting {0:?} is managed by its own endpoint")]
    ReservedSetting(String),
    #[error(
        "unknown feature flag {0:?}; known flags: streamed_uploads, multipart_uploads, content_streaming, malware_scanning"
    )]
    UnknownFeature(String),
}

impl ConfigKeyError {
    /// The stable machine code of the error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::UnknownSetting(_) => ErrorCode::UnknownSetting,
            Self::ReservedSetting(_) => ErrorCode::ReservedSetting,
            Self::UnknownFeature(_) => ErrorCode::UnknownFeature,
        }
    }
}

/// Settings keys that exist but are not part of the generic settings API:
/// `webhook` is the tenant's webhook (`/api/v1/webhook`), secret included.
pub const RESERVED_SETTINGS: &[&str] = &["webhook"];

/// The longest presigned URL lifetime a setting may ask for: 7 days, what
/// S3's SigV4 allows.
pub const MAX_URL_TTL_SECS: u32 = 7 * 24 * 3600;

/// The longest retention a setting may ask for: 10 years.
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// The settings that map to limits. Each replaces the plan's (or the
/// override's) value of the limit of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SettingKey {
    /// Bytes, ≥ 1.
    MaxFileSize,
    /// Seconds, 1 to [`MAX_URL_TTL_SECS`].
    UrlTtlSecs,
    /// A list of media types or `type/*` patterns; empty allows any type.
    AllowedContentTypes,
    /// Days, 0 to [`MAX_RETENTION_DAYS`].
    RetentionDays,
    /// The records retention every new file of a category gets:
    /// `{"<category>": {"mode": "compliance", "days": 2557}}`.
    RecordsRetention,
}

impl SettingKey {
    pub const ALL: [Self; 5] = [
        Self::MaxFileSize,
        Self::UrlTtlSecs,
        Self::AllowedContentTypes,
        Self::RetentionDays,
        Self::RecordsRetention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::MaxFileSize => "max_file_size",
            Self::UrlTtlSecs => "url_ttl_secs",
            Self::AllowedContentTypes => "allowed_content_types",
            Self::RetentionDays => "retention_days",
            Self::RecordsRetention => "records_retention",
        }
    }

    /// The key of the generic settings API.
    ///
    /// # Errors
    /// `ReservedSetting` for [`RESERVED_SETTINGS`], `UnknownSetting` otherwise.
    pub fn parse(key: &str) -> Result<Self, ConfigKeyError> {
        if RESERVED_SETTINGS.contains(&key) {
            return Err(ConfigKeyError::ReservedSetting(key.to_owned()));
        }
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == key)
            .ok_or_else(|| ConfigKeyError::UnknownSetting(key.to_owned()))
    }

    /// The value as it is stored: checked and normalised.
    ///
    /// # Errors
    /// A value of the wrong type or out of range.
    pub fn validate(self, value: &Value) -> Result<Value, ValidationError> {
        Ok(match self.typed(value)? {
            SettingValue::MaxFileSize(n) => Value::from(n),
            SettingValue::UrlTtlSecs(n) | SettingValue::RetentionDays(n) => Value::from(n),
            SettingValue::AllowedContentTypes(list) => Value::from(list),
            SettingValue::RecordsRetention(rules) => serde_json::to_value(rules)
                .map_err(|e| ValidationError::new("value", e.to_string()))?,
        })
    }

    fn typed(self, value: &Value) -> Result<SettingValue, ValidationError> {
        let err = |reason: &str| ValidationError::new("value", reason.to_owned());
        match self {
            Self::MaxFileSize => match value.as_u64() {
                Some(n) if n >= 1 => Ok(SettingValue::MaxFileSize(n)),
                _ => Err(err(
                    "max_file_size must be a whole number of bytes, at least 1",
                )),
            },
            Self::UrlTtlSecs => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) if (1..=MAX_URL_TTL_SECS).contains(&n) => Ok(SettingValue::UrlTtlSecs(n)),
                _ => Err(err("url_ttl_secs must be a whole number from 1 to 604800")),
            },
            Self::RetentionDays => match value.as_u64().and_then(|n| u32::try_from(n).ok()) {
                Some(n) if n <= MAX_RETENTION_DAYS => Ok(SettingValue::RetentionDays(n)),
                _ => Err(err("retention_days must be a whole number from 0 to 3650")),
            },
            Self::RecordsRetention => records_retention(value).map(SettingValue::RecordsRetention),
            Self::AllowedContentTypes => {
                let list = value.as_array().ok_or_else(|| {
                    err("allowed_content_types must be a list such as [\"application/pdf\", \"image/*\"]")
                })?;
                if list.len() > 100 {
                    return Err(err("allowed_content_types holds at most 100 patterns"));
                }
                list.iter()
                    .map(|p| {
                        p.as_str()
                            .and_then(content_type_pattern)
                            .ok_or_else(|| err("each allowed content type must be a media type such as 'application/pdf', 'image/*' or '*/*'"))
                    })
                    .collect::<Result<Vec<_>, _>>()
                    .map(SettingValue::AllowedContentTypes)
            }
        }
    }
}

impl fmt::Display for SettingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A normalised pattern (`type/subtype`, `type/*` or `*/*`), or `None`.
fn content_type_pattern(raw: &str) -> Option<String> {
    let p = raw.trim().to_ascii_lowercase();
    if p == "*" || p == "*/*" {
        return Some("*/*".to_owned());
    }
    if let Some(kind) = p.strip_suffix("/*") {
        return ContentType::new(format!("{kind}/x"))
            .ok()
            .map(|_| format!("{kind}/*"));
    }
    ContentType::new(p.as_str())
        .ok()
        .filter(|c| !c.as_str().contains(';'))
        .map(|c| c.essence().to_owned())
}

/// Retention rules by category, each checked.
fn records_retention(value: &Value) -> Result<RecordsRetention, ValidationError> {
    let err = |reason: String| ValidationError::new("value", reason);
    let rules = value.as_object().ok_or_else(|| {
        err(r#"records_retention must be an object such as {"documents": {"mode": "compliance", "days": 2557}}"#.to_owned())
    })?;
    if rules.len() > 100 {
        return Err(err(
            "records_retention holds at most 100 categories".to_owned()
        ));
    }
    rules
        .iter()
        .map(|(category, rule)| {
            let category = Category::new(category.as_str()).map_err(|e| err(e.to_string()))?;
            if !rule.is_object() {
                return Err(err(format!(
                    r#"the rule of {category} must be an object such as {{"mode": "compliance", "days": 2557}}"#
                )));
            }
            let rule: RetentionRule = serde_json::from_value(rule.clone())
                .map_err(|e| err(format!("the rule of {category}: {e}")))?;
            let rule = RetentionRule::new(rule.mode, rule.days)
                .map_err(|e| err(format!("the rule of {category}: {e}")))?;
            Ok((category, rule))
        })
        .collect()
}

/// The records retention a tenant gives new files, by category.
pub type RecordsRetention = BTreeMap<Category, RetentionRule>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum SettingValue {
    MaxFileSize(u64),
    UrlTtlSecs(u32),
    AllowedContentTypes(Vec<String>),
    RetentionDays(u32),
    RecordsRetention(RecordsRetention),
}

/// The feature flags, each gating one path. Unset (or expired), a flag is
/// enabled: flags are for switching a path off for a tenant, or for a while.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FeatureKey {
    /// `POST /files` with `multipart/form-data` (the body through Coffer).
    StreamedUploads,
    /// `POST /files` with `"multipart": true` (S3 multipart, presigned parts).
    MultipartUploads,
    /// `GET /files/{id}/content` (the bytes through Coffer).
    ContentStreaming,
    /// Every upload waits for a malware scan before it is readable, where
    /// the deployment has a scanner (docs/scanning.md).
    MalwareScanning,
    /// Share links for people outside the tenant (docs/sharing.md): off,
    /// no link can be made and none opens.
    ShareLinks,
    /// Upload requests for people outside the tenant (docs/sharing.md):
    /// off, no request can be made and none takes files.
    UploadRequests,
}

impl FeatureKey {
    pub const ALL: [Self; 6] = [
        Self::StreamedUploads,
        Self::MultipartUploads,
        Self::ContentStreaming,
        Self::MalwareScanning,
        Self::ShareLinks,
        Self::UploadRequests,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::StreamedUploads => "streamed_uploads",
            Self::MultipartUploads => "multipart_uploads",
            Self::ContentStreaming => "content_streaming",
            Self::MalwareScanning => "malware_scanning",
            Self::ShareLinks => "share_links",
            Self::UploadRequests => "upload_requests",
        }
    }

    /// # Errors
    /// `UnknownFeature`.
    pub fn parse(key: &str) -> Result<Self, ConfigKeyError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == key)
            .ok_or_else(|| ConfigKeyError::UnknownFeature(key.to_owned()))
    }

    /// The value of a flag nobody set.
    pub fn default_enabled(self) -> bool {
        true
    }
}

impl fmt::Display for FeatureKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tenant's feature flag as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureFlag {
    pub key: String,
    pub enabled: bool,
    /// After this instant the flag no longer applies (the default does).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

impl FeatureFlag {
    /// Whether the flag still applies at `now`.
    pub fn is_active(&self, now: OffsetDateTime) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// What a tenant stored beyond its row: settings and feature flags, raw.
/// Unknown keys (the reserved `webhook`, or keys of another version) are
/// ignored by the resolution.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TenantConfig {
    pub settings: Vec<(String, Value)>,
    pub features: Vec<FeatureFlag>,
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sourced<T> {
    pub value: T,
    pub source: Source,
}

impl<T> Sourced<T> {
    fn new(value: T, source: Source) -> Self {
        Self { value, source }
    }

    fn replace(&mut self, value: Option<T>, source: Source) {
        if let Some(value) = value {
            *self = Self { value, source };
        }
    }
}

/// A flag's effective state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlagState {
    pub enabled: bool,
    pub source: Source,
    /// When the stored flag stops applying (source `feature` only).
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires_at: Option<OffsetDateTime>,
}

/// A tenant's limits and feature flags, each with its source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveConfig {
    pub max_file_size: Sourced<u64>,
    pub max_total_bytes: Sourced<u64>,
    pub max_files: Sourced<u64>,
    pub allowed_content_types: Sourced<Vec<String>>,
    pub url_ttl_secs: Sourced<u32>,
    pub retention_days: Sourced<u32>,
    pub requests_per_minute: Sourced<u32>,
    pub user_requests_per_minute: Sourced<u32>,
    /// The records retention new files get, by category (none by default).
    pub records_retention: Sourced<RecordsRetention>,
    /// Every flag of [`FeatureKey::ALL`], by name.
    pub features: BTreeMap<&'static str, FlagState>,
}

impl EffectiveConfig {
    /// Plan defaults → overrides → settings → feature flags active at `now`.
    pub fn resolve(
        plan: &PlanLimits,
        overrides: &LimitOverrides,
        stored: &TenantConfig,
        now: OffsetDateTime,
    ) -> Self {
        let mut eff = Self {
            max_file_size: Sourced::new(plan.max_file_size, Source::Plan),
            max_total_bytes: Sourced::new(plan.max_total_bytes, Source::Plan),
            max_files: Sourced::new(plan.max_files, Source::Plan),
            allowed_content_types: Sourced::new(plan.allowed_content_types.clone(), Source::Plan),
            url_ttl_secs: Sourced::new(plan.url_ttl_secs, Source::Plan),
            retention_days: Sourced::new(plan.retention_days, Source::Plan),
            requests_per_minute: Sourced::new(plan.requests_per_minute, Source::Plan),
            user_requests_per_minute: Sourced::new(plan.user_requests_per_minute, Source::Plan),
            records_retention: Sourced::new(RecordsRetention::new(), Source::Default),
            features: FeatureKey::ALL
                .into_iter()
                .map(|k| {
                    let state = FlagState {
                        enabled: k.default_enabled(),
                        source: Source::Default,
                        expires_at: None,
                    };
                    (k.as_str(), state)
                })
                .collect(),
        };
        let o = overrides;
        eff.max_file_size.replace(o.max_file_size, Source::Override);
        eff.max_total_bytes
            .replace(o.max_total_bytes, Source::Override);
        eff.max_files.replace(o.max_files, Source::Override);
        eff.allowed_content_types
            .replace(o.allowed_content_types.clone(), Source::Override);
        eff.url_ttl_secs.replace(o.url_ttl_secs, Source::Override);
        eff.retention_days
            .replace(o.retention_days, Source::Override);
        eff.requests_per_minute
            .replace(o.requests_per_minute, Source::Override);
        eff.user_requests_per_minute
            .replace(o.user_requests_per_minute, Source::Override);

        // One row per key (the stores' primary key), so order does not matter.
        let settings = stored.settings.iter().filter_map(|(key, value)| {
            let key = SettingKey::parse(key).ok()?;
            key.typed(value).ok()
        });
        for setting in settings {
            let s = Source::Setting;
            match setting {
                SettingValue::MaxFileSize(n) => eff.max_file_size.replace(Some(n), s),
                SettingValue::UrlTtlSecs(n) => eff.url_ttl_secs.replace(Some(n), s),
                SettingValue::RetentionDays(n) => eff.retention_days.replace(Some(n), s),
                SettingValue::AllowedContentTypes(l) => {
                    eff.allowed_content_types.replace(Some(l), s);
                }
                SettingValue::RecordsRetention(rules) => {
                    eff.records_retention.replace(Some(rules), s)
                }
            }
        }
        for flag in &stored.features {
            let Ok(key) = FeatureKey::parse(&flag.key) else {
                continue;
            };
            if flag.is_active(now) {
                eff.features.insert(
                    key.as_str(),
                    FlagState {
                        enabled: flag.enabled,
                        source: Source::Feature,
                        expires_at: flag.expires_at,
                    },
                );
            }
        }
        eff
    }

    /// The limits the upload checks and quota use.
    pub fn limits(&self) -> PlanLimits {
        PlanLimits {
            max_file_size: self.max_file_size.value,
            max_total_bytes: self.max_total_bytes.value,
            max_files: self.max_files.value,
            allowed_content_types: self.allowed_content_types.value.clone(),
            url_ttl_secs: self.url_ttl_secs.value,
            retention_days: self.retention_days.value,
            requests_per_minute: self.requests_per_minute.value,
            user_requests_per_minute: self.user_requests_per_minute.value,
        }
    }

    /// The lifetime of presigned URLs (at least one second).
    pub fn url_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(u64::from(self.url_ttl_secs.value.max(1)))
    }

    /// The records retention of a file of `category` uploaded at `at`.
    pub fn retention_for(
        &self,
        category: &Category,
        at: OffsetDateTime,
    ) -> Option<crate::Retention> {
        self.records_retention
            .value
            .get(category)
            .map(|rule| rule.retention_from(at))
    }

    /// Whether the path `key` gates is open.
    pub fn enabled(&self, key: FeatureKey) -> bool {
        self.features
            .get(key.as_str())
            .map_or(key.default_enabled(), |f| f.enabled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan() -> PlanLimits {
        PlanLimits {
            max_file_size: 100,
            max_total_bytes: 1000,
            max_files: 10,
            allowed_content_types: vec![],
            url_ttl_secs: 300,
            retention_days: 30,
            requests_per_minute: 600,
            user_requests_per_minute: 60,
        }
    }

    fn at(secs: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(secs)
    }

    fn flag(key: &str, enabled: bool, expires_at: Option<OffsetDateTime>) -> FeatureFlag {
        FeatureFlag {
            key: key.to_owned(),
            enabled,
            expires_at,
        }
    }

    #[test]
    fn plan_alone_gives_plan_values_and_default_flags() {
        let eff = EffectiveConfig::resolve(
            &plan(),
            &LimitOverrides::default(),
            &TenantConfig::default(),
            at(0),
        );
        assert_eq!(eff.limits(), plan());
        assert_eq!(eff.max_file_size.source, Source::Plan);
        assert_eq!(eff.retention_days.source, Source::Plan);
        for key in FeatureKey::ALL {
            assert!(eff.enabled(key));
            assert_eq!(eff.features[key.as_str()].source, Source::Default);
        }
    }

    #[test]
    fn overrides_then_settings_win_each_with_its_source() {
        let overrides = LimitOverrides {
            max_file_size: Some(200),
            url_ttl_secs: Some(60),
            max_files: Some(3),
            ..LimitOverrides::default()
        };
        let stored = TenantConfig {
            settings: vec![
                ("url_ttl_secs".into(), json!(900)),
                ("allowed_content_types".into(), json!(["image/*"])),
                ("webhook".into(), json!({ "url": "https://x" })),
                ("nonsense".into(), json!(1)),
                ("retention_days".into(), json!("not a number")),
            ],
            features: vec![],
        };
        let eff = EffectiveConfig::resolve(&plan(), &overrides, &stored, at(0));
        assert_eq!(eff.max_file_size, Sourced::new(200, Source::Override));
        assert_eq!(eff.max_files, Sourced::new(3, Source::Override));
        assert_eq!(eff.url_ttl_secs, Sourced::new(900, Source::Setting));
        assert_eq!(
            eff.allowed_content_types,
            Sourced::new(vec!["image/*".to_owned()], Source::Setting)
        );
        // Invalid stored values and unknown keys change nothing.
        assert_eq!(eff.retention_days, Sourced::new(30, Source::Plan));
        assert_eq!(eff.max_total_bytes, Sourced::new(1000, Source::Plan));
        let limits = eff.limits();
        assert_eq!(limits.url_ttl_secs, 900);
        assert_eq!(limits.max_file_size, 200);
    }

    #[test]
    fn flags_apply_until_they_expire() {
        let stored = TenantConfig {
            settings: vec![],
            features: vec![
                flag("streamed_uploads", false, Some(at(100))),
                flag("multipart_uploads", false, None),
                flag("content_streaming", false, Some(at(50))),
                flag("teleport", true, None),
            ],
        };
        let before = EffectiveConfig::resolve(&plan(), &LimitOverrides::default(), &stored, at(10));
        assert!(!before.enabled(FeatureKey::StreamedUploads));
        assert!(!before.enabled(FeatureKey::MultipartUploads));
        assert!(!before.enabled(FeatureKey::ContentStreaming));
        assert_eq!(
            before.features["streamed_uploads"],
            FlagState {
                enabled: false,
                source: Source::Feature,
                expires_at: Some(at(100))
            }
        );
        assert!(!before.features.contains_key("teleport"));

        let later = EffectiveConfig::resolve(&plan(), &LimitOverrides::default(), &stored, at(100));
        // Expiry is exclusive: at the instant itself the flag is gone.
        assert!(later.enabled(FeatureKey::StreamedUploads));
        assert_eq!(later.features["streamed_uploads"].source, Source::Default);
        assert!(later.enabled(FeatureKey::ContentStreaming));
        assert!(!later.enabled(FeatureKey::MultipartUploads));
    }

    #[test]
    fn keys_parse_or_are_refused_with_stable_codes() {
        assert_eq!(
            SettingKey::parse("max_file_size"),
            Ok(SettingKey::MaxFileSize)
        );
        for key in SettingKey::ALL {
            assert_eq!(SettingKey::parse(key.as_str()), Ok(key));
        }
        for key in FeatureKey::ALL {
            assert_eq!(FeatureKey::parse(key.as_str()), Ok(key));
        }
        let codes = [
            SettingKey::parse("max_files").err().map(|e| e.code()),
            SettingKey::parse("webhook").err().map(|e| e.code()),
            FeatureKey::parse("Streamed_Uploads")
                .err()
                .map(|e| e.code()),
        ];
        assert_eq!(
            codes,
            [
                Some(ErrorCode::UnknownSetting),
                Some(ErrorCode::ReservedSetting),
                Some(ErrorCode::UnknownFeature)
            ]
        );
    }

    #[test]
    fn setting_values_are_validated_and_normalised() {
        use SettingKey::*;
        assert_eq!(MaxFileSize.validate(&json!(5)), Ok(json!(5)));
        assert!(MaxFileSize.validate(&json!(0)).is_err());
        assert!(MaxFileSize.validate(&json!(-1)).is_err());
        assert!(MaxFileSize.validate(&json!("5")).is_err());
        assert!(MaxFileSize.validate(&json!(1.5)).is_err());
        assert_eq!(UrlTtlSecs.validate(&json!(604_800)), Ok(json!(604_800)));
        assert!(UrlTtlSecs.validate(&json!(604_801)).is_err());
        assert!(UrlTtlSecs.validate(&json!(0)).is_err());
        assert_eq!(RetentionDays.validate(&json!(0)), Ok(json!(0)));
        assert!(RetentionDays.validate(&json!(3651)).is_err());
        assert_eq!(
            AllowedContentTypes.validate(&json!([" Image/* ", "application/PDF", "*"])),
            Ok(json!(["image/*", "application/pdf", "*/*"]))
        );
        assert_eq!(AllowedContentTypes.validate(&json!([])), Ok(json!([])));
        assert!(AllowedContentTypes.validate(&json!("image/*")).is_err());
        assert!(AllowedContentTypes.validate(&json!(["nope"])).is_err());
        assert!(AllowedContentTypes.validate(&json!([1])).is_err());
        assert!(
            AllowedContentTypes
                .validate(&json!(["text/plain; charset=utf-8"]))
                .is_err()
        );
    }

    #[test]
    fn sources_serialise_lowercase() {
        let eff = EffectiveConfig::resolve(
            &plan(),
            &LimitOverrides::default(),
            &TenantConfig::default(),
            at(0),
        );
        let json = serde_json::to_value(&eff).unwrap_or_default();
        assert_eq!(
            json["max_file_size"],
            json!({ "value": 100, "source": "plan" })
        );
        assert_eq!(
            json["features"]["content_streaming"],
            json!({ "enabled": true, "source": "default", "expires_at": null })
        );
    }
}
