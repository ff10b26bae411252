use coffer_domain::{Access, Action, GrantSubject, Resource, Role, TenantId, Visibility, decide};
use proptest::prelude::*;
use proptest::sample::subsequence;
use uuid::Uuid;

use crate::support::{file, grant, now, principal, subject};

fn access() -> impl Strategy<Value = Access> {
    prop_oneof![
        Just(Access::Read),
        Just(Access::Write),
        Just(Access::Manage)
    ]
}

proptest! {
    /// Whatever the roles, ownership, visibility and grants, a principal of
    /// another tenant is never allowed anything.
    #[test]
    fn another_tenant_is_never_allowed_anything(
        home in any::<u128>(),
        other in any::<u128>(),
        roles in subsequence(vec![Role::Admin, Role::Editor, Role::Viewer, Role::PlatformAdmin], 0..=4),
        owns in any::<bool>(),
        shared in any::<bool>(),
        grants in proptest::collection::vec((access(), any::<bool>()), 0..4),
        action in proptest::sample::select(Action::ALL.to_vec()),
    ) {
        prop_assume!(home != other);
        let (home, other) = (TenantId::from_uuid(Uuid::from_u128(home)), TenantId::from_uuid(Uuid::from_u128(other)));
        let me = principal(home, "me", &roles);
        let visibility = if shared { Visibility::Tenant } else { Visibility::Private };
        let f = file(other, if owns { "me" } else { "them" }, visibility);
        let grants: Vec<_> = grants
            .into_iter()
            .map(|(level, to_role)| {
                let to = if to_role { GrantSubject::Role(Role::Viewer) } else { GrantSubject::User(subject("me")) };
                grant(&f, to, level, None)
            })
            .collect();
        let resource = if action == Action::Create { Resource::Tenant(other) } else { Resource::File(&f) };
        prop_assert!(!decide(&me, resource, action, &grants, now()).is_allowed());
    }
}
