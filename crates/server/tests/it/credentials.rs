//! Temporary store credentials, enforced by the store itself: write
//! credentials put under one upload session's prefix and nothing else,
//! read credentials read the tenant's own prefix; SeaweedFS (STS with
//! session policies) refuses everything else with Coffer not involved.
//! What lands in a session becomes files through Coffer, verified like any
//! upload; what is left is reaped. The embedded store has none (501).

use aws_sdk_s3::Client as S3;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::integrity::tenant_id;
use crate::support::*;
use crate::weed::{SHORT_SESSIONS_WEED_BASE, Weed};

const PART: usize = 5 * 1024 * 1024;

async fn credentials(server: &TestServer, token: &str, body: Value) -> reqwest::Response {
    server
        .req(Method::POST, "/api/v1/credentials", token)
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) async fn issued(server: &TestServer, token: &str, access: &str) -> Value {
    ok_json(
        credentials(server, token, json!({ "access": access })).await,
        StatusCode::CREATED,
    )
    .await
}

/// An S3 client that signs with the issued credentials only.
pub(crate) fn client_of(issued: &Value) -> S3 {
    let s = |k: &str| issued[k].as_str().unwrap().to_owned();
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(s("region")))
        .endpoint_url(s("endpoint"))
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            s("access_key_id"),
            s("secret_access_key"),
            Some(s("session_token")),
            None,
            "coffer-issued",
        ))
        .force_path_style(issued["force_path_style"].as_bool().unwrap())
        .build();
    S3::from_conf(config)
}

/// The store's own client (the long-term key), to look past Coffer.
fn store_admin(endpoint: &str, secret: &str) -> S3 {
    let config = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(
            std::env::var("COFFER_TEST_S3_REGION").unwrap(),
        ))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_s3::config::Credentials::new(
            std::env::var("COFFER_TEST_S3_ACCESS_KEY_ID").unwrap(),
            secret.to_owned(),
            None,
            None,
            "coffer-tests",
        ))
        .force_path_style(true)
        .build();
    S3::from_conf(config)
}

fn shared_store_admin() -> S3 {
    store_admin(
        &std::env::var("COFFER_TEST_S3_ENDPOINT").unwrap(),
        &std::env::var("COFFER_TEST_S3_SECRET_ACCESS_KEY").unwrap(),
    )
}

pub(crate) async fn put(s3: &S3, bucket: &str, key: &str, body: &[u8]) -> Result<(), u16> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(status_of)
}

async fn get(s3: &S3, bucket: &str, key: &str) -> Result<Vec<u8>, u16> {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(status_of)?;
    Ok(out.body.collect().await.unwrap().into_bytes().to_vec())
}

async fn list(s3: &S3, bucket: &str, prefix: &str) -> Result<Vec<String>, u16> {
    let out = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .map_err(status_of)?;
    Ok(out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect())
}

/// The HTTP status the store answered a refused call with (0: no answer).
fn status_of<E>(err: aws_sdk_s3::error::SdkError<E>) -> u16 {
    err.raw_response()
        .map(|r| r.status().as_u16())
        .unwrap_or_default()
}

