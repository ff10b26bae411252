//! Per-request domain work on the download path: the access decision, the
//! object key and filename validation. See `docs/benchmarks.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The integration tests' builders: the same file, principals and grants.
#[path = "../tests/it/support.rs"]
mod support;

use std::hint::black_box;

use coffer_domain::{
    Access, Action, Category, FileId, Filename, Grant, GrantSubject, ObjectKey, Principal,
    Resource, Role, TenantId, Visibility, decide,
};
use criterion::{Criterion, criterion_group, criterion_main};
use support::{file, grant, principal, subject};

fn access_decision(c: &mut Criterion) {
    let tenant = TenantId::new_random();
    let file = file(tenant, "owner", Visibility::Private);
    // Ten grants to other users, then the one that lets a viewer read: the
    // decision has to look through all of them.
    let grants: Vec<Grant> = (0..10)
        .map(|i| GrantSubject::User(subject(&format!("user-{i}"))))
        .chain([GrantSubject::Role(Role::Viewer)])
        .map(|to| grant(&file, to, Access::Read, None))
        .collect();
    let owner = principal(tenant, "owner", &[Role::Editor]);
    let viewer = principal(tenant, "someone", &[Role::Viewer]);
    let now = support::now();
    let reads = |who: &Principal, grants: &[Grant]| {
        decide(
            black_box(who),
            Resource::File(&file),
            Action::Read,
            grants,
            now,
        )
    };
    let mut group = c.benchmark_group("decide");
    group.bench_function("owner_reads", |b| b.iter(|| reads(&owner, &[])));
    group.bench_function("role_grant_among_11", |b| {
        b.iter(|| reads(&viewer, &grants));
    });
    group.finish();
}

fn keys_and_names(c: &mut Criterion) {
    let tenant = TenantId::new_random();
    let category = Category::default_category();
    let id = FileId::new_v7();
    c.bench_function("object_key_for_file", |b| {
        b.iter(|| ObjectKey::for_file(black_box(tenant), &category, black_box(id)));
    });
    let mut group = c.benchmark_group("filename_new");
    group.bench_function("ascii", |b| {
        b.iter(|| Filename::new(black_box("Quarterly report 2026.pdf")));
    });
    // Decomposed umlauts take the normalisation path.
    group.bench_function("nfd_unicode", |b| {
        b.iter(|| Filename::new(black_box("Pru\u{308}fbericht A\u{308}nderungen.pdf")));
    });
    group.finish();
}

criterion_group!(benches, access_decision, keys_and_names);
criterion_main!(benches);
