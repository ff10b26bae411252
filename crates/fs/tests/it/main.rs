//! Integration tests of the local-disk store: the port's contract suite, the
//! storage URLs over real HTTP, and durability.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod contract;
mod durability;
mod permissions;
mod presigned;
mod server;
mod support;