/// A multipart upload of two parts (5 MiB and a tail) through `s3`.
async fn multipart_put(s3: &S3, bucket: &str, key: &str, bytes: &[u8]) -> Result<(), u16> {
    let created = s3
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(status_of)?;
    let upload_id = created.upload_id().unwrap().to_owned();
    let mut parts = Vec::new();
    for (i, chunk) in bytes.chunks(PART).enumerate() {
        let number = i32::try_from(i + 1).unwrap();
        let part = s3
            .upload_part()
            .bucket(bucket)
            .key(key)
            .upload_id(&upload_id)
            .part_number(number)
            .body(ByteStream::from(chunk.to_vec()))
            .send()
            .await
            .map_err(status_of)?;
        parts.push(
            CompletedPart::builder()
                .part_number(number)
                .e_tag(part.e_tag().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(&upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map(|_| ())
        .map_err(status_of)
}

pub(crate) async fn complete_session(
    server: &TestServer,
    token: &str,
    issued: &Value,
    files: Value,
) -> reqwest::Response {
    let url = issued["upload_session"]["complete_url"].as_str().unwrap();
    server
        .req(Method::POST, url, token)
        .json(&json!({ "files": files }))
        .send()
        .await
        .unwrap()
}

fn archive_bytes(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8).collect()
}

#[actix_web::test]
async fn write_credentials_put_in_their_session_only_and_register_as_files() {
    let server = TestServer::start(Mode::Production).await;
    // Files up to 6 MB: the archive fits, `too-big.bin` does not.
    let slug = server.tenant(json!({ "max_file_size": 6_000_000 })).await;
    let other = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let tenant = tenant_id(&server, &alice).await;
    let mallory = server.token(Some(&other), "mallory", &["editor"]).await;
    let other_tenant = tenant_id(&server, &mallory).await;

    let creds = issued(&server, &alice, "write").await;
    let (bucket, prefix) = (
        creds["bucket"].as_str().unwrap().to_owned(),
        creds["prefix"].as_str().unwrap().to_owned(),
    );
    assert!(
        prefix.starts_with(&format!("t/{tenant}/_sessions/")) && prefix.ends_with('/'),
        "{prefix}"
    );
    assert_eq!(creds["access"], "write");
    let s3 = client_of(&creds);

    // Inside the session: single and multipart puts are the store's to allow.
    let archive = archive_bytes(PART + 1234);
    multipart_put(
        &s3,
        &bucket,
        &format!("{prefix}2026/q1/archive.bin"),
        &archive,
    )
    .await
    .unwrap();
    put(
        &s3,
        &bucket,
        &format!("{prefix}notes.txt"),
        b"meeting notes\n",
    )
    .await
    .unwrap();
    multipart_put(
        &s3,
        &bucket,
        &format!("{prefix}too-big.bin"),
        &archive_bytes(6_500_000),
    )
    .await
    .unwrap();
    // An image named as a PDF: its bytes contradict the type it declares.
    put(&s3, &bucket, &format!("{prefix}fake.pdf"), PNG)
        .await
        .unwrap();

    // Everything else is refused by SeaweedFS itself.
    let outside = format!("t/{tenant}/documents/planted");
    assert_eq!(
        put(&s3, &bucket, &outside, b"x").await,
        Err(403),
        "outside the session"
    );
    let foreign = format!("t/{other_tenant}/_sessions/x/planted");
    assert_eq!(
        put(&s3, &bucket, &foreign, b"x").await,
        Err(403),
        "another tenant"
    );
    assert_eq!(
        get(&s3, &bucket, &format!("{prefix}notes.txt")).await,
        Err(403),
        "reading, even its own upload"
    );
    assert_eq!(list(&s3, &bucket, &prefix).await, Err(403), "listing");
    let admin = shared_store_admin();
    assert!(
        get(&admin, &bucket, &outside).await.is_err(),
        "nothing planted"
    );

    // A viewer gets no write credentials; an editor no read credentials.
    let victor = server.token(Some(&slug), "victor", &["viewer"]).await;
    problem(
        credentials(&server, &victor, json!({ "access": "write" })).await,
        StatusCode::FORBIDDEN,
        "role_cannot_create",
    )
    .await;
    problem(
        credentials(&server, &alice, json!({ "access": "read" })).await,
        StatusCode::FORBIDDEN,
        "admin_required",
    )
    .await;
    problem(
        credentials(
            &server,
            &alice,
            json!({ "access": "write", "ttl_secs": 60 }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "ttl_out_of_range",
    )
    .await;

    // Another tenant cannot register this session (it does not exist for it).
    problem(
        complete_session(&server, &mallory, &creds, json!([{ "key": "notes.txt" }])).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let outcome = ok_json(
        complete_session(
            &server,
            &alice,
            &creds,
            json!([
                { "key": "2026/q1/archive.bin", "metadata": { "source": "migration" } },
                { "key": "notes.txt", "filename": "notes-2026.txt", "path": "/meetings" },
                { "key": "fake.pdf" },
                { "key": "too-big.bin" },
                { "key": "never-uploaded.txt" },
            ]),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let registered = outcome["registered"].as_array().unwrap();
    assert_eq!(registered.len(), 2, "{outcome}");
    let archive_file = &registered[0];
    assert_eq!(archive_file["filename"], "archive.bin");
    assert_eq!(archive_file["path"], "/2026/q1");
    assert_eq!(archive_file["status"], "available");
    assert_eq!(archive_file["size"], archive.len());
    assert_eq!(
        archive_file["checksum_sha256"],
        hex::encode(sha2::Sha256::digest(&archive))
    );
    assert_eq!(registered[1]["filename"], "notes-2026.txt");
    assert_eq!(registered[1]["path"], "/meetings");
    let refused: Vec<(&str, &str)> = outcome["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["key"].as_str().unwrap(),
                r["problem"]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        refused,
        [
            ("fake.pdf", "content_mismatch"),
            ("too-big.bin", "file_too_large"),
            ("never-uploaded.txt", "upload_missing")
        ]
    );
    // Refused bytes are removed; registered ones left the session for
    // verified keys of their own.
    assert_eq!(list(&admin, &bucket, &prefix).await, Ok(Vec::new()));

    // Listed, readable, and counted against the quota like any upload.
    let listing = ok_json(
        server
            .req(Method::GET, "/api/v1/files?path=/2026/q1", &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listing["items"][0]["id"], archive_file["id"]);
    let view = tenant_view(&server, &alice).await;
    assert_eq!(
        view["usage"]["used_bytes"],
        archive.len() + b"meeting notes\n".len()
    );
    assert_eq!(view["usage"]["file_count"], 2);
    let id = registered[1]["id"].as_str().unwrap();
    let content = server
        .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), b"meeting notes\n");

    // The issue is on record with who, what access, where and until when.
    let admin_token = server.token(Some(&slug), "ada", &["admin"]).await;
    let audit = ok_json(
        server
            .req(
                Method::GET,
                "/api/v1/audit?action=credentials.issued",
                &admin_token,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let entry = &audit["items"][0];
    assert_eq!(entry["actor"], "alice", "{audit}");
    assert_eq!(entry["detail"]["access"], "write");
    assert_eq!(entry["detail"]["prefix"], prefix.as_str());
    assert!(entry["detail"]["expires_at"].is_i64());
    server.shutdown().await;
}

#[actix_web::test]
async fn read_credentials_read_and_list_the_tenant_only() {
    let server = TestServer::start(Mode::Production).await;
    let slug = server.tenant(json!({})).await;
    let other = server.tenant(json!({})).await;
    let ada = server.token(Some(&slug), "ada", &["admin"]).await;
    let tenant = tenant_id(&server, &ada).await;
    let mallory = server.token(Some(&other), "mallory", &["editor"]).await;
    let other_tenant = tenant_id(&server, &mallory).await;
    let mine = upload(&server, &ada, "ledger.csv", b"a,b\n1,2\n", json!({})).await;
    let theirs = upload(&server, &mallory, "secret.txt", b"not yours\n", json!({})).await;

    let creds = issued(&server, &ada, "read").await;
    assert_eq!(creds["access"], "read");
    assert!(creds["upload_session"].is_null());
    let bucket = creds["bucket"].as_str().unwrap();
    assert_eq!(creds["prefix"], format!("t/{tenant}/"));
    let s3 = client_of(&creds);

    let mine_key = file_location(&server, tenant, &mine)
        .await
        .key()
        .to_string();
    let listed = list(&s3, bucket, &format!("t/{tenant}/")).await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&mine_key));
    assert_eq!(get(&s3, bucket, &mine_key).await.unwrap(), b"a,b\n1,2\n");

    let theirs_key = file_location(&server, other_tenant, &theirs)
        .await
        .key()
        .to_string();
    assert_eq!(
        get(&s3, bucket, &theirs_key).await,
        Err(403),
        "another tenant's object"
    );
    assert_eq!(
        list(&s3, bucket, &format!("t/{other_tenant}/")).await,
        Err(403),
        "another tenant's prefix"
    );
    assert_eq!(list(&s3, bucket, "").await, Err(403), "the whole bucket");
    assert_eq!(
        put(&s3, bucket, &format!("t/{tenant}/planted"), b"x").await,
        Err(403),
        "read credentials write nothing"
    );
    server.shutdown().await;
}

#[actix_web::test]
async fn a_suspended_tenant_gets_no_credentials() {
    let server = TestServer::start(Mode::Production).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let tenant = tenant_id(&server, &alice).await;
    let root = server.platform_admin().await;
    ok_json(
        server
            .req(Method::PATCH, &format!("/api/v1/tenants/{tenant}"), &root)
            .json(&json!({ "status": "suspended" }))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    // The tenant cache may serve the active tenant for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let answer = credentials(&server, &alice, json!({ "access": "write" })).await;
        if answer.status() == StatusCode::PAYMENT_REQUIRED {
            problem(answer, StatusCode::PAYMENT_REQUIRED, "tenant_suspended").await;
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still {}",
            answer.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    server.shutdown().await;
}

/// STS issues nothing shorter than 15 minutes; this store caps every
/// session at 5 s, so credentials expire while the test waits.
#[actix_web::test]
async fn expired_credentials_are_refused_and_unregistered_uploads_reaped() {
    let weed = Weed::start_with(
        SHORT_SESSIONS_WEED_BASE,
        vec![("SEAWEEDFS_STS_MAX_SESSION", "5s".to_owned())],
    )
    .await;
    let mut settings: Vec<(&str, String)> = weed.settings();
    settings.push((
        "COFFER__CREDENTIALS__REGISTRATION_WINDOW_SECS",
        "0".to_owned(),
    ));
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server =
        TestServer::start_with(Mode::Production, tempfile::tempdir().unwrap(), &settings).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;

    let creds = issued(&server, &alice, "write").await;
    let expires_at = time::OffsetDateTime::parse(
        creds["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = expires_at - time::OffsetDateTime::now_utc();
    assert!(
        left <= time::Duration::seconds(6),
        "the store's cap is reported: {left}"
    );
    let (bucket, prefix) = (
        creds["bucket"].as_str().unwrap().to_owned(),
        creds["prefix"].as_str().unwrap().to_owned(),
    );
    let s3 = client_of(&creds);
    put(&s3, &bucket, &format!("{prefix}early.txt"), b"in time\n")
        .await
        .unwrap();

    let wait = (expires_at - time::OffsetDateTime::now_utc()) + time::Duration::seconds(2);
    tokio::time::sleep(wait.try_into().unwrap_or_default()).await;
    assert_eq!(
        put(&s3, &bucket, &format!("{prefix}late.txt"), b"too late\n").await,
        Err(403),
        "expired credentials"
    );

    // Past its registration window the session registers nothing more…
    problem(
        complete_session(&server, &alice, &creds, json!([{ "key": "early.txt" }])).await,
        StatusCode::CONFLICT,
        "upload_session_expired",
    )
    .await;
    // …and the sweep deletes what was left in it, then forgets it.
    let admin = store_admin(&weed.endpoint(), &weed.secret);
    assert_eq!(
        list(&admin, &bucket, &prefix).await.unwrap(),
        [format!("{prefix}early.txt")]
    );
    let report = server.wiring.coffer.sweeper().sweep().await.unwrap();
    assert_eq!(report.sessions_reaped, 1, "{report:?}");
    assert_eq!(list(&admin, &bucket, &prefix).await, Ok(Vec::new()));
    problem(
        complete_session(&server, &alice, &creds, json!([{ "key": "early.txt" }])).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    server.shutdown().await;
}

#[actix_web::test]
async fn the_embedded_store_issues_no_credentials() {
    let server = TestServer::start(Mode::Embedded).await;
    let slug = server.tenant(json!({})).await;
    let alice = server.token(Some(&slug), "alice", &["editor"]).await;
    let answer = problem(
        credentials(&server, &alice, json!({ "access": "write" })).await,
        StatusCode::NOT_IMPLEMENTED,
        "credentials_unsupported",
    )
    .await;
    assert!(
        answer["detail"].as_str().unwrap().contains("presigned"),
        "{answer}"
    );
    problem(
        credentials(&server, &alice, json!({ "access": "admin" })).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    server.shutdown().await;
}
