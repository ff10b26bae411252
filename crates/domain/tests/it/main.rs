//! Behaviour of the access rule, through the public API.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod decide_properties;
mod decide_table;
mod support;
