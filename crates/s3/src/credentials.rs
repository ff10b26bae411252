//! Temporary credentials from the store's STS (`AssumeRole` with an inline
//! session policy), so that the store itself refuses everything outside the
//! prefixes a credential names. The role's own policy bounds what any
//! session can do; the session policy narrows it to one tenant's prefix.

use std::time::Duration;

use async_trait::async_trait;
use coffer_ports::{
    CredentialIssuer, CredentialRequest, CredentialScope, ObjectPrefix, StoreError,
    TemporaryCredentials,
};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::{S3Config, S3Error, StsConfig, client};

/// STS allows sessions of 15 minutes at least.
pub const MIN_DURATION: Duration = Duration::from_secs(900);

/// Issues credentials through `AssumeRole` on the store's STS endpoint.
#[derive(Debug, Clone)]
pub struct S3CredentialIssuer {
    sts: aws_sdk_sts::Client,
    role_arn: String,
    max_duration: Duration,
    endpoint: Option<String>,
    region: String,
    force_path_style: bool,
}

impl S3CredentialIssuer {
    /// The issuer of the store `config` describes, or `None` when it has no
    /// `sts` section. Sends nothing.
    ///
    /// # Errors
    /// [`S3Error::Config`] for an invalid configuration.
    pub async fn new(config: &S3Config) -> Result<Option<Self>, S3Error> {
        let Some(sts) = &config.sts else {
            return Ok(None);
        };
        validate(sts)?;
        let endpoint = sts.endpoint.as_ref().or(config.endpoint.as_ref());
        let shared = client::shared_config(config, endpoint).await?;
        Ok(Some(Self {
            sts: aws_sdk_sts::Client::new(&shared),
            role_arn: sts.role_arn.clone(),
            max_duration: Duration::from_secs(sts.max_duration_secs),
            endpoint: config.endpoint.clone(),
            region: config.region.clone(),
            force_path_style: config.force_path_style,
        }))
    }
}

fn validate(sts: &StsConfig) -> Result<(), S3Error> {
    if sts.role_arn.trim().is_empty() {
        return Err(S3Error::Config("sts.role_arn must name a role".to_owned()));
    }
    if !(MIN_DURATION.as_secs()..=43_200).contains(&sts.max_duration_secs) {
        return Err(S3Error::Config(
            "sts.max_duration_secs must be 900 to 43200 (STS's range)".to_owned(),
        ));
    }
    Ok(())
}

#[async_trait]
impl CredentialIssuer for S3CredentialIssuer {
    async fn issue(&self, request: CredentialRequest) -> Result<TemporaryCredentials, StoreError> {
        if request.duration < MIN_DURATION || request.duration > self.max_duration {
            return Err(S3Error::Refused(format!(
                "a credential lives {} to {} seconds",
                MIN_DURATION.as_secs(),
                self.max_duration.as_secs()
            ))
            .into());
        }
        let policy = session_policy(&request.scope).to_string();
        let seconds = i32::try_from(request.duration.as_secs()).unwrap_or(i32::MAX);
        let out = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&request.session_name)
            .policy(policy)
            .duration_seconds(seconds)
            .send()
            .await
            .map_err(|e| S3Error::sdk("AssumeRole", e))?;
        let Some(c) = out.credentials() else {
            return Err(S3Error::Unexpected {
                operation: "AssumeRole",
                detail: "no credentials in the answer".to_owned(),
            }
            .into());
        };
        let expires_at =
            OffsetDateTime::from_unix_timestamp(c.expiration().secs()).map_err(|e| {
                S3Error::Unexpected {
                    operation: "AssumeRole",
                    detail: format!("expiration: {e}"),
                }
            })?;
        Ok(TemporaryCredentials {
            access_key_id: c.access_key_id().to_owned(),
            secret_access_key: c.secret_access_key().to_owned(),
            session_token: c.session_token().to_owned(),
            expires_at,
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            force_path_style: self.force_path_style,
        })
    }

    fn max_duration(&self) -> Duration {
        self.max_duration
    }
}

