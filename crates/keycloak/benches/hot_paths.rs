//! Token verification through the dev issuer (Ed25519, the same pipeline and
//! verified-token cache as the Keycloak adapter): a token seen before is a
//! cache hit, a fresh one pays for parsing, the signature and claim mapping.
//! See `docs/benchmarks.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use coffer_domain::{Role, Subject};
use coffer_keycloak::dev::DevIssuer;
use coffer_ports::TenantClaim;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

fn verify(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let issuer = &DevIssuer::open(dir.path()).unwrap();
    let tenant = TenantClaim::parse("acme").unwrap();
    let subject = Subject::new("alice").unwrap();
    // Every token gets a new `jti`, so each one is new to the cache.
    let mint = || {
        issuer
            .mint(
                Some(&tenant),
                &subject,
                &[Role::Editor],
                time::Duration::minutes(10),
            )
            .unwrap()
    };
    let mut group = c.benchmark_group("verify_dev_token");
    group.bench_function("fresh_token", |b| {
        b.to_async(&rt).iter_batched(
            mint,
            |token| async move { issuer.verify_token(&token, None).await.unwrap() },
            BatchSize::SmallInput,
        );
    });
    let token = mint();
    group.bench_function("cached_token", |b| {
        b.to_async(&rt)
            .iter(|| async { issuer.verify_token(&token, None).await.unwrap() });
    });
    group.finish();
}

criterion_group!(benches, verify);
criterion_main!(benches);
