//! Verdicts of the shared clamd, over TCP and over the Unix socket.

use bytes::Bytes;
use coffer_clamav::ClamdAddress;
use coffer_domain::ScanVerdict;
use coffer_ports::Scanner;

use crate::support::{
    EICAR, EICAR_SIGNATURE, PDF_LIKE, body, clean_chunks, one_chunk, scanner, shared, tcp_address,
    unix_address,
};

fn both_transports() -> [ClamdAddress; 2] {
    [tcp_address(), unix_address()]
}

fn signature(verdict: &ScanVerdict) -> Option<&str> {
    verdict.signature().map(|s| s.as_str())
}

#[tokio::test]
async fn eicar_is_found_with_its_signature_name_over_tcp_and_the_unix_socket() {
    for address in both_transports() {
        let verdict = scanner(address.clone()).scan(one_chunk(EICAR)).await;
        let verdict = verdict.unwrap_or_else(|e| panic!("{address}: {e}"));
        assert_eq!(signature(&verdict), Some(EICAR_SIGNATURE), "{address}");
        assert!(!verdict.is_clean());
    }
}

#[tokio::test]
async fn clean_bytes_are_clean_over_tcp_and_the_unix_socket() {
    for address in both_transports() {
        let verdict = scanner(address.clone()).scan(one_chunk(PDF_LIKE)).await;
        assert_eq!(verdict.ok(), Some(ScanVerdict::Clean), "{address}");
    }
}

#[tokio::test]
async fn an_empty_body_is_clean() {
    let verdict = scanner(tcp_address()).scan(body([])).await;
    assert_eq!(verdict.ok(), Some(ScanVerdict::Clean));
}

/// 8 MiB in 2,048 chunks of 4 KiB, with empty chunks between them (an
/// empty chunk must not end the stream early) and one 3 MiB chunk (sent in
/// pieces).
#[tokio::test]
async fn several_mib_in_many_chunks_are_clean() {
    let mut chunks = Vec::new();
    for chunk in clean_chunks(8 * 1024 * 1024, 4096) {
        chunks.push(chunk);
        chunks.push(Bytes::new());
    }
    chunks.extend(clean_chunks(3 * 1024 * 1024, 3 * 1024 * 1024));
    let verdict = scanner(tcp_address()).scan(body(chunks)).await;
    assert_eq!(verdict.ok(), Some(ScanVerdict::Clean));
}

/// The whole stream reaches clamd: EICAR after 6 MiB of clean bytes, split
/// across two chunks, is found.
#[tokio::test]
async fn eicar_at_the_end_of_several_mib_across_a_chunk_boundary_is_found() {
    for address in both_transports() {
        let mut chunks = clean_chunks(6 * 1024 * 1024, 64 * 1024);
        chunks.push(Bytes::from_static(&EICAR[..30]));
        chunks.push(Bytes::from_static(&EICAR[30..]));
        let verdict = scanner(address.clone()).scan(body(chunks)).await;
        let verdict = verdict.unwrap_or_else(|e| panic!("{address}: {e}"));
        assert_eq!(signature(&verdict), Some(EICAR_SIGNATURE), "{address}");
    }
}

#[tokio::test]
async fn concurrent_scans_on_one_shared_scanner_each_get_their_own_verdict() {
    let scanner = shared(scanner(tcp_address()));
    let scans = (0..8).map(|i| {
        let scanner = scanner.clone();
        async move {
            let infected = i % 2 == 0;
            let bytes = if infected { EICAR } else { PDF_LIKE };
            (infected, scanner.scan(one_chunk(bytes)).await)
        }
    });
    for (infected, verdict) in futures::future::join_all(scans).await {
        let verdict = verdict.unwrap();
        assert_eq!(verdict.is_clean(), !infected, "{verdict}");
    }
}

#[tokio::test]
async fn check_ready_answers_over_tcp_and_the_unix_socket() {
    for address in both_transports() {
        let ready = scanner(address.clone()).check_ready().await;
        assert!(ready.is_ok(), "{address}: {ready:?}");
    }
}
