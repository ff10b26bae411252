//! [`coffer_ports::ScanQueue`]: scans queued once, claimed under a lease
//! (never twice at once), reclaimed when the lease ends, retried later,
//! finished.

use std::collections::BTreeSet;

use coffer_domain::FileId;
use coffer_ports::{MetadataErrorKind, MetadataPorts, ScanJob};

use super::fixtures::{assert_kind, at, tenant};

/// The cases of [`coffer_ports::ScanQueue`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! scan_queue_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; scans;
            scans_are_queued_once_claimed_under_a_lease_and_finished,
            a_retried_scan_waits_for_its_time,
            concurrent_claims_never_share_a_scan,
        );
    };
}

fn files_of(jobs: &[ScanJob]) -> Vec<(FileId, u32)> {
    jobs.iter().map(|j| (j.file_id, j.attempts)).collect()
}

const LEASE: time::Duration = time::Duration::seconds(60);

pub async fn scans_are_queued_once_claimed_under_a_lease_and_finished(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let scans = &ports.scans;
    let (first, second) = (FileId::new_v7(), FileId::new_v7());
    scans.queue_scan(t.id, first, at(10)).await.unwrap();
    scans.queue_scan(t.id, first, at(15)).await.unwrap();
    scans.queue_scan(t.id, second, at(20)).await.unwrap();
    assert_eq!(scans.queued_scans().await.unwrap(), 2, "queued once each");
    assert!(
        scans
            .claim_scans(at(5), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "nothing is due before it was queued"
    );
    let claimed = scans.claim_scans(at(30), LEASE, 10).await.unwrap();
    assert_eq!(files_of(&claimed), vec![(first, 1), (second, 1)]);
    assert_eq!(claimed[0].tenant_id, t.id);
    assert_eq!(
        claimed[0].queued_at,
        at(10),
        "queuing again changed nothing"
    );
    assert!(
        scans
            .claim_scans(at(31), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "leased scans are not claimed again"
    );
    // The worker died: once its lease ends, the scans are claimed again.
    let reclaimed = scans.claim_scans(at(91), LEASE, 1).await.unwrap();
    assert_eq!(files_of(&reclaimed), vec![(first, 2)]);
    scans.finish_scan(t.id, first).await.unwrap();
    scans.finish_scan(t.id, first).await.unwrap();
    assert_eq!(
        scans.queued_scans().await.unwrap(),
        1,
        "claimed or not, until finished"
    );
    let rest = scans.claim_scans(at(200), LEASE, 10).await.unwrap();
    assert_eq!(files_of(&rest), vec![(second, 2)]);
}

pub async fn a_retried_scan_waits_for_its_time(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let scans = &ports.scans;
    let file = FileId::new_v7();
    scans.queue_scan(t.id, file, at(10)).await.unwrap();
    assert_eq!(scans.claim_scans(at(10), LEASE, 10).await.unwrap().len(), 1);
    scans
        .retry_scan(t.id, file, at(50), "scanner unreachable")
        .await
        .unwrap();
    assert!(
        scans
            .claim_scans(at(20), LEASE, 10)
            .await
            .unwrap()
            .is_empty(),
        "a retry is not due before its time, lease or not"
    );
    let again = scans.claim_scans(at(50), LEASE, 10).await.unwrap();
    assert_eq!(files_of(&again), vec![(file, 2)]);
    assert_kind(
        scans
            .retry_scan(t.id, FileId::new_v7(), at(60), "unknown")
            .await,
        MetadataErrorKind::NotFound,
        "retrying a scan that is not queued",
    );
}

pub async fn concurrent_claims_never_share_a_scan(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let scans = ports.scans.clone();
    let queued: BTreeSet<FileId> = (0..6).map(|_| FileId::new_v7()).collect();
    for file in &queued {
        scans.queue_scan(t.id, *file, at(1)).await.unwrap();
    }
    let claims = (0..3).map(|_| {
        let scans = scans.clone();
        tokio::spawn(async move { scans.claim_scans(at(2), LEASE, 2).await.unwrap() })
    });
    let mut seen = Vec::new();
    for claim in claims {
        seen.extend(claim.await.unwrap().into_iter().map(|j| j.file_id));
    }
    let unique: BTreeSet<FileId> = seen.iter().copied().collect();
    assert_eq!(
        unique.len(),
        seen.len(),
        "a scan was claimed twice: {seen:?}"
    );
    assert_eq!(unique, queued, "every scan was claimed once");
}
