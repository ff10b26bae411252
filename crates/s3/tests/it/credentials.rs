//! The STS issuer against SeaweedFS: the store itself confines what the
//! credentials may do to the scope Coffer asked for.

use std::time::Duration;

use aws_sdk_s3::primitives::ByteStream;
use coffer_domain::{BucketName, TenantId, UploadSessionId};
use coffer_ports::{
    CredentialIssuer, CredentialRequest, CredentialScope, ObjectPrefix, StoreErrorKind,
    TemporaryCredentials,
};
use coffer_s3::{S3Config, S3CredentialIssuer, StsConfig};

use crate::support::{config, raw_client};

fn with_sts() -> S3Config {
    S3Config {
        sts: Some(StsConfig {
            role_arn: std::env::var("COFFER_TEST_STS_ROLE_ARN").unwrap(),
            endpoint: None,
            max_duration_secs: 3600,
        }),
        ..config()
    }
}

fn client(c: &TemporaryCredentials) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::new()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(c.region.clone()))
        .endpoint_url(c.endpoint.clone().unwrap())
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            c.access_key_id.clone(),
            c.secret_access_key.clone(),
            Some(c.session_token.clone()),
            None,
            "issued",
        ))
        .force_path_style(c.force_path_style)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<(), String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from_static(b"bytes"))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test]
async fn put_credentials_put_under_their_prefix_only() {
    let bucket = BucketName::new("coffer-sts").unwrap();
    let _ = raw_client()
        .create_bucket()
        .bucket(bucket.as_str())
        .send()
        .await;
    let issuer = S3CredentialIssuer::new(&with_sts()).await.unwrap().unwrap();
    let (tenant, other) = (TenantId::new_random(), TenantId::new_random());
    let session = UploadSessionId::new_v7();
    let prefix = ObjectPrefix::upload_session(tenant, bucket.clone(), session);
    let issued = issuer
        .issue(CredentialRequest {
            scope: CredentialScope::PutUnder(prefix.clone()),
            session_name: "coffer-test".into(),
            duration: Duration::from_secs(900),
        })
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let s3 = client(&issued);
    put(&s3, bucket.as_str(), &format!("{}a.txt", prefix.as_str()))
        .await
        .unwrap();
    for refused in [
        format!("t/{tenant}/documents/x"),
        format!("t/{other}/_sessions/{session}/a.txt"),
    ] {
        assert!(
            put(&s3, bucket.as_str(), &refused).await.is_err(),
            "{refused}"
        );
    }
}

#[tokio::test]
async fn durations_outside_the_issuers_range_are_refused_before_sts() {
    let issuer = S3CredentialIssuer::new(&with_sts()).await.unwrap().unwrap();
    let prefix = ObjectPrefix::tenant(
        TenantId::new_random(),
        BucketName::new("coffer-sts").unwrap(),
    );
    for secs in [60, 7200] {
        let err = issuer
            .issue(CredentialRequest {
                scope: CredentialScope::ReadUnder(vec![prefix.clone()]),
                session_name: "coffer-test".into(),
                duration: Duration::from_secs(secs),
            })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), StoreErrorKind::Refused, "{secs}");
    }
    assert!(
        S3CredentialIssuer::new(&config()).await.unwrap().is_none(),
        "no sts section, no issuer"
    );
}
