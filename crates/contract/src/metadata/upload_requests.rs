//! [`coffer_ports::UploadRequests`]: requests are found by their token's
//! digest only, listed and closed within their own tenant, and their places
//! taken atomically while they are open.

use std::sync::Arc;

use coffer_domain::{
    ContentType, LinkToken, LogicalPath, RequestTerms, TenantId, UploadRequest, UploadRequestId,
};
use coffer_ports::{MetadataErrorKind, MetadataPorts, UploadRequests};

use super::fixtures::{assert_kind, at, subject, tenant};

/// The cases of [`coffer_ports::UploadRequests`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! upload_requests_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; upload_requests;
            requests_round_trip_and_are_listed_and_closed_in_their_tenant,
            the_last_place_goes_to_one_of_many_racing,
            closed_and_expired_requests_give_no_place,
        );
    };
}

fn request(tenant: TenantId, created: i64, max_files: u32) -> UploadRequest {
    UploadRequest {
        id: UploadRequestId::new_random(),
        tenant_id: tenant,
        terms: RequestTerms {
            path: LogicalPath::new("/clients/acme/receipts").unwrap(),
            expires_at: at(1_000),
            max_files,
            max_size: 5 << 40,
            allowed_types: vec![
                ContentType::new("application/pdf").unwrap(),
                ContentType::new("image/jpeg").unwrap(),
            ],
            message: Some("Your 2026 receipts, please.\nThanks — Ana".into()),
        },
        files_received: 0,
        closed_at: None,
        created_by: subject("ana"),
        created_at: at(created),
    }
}

pub async fn requests_round_trip_and_are_listed_and_closed_in_their_tenant(ports: MetadataPorts) {
    let (acme, globex) = (tenant(&ports, "acme").await, tenant(&ports, "globex").await);
    let requests = &ports.upload_requests;
    let token = LinkToken::from_random([4; 32]);
    let (older, newer) = (request(acme.id, 1, 3), request(acme.id, 2, 1));
    let mut bare = request(globex.id, 3, 1);
    bare.terms.allowed_types.clear();
    bare.terms.message = None;
    requests
        .create_request(older.clone(), token.digest())
        .await
        .unwrap();
    requests
        .create_request(newer.clone(), LinkToken::from_random([5; 32]).digest())
        .await
        .unwrap();
    requests
        .create_request(bare.clone(), LinkToken::from_random([6; 32]).digest())
        .await
        .unwrap();
    assert_kind(
        requests
            .create_request(request(acme.id, 4, 1), token.digest())
            .await,
        MetadataErrorKind::Conflict,
        "a taken digest",
    );

    assert_eq!(
        requests.find_request(token.digest()).await.unwrap(),
        Some(older.clone()),
        "every field round-trips"
    );
    assert_eq!(
        requests
            .find_request(LinkToken::from_random([9; 32]).digest())
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        requests.requests_of_tenant(acme.id).await.unwrap(),
        vec![newer.clone(), older.clone()],
        "newest first"
    );
    assert_eq!(
        requests.requests_of_tenant(globex.id).await.unwrap(),
        vec![bare.clone()]
    );

    assert_kind(
        requests.close_request(globex.id, older.id, at(10)).await,
        MetadataErrorKind::NotFound,
        "another tenant closing",
    );
    let closed = requests
        .close_request(acme.id, older.id, at(10))
        .await
        .unwrap();
    assert_eq!(closed.closed_at, Some(at(10)));
    let again = requests
        .close_request(acme.id, older.id, at(20))
        .await
        .unwrap();
    assert_eq!(again.closed_at, Some(at(10)), "the first closing stands");
}

pub async fn the_last_place_goes_to_one_of_many_racing(ports: MetadataPorts) {
    let acme = tenant(&ports, "acme").await;
    let requests: Arc<dyn UploadRequests> = ports.upload_requests.clone();
    let open = request(acme.id, 1, 3);
    let id = open.id;
    requests
        .create_request(open, LinkToken::from_random([1; 32]).digest())
        .await
        .unwrap();
    let racers = (0..10).map(|_| {
        let requests = requests.clone();
        tokio::spawn(async move { requests.take_place(id, at(100)).await.unwrap() })
    });
    let mut taken = Vec::new();
    for racer in racers {
        if let Some(request) = racer.await.unwrap() {
            taken.push(request.files_received);
        }
    }
    taken.sort_unstable();
    assert_eq!(taken, vec![1, 2, 3], "three places, each taken once");

    // A place given back can be taken again; never below zero.
    requests.give_back_place(id).await.unwrap();
    let retaken = requests.take_place(id, at(100)).await.unwrap().unwrap();
    assert_eq!(retaken.files_received, 3);
    let unknown = UploadRequestId::new_random();
    requests.give_back_place(unknown).await.unwrap();
    for _ in 0..5 {
        requests.give_back_place(id).await.unwrap();
    }
    let first = requests.take_place(id, at(100)).await.unwrap().unwrap();
    assert_eq!(
        first.files_received, 1,
        "given back down to zero, not below"
    );
}

pub async fn closed_and_expired_requests_give_no_place(ports: MetadataPorts) {
    let acme = tenant(&ports, "acme").await;
    let requests = &ports.upload_requests;
    let open = request(acme.id, 1, 10);
    let id = open.id;
    requests
        .create_request(open, LinkToken::from_random([2; 32]).digest())
        .await
        .unwrap();
    assert_eq!(
        requests.take_place(id, at(1_000)).await.unwrap(),
        None,
        "at its expiry"
    );
    assert!(requests.take_place(id, at(999)).await.unwrap().is_some());
    requests.close_request(acme.id, id, at(500)).await.unwrap();
    assert_eq!(
        requests.take_place(id, at(501)).await.unwrap(),
        None,
        "once closed"
    );
    assert_eq!(
        requests
            .take_place(UploadRequestId::new_random(), at(1))
            .await
            .unwrap(),
        None,
        "an unknown request"
    );
}