/// The inline policy of a session: what the store allows it, at most (the
/// role's own policy applies too).
pub(crate) fn session_policy(scope: &CredentialScope) -> Value {
    let statements: Vec<Value> = match scope {
        // Multipart uploads (create, parts, complete) are `s3:PutObject`;
        // aborting one and listing its parts let a client recover from a
        // failed upload. Nothing reads, lists or deletes.
        CredentialScope::PutUnder(prefix) => vec![json!({
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            "Resource": [objects_arn(prefix)],
        })],
        CredentialScope::ReadUnder(prefixes) => prefixes
            .iter()
            .flat_map(|prefix| {
                [
                    json!({
                        "Effect": "Allow",
                        "Action": ["s3:GetObject"],
                        "Resource": [objects_arn(prefix)],
                    }),
                    json!({
                        "Effect": "Allow",
                        "Action": ["s3:ListBucket"],
                        "Resource": [format!("arn:aws:s3:::{}", prefix.bucket())],
                        "Condition": {"StringLike": {"s3:prefix": [format!("{}*", prefix.as_str())]}},
                    }),
                ]
            })
            .collect(),
    };
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn objects_arn(prefix: &ObjectPrefix) -> String {
    format!("arn:aws:s3:::{}/{}*", prefix.bucket(), prefix.as_str())
}

#[cfg(test)]
mod tests {
    use coffer_domain::{BucketName, TenantId, UploadSessionId};
    use uuid::Uuid;

    use super::*;

    fn bucket(name: &str) -> BucketName {
        BucketName::new(name).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_write_policy_allows_puts_under_the_session_only() {
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let session = UploadSessionId::from_uuid(Uuid::from_u128(2));
        let prefix = ObjectPrefix::upload_session(tenant, bucket("files"), session);
        let policy = session_policy(&CredentialScope::PutUnder(prefix));
        let statements = policy["Statement"].as_array().cloned().unwrap_or_default();
        assert_eq!(statements.len(), 1);
        assert_eq!(
            statements[0]["Resource"],
            json!([format!(
                "arn:aws:s3:::files/t/{tenant}/_sessions/{session}/*"
            )])
        );
        let actions = statements[0]["Action"].to_string();
        assert!(actions.contains("s3:PutObject"));
        for forbidden in ["GetObject", "ListBucket", "DeleteObject", "s3:*"] {
            assert!(!actions.contains(forbidden), "{actions}");
        }
    }

    #[test]
    fn a_read_policy_reads_and_lists_the_tenant_in_each_bucket() {
        let tenant = TenantId::from_uuid(Uuid::from_u128(1));
        let prefixes = vec![
            ObjectPrefix::tenant(tenant, bucket("files")),
            ObjectPrefix::tenant(tenant, bucket("documents")),
        ];
        let policy = session_policy(&CredentialScope::ReadUnder(prefixes));
        let text = policy.to_string();
        for b in ["files", "documents"] {
            assert!(
                text.contains(&format!("arn:aws:s3:::{b}/t/{tenant}/*")),
                "{text}"
            );
            assert!(text.contains(&format!("\"arn:aws:s3:::{b}\"")), "{text}");
        }
        assert!(
            !text.contains("PutObject") && !text.contains("Delete"),
            "{text}"
        );
        assert_eq!(policy["Statement"].as_array().map(Vec::len), Some(4));
    }

    #[test]
    fn durations_outside_sts_are_a_configuration_error() {
        for secs in [899, 43_201] {
            let sts = StsConfig {
                role_arn: "arn:aws:iam::1:role/r".into(),
                endpoint: None,
                max_duration_secs: secs,
            };
            assert!(validate(&sts).is_err(), "{secs}");
        }
        let blank = StsConfig {
            role_arn: " ".into(),
            endpoint: None,
            max_duration_secs: 3600,
        };
        assert!(validate(&blank).is_err());
    }
}
