//! [`coffer_ports::Members`]: a tenant's users, created on first sight,
//! removed when they own nothing, and counted.

use coffer_domain::{Role, TenantId};
use coffer_ports::{MetadataErrorKind, MetadataPorts, TenantScope};

use super::fixtures::{
    assert_kind, audited, data, file, named, record, reserve, scope, subject, tenant, user,
};

/// The cases of [`coffer_ports::Members`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! members_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; members;
            users_upsert_is_idempotent,
            remove_user_is_idempotent_and_spares_owners,
            users_are_counted_per_tenant,
        );
    };
}

pub async fn users_upsert_is_idempotent(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let alice = user(&ports, &t, "alice", &[Role::Editor]).await;
    let again = user(&ports, &t, "alice", &[Role::Admin, Role::Viewer]).await;
    assert_eq!(alice, again, "same subject, same user");
    let bob = user(&ports, &t, "bob", &[]).await;
    assert_ne!(alice, bob);
    // The same subject in another tenant is another user.
    let other = tenant(&ports, "other").await;
    assert_ne!(user(&ports, &other, "alice", &[]).await, alice);
    assert_kind(
        data(&ports, &t)
            .await
            .members
            .upsert_user(
                &TenantScope::new(TenantId::new_random()),
                &subject("ghost"),
                &[],
            )
            .await,
        MetadataErrorKind::NotFound,
        "unknown tenant",
    );
}

pub async fn remove_user_is_idempotent_and_spares_owners(ports: MetadataPorts) {
    let t = tenant(&ports, "rm-users").await;
    let members = data(&ports, &t).await.members.clone();
    user(&ports, &t, "gone", &[Role::Admin]).await;
    members
        .remove_user(&scope(&t), &subject("gone"), named("user.removed", 1))
        .await
        .unwrap();
    assert_eq!(audited(&ports, &t, "user.removed").await, 1);
    // Again: nothing to remove, nothing recorded.
    members
        .remove_user(&scope(&t), &subject("gone"), named("user.removed", 2))
        .await
        .unwrap();
    assert_eq!(audited(&ports, &t, "user.removed").await, 1);
    // A new user of the same subject is a new user.
    let owner = user(&ports, &t, "owner", &[Role::Editor]).await;
    reserve(&ports, &t, file(&t, (owner, "owner"), "/", "a.pdf", 1, 3)).await;
    let err = members
        .remove_user(&scope(&t), &subject("owner"), record())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), MetadataErrorKind::Conflict);
    // Another tenant's user of the same subject is untouched.
    let other = tenant(&ports, "rm-users-other").await;
    let theirs = user(&ports, &other, "owner", &[Role::Viewer]).await;
    members
        .remove_user(&scope(&t), &subject("nobody"), record())
        .await
        .unwrap();
    assert_eq!(user(&ports, &other, "owner", &[Role::Viewer]).await, theirs);
}

pub async fn users_are_counted_per_tenant(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let other = tenant(&ports, "other").await;
    let members = data(&ports, &t).await.members.clone();
    assert_eq!(members.count_users(&scope(&t)).await.unwrap(), 0);
    user(&ports, &t, "alice", &[Role::Editor]).await;
    user(&ports, &t, "bob", &[]).await;
    user(&ports, &t, "alice", &[Role::Admin]).await;
    user(&ports, &other, "carol", &[Role::Viewer]).await;
    assert_eq!(
        members.count_users(&scope(&t)).await.unwrap(),
        2,
        "each subject once, this tenant's only"
    );
    assert_eq!(
        data(&ports, &other)
            .await
            .members
            .count_users(&scope(&other))
            .await
            .unwrap(),
        1
    );
    members
        .remove_user(&scope(&t), &subject("bob"), record())
        .await
        .unwrap();
    assert_eq!(members.count_users(&scope(&t)).await.unwrap(), 1);
}
