//! The scan worker: a claimed scan streams the verified object to the
//! scanner and records its verdict; an unreachable scanner puts the scan
//! back for later (the file waits); what cannot be scanned is quarantined;
//! jobs with nothing left to scan are dropped.

use bytes::Bytes;
use coffer_domain::{FileRecord, FileStatus, ScanVerdict, SignatureName, Tenant, TenantStatus};
use coffer_ports::{GetObject, MetadataErrorKind, ScanError, ScanErrorKind, ScanJob};
use coffer_service::ScanReport;

use crate::support::*;

fn job(tenant: &Tenant, file: &FileRecord, attempts: u32) -> ScanJob {
    ScanJob {
        tenant_id: tenant.id,
        file_id: file.id,
        attempts,
        queued_at: now(),
    }
}

/// A worker with one claimed scan of a `scanning` file whose object holds
/// `bytes`.
fn claimed(attempts: u32) -> (ScanningFx, Tenant, FileRecord) {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Scanning);
    let mut fx = ScanningFx::default();
    let claimed = job(&t, &f, attempts);
    fx.scans
        .expect_claim_scans()
        .times(1)
        .withf(|_, lease, limit| *lease == time::Duration::minutes(5) && *limit == 2)
        .returning(move |_, _, _| Ok(vec![claimed.clone()]));
    let known = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(known.clone()));
    serves_file(&mut fx.files, &f);
    let key = f.key.clone();
    fx.store
        .expect_get_stream()
        .withf(move |loc, range| loc.key() == &key && range.is_none())
        .returning(|_, _| {
            Ok(GetObject {
                total_size: 4,
                range: None,
                content_type: None,
                etag: None,
                body: Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"%PDF"))])),
            })
        });
    (fx, t, f)
}

fn records(fx: &mut ScanningFx, verdict: ScanVerdict, status: FileStatus, action: &'static str) {
    fx.files
        .expect_record_scan()
        .times(1)
        .withf(move |_, _, v, _, journal| {
            *v == verdict
                && journal.audit.action == action
                && journal.event.as_ref().is_some_and(|e| e.kind == action)
        })
        .returning(move |_, _, verdict, _, _| {
            let mut f = file(&tenant(TenantStatus::Active), "alice", status);
            f.scan_verdict = Some(verdict);
            Ok(f)
        });
}

fn finishes(fx: &mut ScanningFx, f: &FileRecord) {
    let id = f.id;
    fx.scans
        .expect_finish_scan()
        .times(1)
        .withf(move |_, file| *file == id)
        .returning(|_, _| Ok(()));
}

fn eicar() -> ScanVerdict {
    ScanVerdict::infected(SignatureName::new("Eicar-Test-Signature").unwrap())
}

#[tokio::test]
async fn a_clean_file_becomes_available() {
    let (mut fx, _, f) = claimed(1);
    fx.scanner.expect_scan().times(1).returning(|body| {
        let chunks = futures::executor::block_on(futures::StreamExt::collect::<Vec<_>>(body));
        assert_eq!(chunks.len(), 1, "the object's bytes reach the scanner");
        Ok(ScanVerdict::Clean)
    });
    records(
        &mut fx,
        ScanVerdict::Clean,
        FileStatus::Available,
        "file.scanned",
    );
    finishes(&mut fx, &f);
    let report = fx.build().scan_pending().await.unwrap();
    assert_eq!(
        report,
        ScanReport {
            clean: 1,
            ..ScanReport::default()
        }
    );
}

#[tokio::test]
async fn an_infected_file_is_quarantined_with_its_signature() {
    let (mut fx, _, f) = claimed(1);
    fx.scanner.expect_scan().returning(|_| Ok(eicar()));
    records(
        &mut fx,
        eicar(),
        FileStatus::Quarantined,
        "file.quarantined",
    );
    finishes(&mut fx, &f);
    let report = fx.build().scan_pending().await.unwrap();
    assert_eq!(report.quarantined, 1);
}

#[tokio::test]
async fn an_unreachable_scanner_puts_the_scan_back_and_the_file_waits() {
    let (mut fx, _, f) = claimed(3);
    fx.scanner.expect_scan().returning(|_| {
        Err(ScanError::new(
            ScanErrorKind::Unavailable,
            "connection refused",
        ))
    });
    fx.files.expect_record_scan().never();
    fx.scans.expect_finish_scan().never();
    let id = f.id;
    // The third attempt waits 1 s · 2² = 4 s.
    fx.scans
        .expect_retry_scan()
        .times(1)
        .withf(move |_, file, due, why| {
            *file == id && *due == now() + time::Duration::seconds(4) && why.contains("refused")
        })
        .returning(|_, _, _, _| Ok(()));
    let report = fx.build().scan_pending().await.unwrap();
    assert_eq!(report.deferred, 1);
}

