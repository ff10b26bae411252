//! coffer-s3 integration tests (work in progress).
