//! Integration tests of coffer-keycloak against the real test OIDC issuer
//! (`scripts/services/oidc-issuer.sh start`, then
//! `source .test-services/oidc-issuer.env`) and of the dev issuer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dev;
mod organizations;
mod refused;
mod rotation;
mod support;
mod valid;
