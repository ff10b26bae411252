//! What is not a verdict: nothing listening, a clamd that never answers or
//! answers nonsense, a body stream that fails.

use std::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_clamav::ClamdAddress;
use coffer_domain::ScanVerdict;
use coffer_ports::{ScanErrorKind, Scanner};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::support::{
    EICAR, PDF_LIKE, clean_chunks, failing_body, free_port, impatient_scanner, kind, one_chunk,
    scanner, tcp_address,
};

fn local(port: u16) -> ClamdAddress {
    ClamdAddress::Tcp {
        host: "127.0.0.1".to_owned(),
        port,
    }
}

/// A server on 127.0.0.1 that hands every connection to `handle`.
async fn fake_clamd<F, Fut>(handle: F) -> ClamdAddress
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = local(listener.local_addr().unwrap().port());
    tokio::spawn(async move {
        loop {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::spawn(handle(socket));
        }
    });
    address
}

#[tokio::test]
async fn a_body_stream_that_fails_midway_is_internal_and_clamd_carries_on() {
    let scanner = scanner(tcp_address());
    let mut chunks = clean_chunks(2 * 1024 * 1024, 64 * 1024);
    // Even with EICAR already sent, a broken body has no verdict.
    chunks.push(Bytes::from_static(EICAR));
    let failed = scanner.scan(failing_body(chunks)).await;
    let error = failed.err().unwrap();
    assert_eq!(error.kind(), ScanErrorKind::Internal, "{error}");
    assert!(error.to_string().contains("body stream failed"), "{error}");

    assert!(scanner.check_ready().await.is_ok());
    let verdict = scanner.scan(one_chunk(PDF_LIKE)).await;
    assert_eq!(verdict.ok(), Some(ScanVerdict::Clean));
}

#[tokio::test]
async fn nothing_listening_is_unavailable_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let addresses = [
        local(free_port()),
        ClamdAddress::Unix(dir.path().join("no-clamd.sock")),
    ];
    for address in addresses {
        let scanner = scanner(address.clone());
        let started = Instant::now();
        let error = scanner.scan(one_chunk(PDF_LIKE)).await.err().unwrap();
        assert_eq!(error.kind(), ScanErrorKind::Unavailable, "{error}");
        assert!(error.to_string().contains(&address.to_string()), "{error}");
        assert_eq!(
            kind(scanner.check_ready().await),
            ScanErrorKind::Unavailable
        );
        assert!(started.elapsed() < Duration::from_secs(1), "{address}");
    }
}

/// A clamd that accepts connections and reads everything but never
/// answers (overloaded, or hung): every wait ends at its timeout.
#[tokio::test]
async fn a_clamd_that_never_answers_is_unavailable_after_the_timeouts() {
    let address = fake_clamd(|mut socket| async move {
        let mut sink = Vec::new();
        socket.read_to_end(&mut sink).await.ok();
    })
    .await;
    let scanner = impatient_scanner(address, Duration::from_millis(300));

    let started = Instant::now();
    let error = scanner.scan(one_chunk(PDF_LIKE)).await.err().unwrap();
    assert_eq!(error.kind(), ScanErrorKind::Unavailable, "{error}");
    assert!(error.to_string().contains("no answer within"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let started = Instant::now();
    let error = scanner.check_ready().await.err().unwrap();
    assert_eq!(error.kind(), ScanErrorKind::Unavailable, "{error}");
    assert!(error.to_string().contains("no PONG within"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A server that answers something no clamd says (another service on the
/// port): never a verdict.
#[tokio::test]
async fn an_unexpected_answer_is_internal() {
    let address = fake_clamd(|mut socket| async move {
        let mut command = [0u8; 6];
        socket.read_exact(&mut command).await.ok();
        socket
            .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            .await
            .ok();
    })
    .await;
    let scanner = scanner(address);
    let error = scanner.scan(one_chunk(PDF_LIKE)).await.err().unwrap();
    assert_eq!(error.kind(), ScanErrorKind::Internal, "{error}");
    assert_eq!(kind(scanner.check_ready().await), ScanErrorKind::Internal);
}
