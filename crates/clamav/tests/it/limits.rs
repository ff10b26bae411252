//! clamds of the tests' own: a small StreamMaxLength, and a clamd that
//! crashes mid-scan and comes back.

use std::time::Duration;

use bytes::Bytes;
use coffer_clamav::ClamdAddress;
use coffer_domain::ScanVerdict;
use coffer_ports::{ScanErrorKind, Scanner};

use crate::support::{EICAR, OwnClamd, body, clean_chunks, kind, one_chunk, scanner};

const MIB: usize = 1024 * 1024;

#[tokio::test]
async fn a_body_over_stream_max_length_is_too_large_and_one_at_it_is_scanned() {
    let clamd = OwnClamd::start("1M").await;
    let scanner = scanner(clamd.tcp());

    let at_limit = scanner.scan(body(clean_chunks(MIB, 64 * 1024))).await;
    assert_eq!(at_limit.ok(), Some(ScanVerdict::Clean));

    // One byte over, in small chunks (refused at the chunk that passes the
    // limit) and as one chunk (refused before it is sent).
    for chunk in [64 * 1024, MIB + 1] {
        let over = scanner.scan(body(clean_chunks(MIB + 1, chunk))).await;
        assert_eq!(kind(over), ScanErrorKind::TooLarge, "chunks of {chunk}");
    }
    // Far over, as an upload of 20 MiB would be: refused early, quickly.
    let started = std::time::Instant::now();
    let far_over = scanner.scan(body(clean_chunks(20 * MIB, MIB))).await;
    assert_eq!(kind(far_over), ScanErrorKind::TooLarge);
    assert!(started.elapsed() < Duration::from_secs(5));

    // The same clamd over its Unix socket says the same.
    let unix = crate::support::scanner(ClamdAddress::Unix(clamd.socket()));
    let over = unix.scan(body(clean_chunks(2 * MIB, 64 * 1024))).await;
    assert_eq!(kind(over), ScanErrorKind::TooLarge);
    assert!(!unix.scan(one_chunk(EICAR)).await.unwrap().is_clean());
}

/// Fail closed: a clamd that dies mid-scan gives no verdict, and neither
/// does one that is down; once it is back, scans work again without a new
/// scanner.
#[tokio::test]
async fn a_clamd_that_crashes_mid_scan_is_unavailable_until_it_is_back() {
    let mut clamd = OwnClamd::start("100M").await;
    let scanner = scanner(clamd.tcp());

    // A body whose second half waits until clamd has been killed.
    let (crashed_tx, crashed_rx) = tokio::sync::oneshot::channel::<()>();
    let first = futures::stream::iter(clean_chunks(MIB, 64 * 1024).into_iter().map(Ok));
    let rest = futures::stream::once(async move {
        crashed_rx.await.ok();
        Ok(Bytes::from_static(b"the rest"))
    });
    let scan = tokio::spawn({
        let scanner = scanner.clone();
        async move {
            scanner
                .scan(Box::pin(futures::StreamExt::chain(first, rest)))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    clamd.crash();
    crashed_tx.send(()).ok();
    let crashed = tokio::time::timeout(Duration::from_secs(10), scan)
        .await
        .expect("the scan ends once clamd is gone")
        .unwrap();
    assert_eq!(kind(crashed), ScanErrorKind::Unavailable);

    assert_eq!(
        kind(scanner.check_ready().await),
        ScanErrorKind::Unavailable
    );
    assert_eq!(
        kind(scanner.scan(one_chunk(EICAR)).await),
        ScanErrorKind::Unavailable
    );

    clamd.spawn().await;
    assert!(scanner.check_ready().await.is_ok());
    assert!(!scanner.scan(one_chunk(EICAR)).await.unwrap().is_clean());
}
