//! Copies above the single-copy limit go in parts (`UploadPartCopy`) and
//! still give back the same bytes and type.

use coffer_domain::{Category, ContentType, FileId};
use coffer_ports::{ObjectLocation, ObjectStore};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use crate::support::{config, fresh_bucket, store_with};

async fn digest_of(store: &dyn ObjectStore, location: &ObjectLocation) -> (u64, Vec<u8>) {
    let mut body = store.get_stream(location, None).await.expect("get").body;
    let (mut size, mut hasher) = (0, Sha256::new());
    while let Some(chunk) = body.next().await {
        let chunk = chunk.expect("chunk");
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    (size, hasher.finalize().to_vec())
}

#[tokio::test]
async fn a_copy_above_the_single_copy_limit_is_made_in_parts() {
    const MIB: u64 = 1024 * 1024;
    let store = store_with(coffer_s3::S3Config {
        single_copy_limit_bytes: 5 * MIB,
        copy_part_size_bytes: 5 * MIB,
        ..config()
    })
    .await;
    let bucket = fresh_bucket("coffer-copy");
    store
        .ensure_bucket(&coffer_ports::BucketSpec {
            bucket: bucket.clone(),
            cors_origins: Vec::new(),
            abort_incomplete_multipart_days: 1,
            transitions: Vec::new(),
        })
        .await
        .expect("ensure_bucket");
    let tenant = coffer_domain::TenantId::new_random();
    let category = Category::default_category();
    let source = ObjectLocation::for_file(tenant, bucket.clone(), &category, FileId::new_v7());
    let target = ObjectLocation::verified(tenant, bucket, &category, FileId::new_v7());
    let size = 12 * MIB + 17;
    let body = futures::stream::iter((0..size.div_ceil(MIB)).map(move |n| {
        let len = MIB.min(size - n * MIB) as usize;
        Ok(bytes::Bytes::from(vec![(n % 251) as u8; len]))
    }));
    let content_type = ContentType::new("video/mp4").expect("type");
    store
        .put_stream(&source, &content_type, Box::pin(body))
        .await
        .expect("put_stream");

    let copied = store.copy(&source, &target).await.expect("copy in parts");
    assert_eq!(copied.size, size);
    assert_eq!(copied.content_type.as_deref(), Some("video/mp4"));
    assert_eq!(
        digest_of(&store, &target).await,
        digest_of(&store, &source).await
    );
}
