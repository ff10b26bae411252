//! Objects put as streams and read back: HEAD, whole and ranged GETs, a
//! failed body that leaves nothing, and 64 MiB in bounded memory.

use std::sync::Arc;

use coffer_ports::{ByteRange, ByteStream, ObjectStore, StoreErrorKind};
use futures::StreamExt;

use super::fixtures::{
    Harness, MIB, assert_absent, collect, content_type, ok, pattern, pattern_stream, refused_with,
    sha256, upload_via_presigned_put,
};

/// The cases of this group (see [`crate::object_store_contract!`]).
#[macro_export]
macro_rules! object_read_write_contract {
    ($factory:path) => {
        $crate::__object_store_cases!($factory; read_write;
            head_reports_size_checksum_and_type,
            head_of_missing_object_is_not_found,
            small_and_empty_streamed_puts_round_trip,
            failed_body_leaves_no_object,
            streamed_put_of_64_mib_and_ranged_gets,
            ranges_outside_the_object_are_refused,
        );
    };
}

/// Peak resident memory of this process since the last reset, in bytes
/// (Linux only; `None` elsewhere).
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn current_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak so [`peak_rss`] measures from now on (Linux ≥ 4.0).
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub async fn head_reports_size_checksum_and_type(store: Arc<dyn ObjectStore>, h: Harness) {
    let http = reqwest::Client::new();
    let location = h.location();
    let body = pattern(7, 0, 12_345);
    upload_via_presigned_put(store.as_ref(), &http, &location, "application/pdf", &body).await;
    let meta = ok(store.head(&location).await, "head");
    assert_eq!(meta.size, 12_345);
    assert_eq!(meta.checksum_sha256, Some(sha256(&body)));
    assert_eq!(meta.content_type.as_deref(), Some("application/pdf"));
    assert!(
        meta.etag.as_deref().is_some_and(|e| !e.is_empty()),
        "{meta:?}"
    );
}

pub async fn head_of_missing_object_is_not_found(store: Arc<dyn ObjectStore>, h: Harness) {
    assert_absent(store.as_ref(), &h.location(), "head of a missing object").await;
    refused_with(
        store.get_stream(&h.location(), None).await,
        StoreErrorKind::NotFound,
        "get of a missing object",
    );
}

pub async fn small_and_empty_streamed_puts_round_trip(store: Arc<dyn ObjectStore>, h: Harness) {
    for size in [0u64, 1, 1000] {
        let location = h.location();
        let meta = ok(
            store
                .put_stream(
                    &location,
                    &content_type("text/plain"),
                    pattern_stream(10, size),
                )
                .await,
            "put_stream",
        );
        assert_eq!(meta.size, size);
        let got = ok(store.get_stream(&location, None).await, "get_stream");
        assert_eq!(got.total_size, size);
        assert_eq!(got.range, None);
        assert_eq!(got.content_type.as_deref(), Some("text/plain"));
        assert_eq!(collect(got.body).await, pattern(10, 0, size as usize));
    }
}

/// A body whose stream fails midway, small or past any sensible part size,
/// fails the put with `Internal` and leaves nothing behind.
pub async fn failed_body_leaves_no_object(store: Arc<dyn ObjectStore>, h: Harness) {
    for good_bytes in [1000u64, 12 * MIB] {
        let location = h.location();
        let failing: ByteStream = Box::pin(pattern_stream(19, good_bytes).chain(
            futures::stream::once(async {
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "client went away",
                ))
            }),
        ));
        refused_with(
            store
                .put_stream(&location, &content_type("text/plain"), failing)
                .await,
            StoreErrorKind::Internal,
            &format!("put_stream failing after {good_bytes} bytes"),
        );
        assert_absent(store.as_ref(), &location, "object of a failed put").await;
    }
}

/// A 64 MiB body streamed in and out; memory stays well below the body size.
pub async fn streamed_put_of_64_mib_and_ranged_gets(store: Arc<dyn ObjectStore>, h: Harness) {
    const SIZE: u64 = 64 * MIB;
    const SEED: u64 = 11;
    let location = h.location();
    // Peak memory is per process: only meaningful when each test has its own
    // (nextest's default), not under `cargo test`'s shared threads.
    let measure = std::env::var("NEXTEST_EXECUTION_MODE").as_deref() == Ok("process-per-test")
        && reset_peak_rss();
    let baseline = current_rss();
    let meta = ok(
        store
            .put_stream(
                &location,
                &content_type("application/octet-stream"),
                pattern_stream(SEED, SIZE),
            )
            .await,
        "put_stream of 64 MiB",
    );
    assert_eq!(meta.size, SIZE);
    if let (true, Some(before), Some(peak)) = (measure, baseline, peak_rss()) {
        let grown = peak.saturating_sub(before);
        assert!(
            grown < 48 * MIB,
            "streaming 64 MiB in grew peak memory by {} MiB",
            grown / MIB
        );
    }

    let size = SIZE;
    let cases = [
        (
            ByteRange::Bounded {
                start: 8 * MIB - 100,
                end: 8 * MIB + 99,
            },
            (8 * MIB - 100, 8 * MIB + 99),
        ),
        (ByteRange::Bounded { start: 0, end: 0 }, (0, 0)),
        (
            ByteRange::Bounded {
                start: size - 10,
                end: size + 1000,
            },
            (size - 10, size - 1),
        ),
        (
            ByteRange::From { start: size - 5000 },
            (size - 5000, size - 1),
        ),
        (ByteRange::Suffix { len: 1000 }, (size - 1000, size - 1)),
    ];
    for (range, (start, end)) in cases {
        let got = ok(store.get_stream(&location, Some(range)).await, "ranged get");
        assert_eq!(got.total_size, size, "{range:?}");
        assert_eq!(got.range, Some((start, end)), "{range:?}");
        let bytes = collect(got.body).await;
        assert_eq!(
            bytes,
            pattern(SEED, start, (end - start + 1) as usize),
            "{range:?}"
        );
    }

    // The whole object, compared chunk by chunk as it streams.
    let got = ok(store.get_stream(&location, None).await, "get_stream");
    assert_eq!(got.total_size, size);
    let mut body = got.body;
    let mut offset = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = ok(chunk, "reading body");
        assert!(
            chunk.as_ref() == pattern(SEED, offset, chunk.len()).as_slice(),
            "bytes differ in the chunk at offset {offset}"
        );
        offset += chunk.len() as u64;
    }
    assert_eq!(offset, size);
}

pub async fn ranges_outside_the_object_are_refused(store: Arc<dyn ObjectStore>, h: Harness) {
    let location = h.location();
    ok(
        store
            .put_stream(
                &location,
                &content_type("text/plain"),
                pattern_stream(12, 100),
            )
            .await,
        "put_stream",
    );
    for range in [
        ByteRange::From { start: 100 },
        ByteRange::Bounded {
            start: 200,
            end: 300,
        },
    ] {
        refused_with(
            store.get_stream(&location, Some(range)).await,
            StoreErrorKind::Refused,
            &format!("{range:?} of a 100-byte object"),
        );
    }
}
