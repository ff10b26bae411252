//! coffer-s3 against a real S3 server (SeaweedFS from
//! `scripts/services/seaweedfs.sh start`): the ObjectStore contract suite
//! plus what only S3 has (CORS, request signing, error mapping).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bucket;
mod contract;
mod copy;
mod cors;
mod credentials;
mod object_lock;
mod presigned_get;
mod refusals;
mod support;
