//! Presigning with static credentials and a custom endpoint: SigV4 over the
//! request, no network. See `docs/benchmarks.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use coffer_domain::{BucketName, Category, ContentType, FileId, Sha256Digest, TenantId};
use coffer_ports::{ObjectLocation, ObjectStore, PresignGet, PresignPut};
use coffer_s3::{S3Config, S3Store};
use criterion::{Criterion, criterion_group, criterion_main};
use time::OffsetDateTime;

fn location() -> ObjectLocation {
    let tenant = TenantId::new_random();
    let bucket = BucketName::new("coffer-bench").unwrap();
    ObjectLocation::for_file(
        tenant,
        bucket,
        &Category::default_category(),
        FileId::new_v7(),
    )
}

fn presign(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Port 9 (discard): nothing is ever sent there.
    let store = rt
        .block_on(S3Store::new(S3Config {
            endpoint: Some("http://127.0.0.1:9".to_owned()),
            access_key_id: Some("bench-key".to_owned()),
            secret_access_key: Some("bench-secret".into()),
            force_path_style: true,
            ..S3Config::default()
        }))
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let get = PresignGet {
        location: location(),
        content_disposition: Some("attachment; filename=\"report.pdf\"".to_owned()),
        content_type: Some(ContentType::new("application/pdf").unwrap()),
        now,
        expires_in: Duration::from_secs(300),
    };
    let put = PresignPut {
        location: location(),
        content_type: ContentType::new("application/pdf").unwrap(),
        content_length: 1_048_576,
        checksum_sha256: Some(Sha256Digest::from_bytes([7; 32])),
        now,
        expires_in: Duration::from_secs(300),
    };
    let mut group = c.benchmark_group("presign");
    group.bench_function("get", |b| {
        b.to_async(&rt)
            .iter(|| async { store.presign_get(get.clone()).await.unwrap() });
    });
    group.bench_function("put", |b| {
        b.to_async(&rt)
            .iter(|| async { store.presign_put(put.clone()).await.unwrap() });
    });
    group.finish();
}

criterion_group!(benches, presign);
criterion_main!(benches);