#[tokio::test]
async fn what_the_scanner_cannot_take_is_quarantined_as_unscannable() {
    let (mut fx, _, f) = claimed(1);
    fx.scanner.expect_scan().returning(|_| {
        Err(ScanError::new(
            ScanErrorKind::TooLarge,
            "size limit exceeded",
        ))
    });
    fx.files
        .expect_record_scan()
        .times(1)
        .withf(|_, _, v, _, _| matches!(v, ScanVerdict::Unscannable { .. }))
        .returning(|_, _, _, _, _| {
            Ok(file(
                &tenant(TenantStatus::Active),
                "alice",
                FileStatus::Quarantined,
            ))
        });
    finishes(&mut fx, &f);
    let report = fx.build().scan_pending().await.unwrap();
    assert_eq!(report.quarantined, 1);
}

#[tokio::test]
async fn a_failing_scanner_is_retried_then_the_file_is_quarantined() {
    for (attempts, gives_up) in [(4, false), (5, true)] {
        let (mut fx, _, f) = claimed(attempts);
        fx.scanner
            .expect_scan()
            .returning(|_| Err(ScanError::new(ScanErrorKind::Internal, "nonsense answer")));
        if gives_up {
            fx.files
                .expect_record_scan()
                .times(1)
                .withf(|_, _, v, _, _| matches!(v, ScanVerdict::Unscannable { reason } if reason.contains("5 times")))
                .returning(|_, _, _, _, _| {
                    Ok(file(&tenant(TenantStatus::Active), "alice", FileStatus::Quarantined))
                });
            finishes(&mut fx, &f);
        } else {
            fx.files.expect_record_scan().never();
            fx.scans
                .expect_retry_scan()
                .times(1)
                .returning(|_, _, _, _| Ok(()));
        }
        let report = fx.build().scan_pending().await.unwrap();
        assert_eq!(
            report.quarantined,
            u64::from(gives_up),
            "attempt {attempts}"
        );
        assert_eq!(report.deferred, u64::from(!gives_up), "attempt {attempts}");
    }
}

#[tokio::test]
async fn jobs_with_nothing_left_to_scan_are_dropped() {
    // Deleted, already scanned, or its tenant gone: taken off the queue
    // without a scan.
    for status in [
        FileStatus::Available,
        FileStatus::Quarantined,
        FileStatus::Deleted,
    ] {
        let t = tenant(TenantStatus::Active);
        let f = file(&t, "alice", status);
        let mut fx = ScanningFx::default();
        let claimed = job(&t, &f, 1);
        fx.scans
            .expect_claim_scans()
            .returning(move |_, _, _| Ok(vec![claimed.clone()]));
        let known = t.clone();
        fx.registry
            .expect_get_tenant()
            .returning(move |_| Ok(known.clone()));
        serves_file(&mut fx.files, &f);
        fx.scanner.expect_scan().never();
        finishes(&mut fx, &f);
        assert_eq!(
            fx.build().scan_pending().await.unwrap().dropped,
            1,
            "{status}"
        );
    }
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Scanning);
    let mut fx = ScanningFx::default();
    let claimed = job(&t, &f, 1);
    fx.scans
        .expect_claim_scans()
        .returning(move |_, _, _| Ok(vec![claimed.clone()]));
    fx.registry
        .expect_get_tenant()
        .returning(|_| Err(meta_err(MetadataErrorKind::NotFound)));
    finishes(&mut fx, &f);
    assert_eq!(fx.build().scan_pending().await.unwrap().dropped, 1);
}

#[tokio::test]
async fn a_scan_queued_before_its_complete_finished_waits() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Pending);
    let mut fx = ScanningFx::default();
    let claimed = job(&t, &f, 1);
    fx.scans
        .expect_claim_scans()
        .returning(move |_, _, _| Ok(vec![claimed.clone()]));
    let known = t.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(known.clone()));
    serves_file(&mut fx.files, &f);
    fx.scanner.expect_scan().never();
    fx.scans.expect_finish_scan().never();
    fx.scans
        .expect_retry_scan()
        .times(1)
        .returning(|_, _, _, _| Ok(()));
    assert_eq!(fx.build().scan_pending().await.unwrap().deferred, 1);
}
