use std::io;
use std::time::Duration;

use bytes::Bytes;
pub use coffer_clamav::testing::{EICAR, EICAR_SIGNATURE, OwnClamd, free_port};
use coffer_clamav::testing::{shared_tcp_url, var};
use coffer_clamav::{ClamdAddress, ClamdConfig, ClamdScanner};
use coffer_ports::{ByteStream, ScanError, ScanErrorKind, Scanner};

/// The start of a PDF: bytes a scanner must let through.
pub const PDF_LIKE: &[u8] =
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

/// The shared clamd over TCP.
pub fn tcp_address() -> ClamdAddress {
    shared_tcp_url().parse().unwrap()
}

/// The shared clamd over its Unix socket.
pub fn unix_address() -> ClamdAddress {
    format!("unix://{}", var("COFFER_TEST_CLAMD_SOCKET"))
        .parse()
        .unwrap()
}

pub fn scanner(address: ClamdAddress) -> ClamdScanner {
    ClamdScanner::new(ClamdConfig::new(address))
}

/// A scanner whose every wait is `timeout`, for tests of clamds that hang.
pub fn impatient_scanner(address: ClamdAddress, timeout: Duration) -> ClamdScanner {
    ClamdScanner::new(ClamdConfig {
        connect_timeout: timeout,
        read_timeout: timeout,
        ready_timeout: timeout,
        ..ClamdConfig::new(address)
    })
}

pub fn body<I>(chunks: I) -> ByteStream
where
    I: IntoIterator<Item = Bytes>,
    I::IntoIter: Send + 'static,
{
    Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)))
}

pub fn one_chunk(bytes: &'static [u8]) -> ByteStream {
    body([Bytes::from_static(bytes)])
}

/// `total` bytes of a repeating, clean pattern in chunks of `chunk` bytes.
pub fn clean_chunks(total: usize, chunk: usize) -> Vec<Bytes> {
    let pattern: Vec<u8> = (0..total).map(|i| b"coffer "[i % 7]).collect();
    Bytes::from(pattern)
        .chunks(chunk)
        .map(Bytes::copy_from_slice)
        .collect()
}

/// The kind of a call that must fail.
pub fn kind<T: std::fmt::Debug>(result: Result<T, ScanError>) -> ScanErrorKind {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.kind(),
    }
}

/// A body that yields `chunks`, then fails as a client that went away.
pub fn failing_body(chunks: Vec<Bytes>) -> ByteStream {
    let items = chunks.into_iter().map(Ok).chain([Err(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "the client went away",
    ))]);
    Box::pin(futures::stream::iter(items))
}

/// A scanner over a trait object, as the service will hold it.
pub fn shared(scanner: ClamdScanner) -> std::sync::Arc<dyn Scanner> {
    std::sync::Arc::new(scanner)
}
