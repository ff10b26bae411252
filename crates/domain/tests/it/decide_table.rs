//! Every role × relation × action, with the expected decision written out.
//!
//! Each row is `(relation, role, "CRWVSD")`: a letter where the action is
//! allowed, `-` where denied — Create, Read, Write, change Visibility,
//! Share, Delete.

use coffer_domain::{
    Access, Action, Decision, DenyReason, GrantSubject, Resource, Role, TenantId, Visibility,
    decide,
};
use time::Duration;

use crate::support::{file, grant, now, principal, subject};

#[derive(Debug, Clone, Copy)]
enum Relation {
    Owner,
    GrantRead,
    GrantWrite,
    GrantManage,
    /// A `write` grant to `role:editor`.
    EditorRoleGrant,
    /// A `manage` grant that expired.
    ExpiredGrant,
    TenantVisible,
    Private,
    OtherTenant,
}

use Relation::*;

const TABLE: &[(Relation, Role, &str)] = &[
    (Owner, Role::Admin, "CRWVSD"),
    (GrantRead, Role::Admin, "CRWVSD"),
    (GrantWrite, Role::Admin, "CRWVSD"),
    (GrantManage, Role::Admin, "CRWVSD"),
    (EditorRoleGrant, Role::Admin, "CRWVSD"),
    (ExpiredGrant, Role::Admin, "CRWVSD"),
    (TenantVisible, Role::Admin, "CRWVSD"),
    (Private, Role::Admin, "CRWVSD"),
    (OtherTenant, Role::Admin, "------"),
    (Owner, Role::Editor, "CRWVSD"),
    (GrantRead, Role::Editor, "CR----"),
    (GrantWrite, Role::Editor, "CRW---"),
    (GrantManage, Role::Editor, "CRWVSD"),
    (EditorRoleGrant, Role::Editor, "CRW---"),
    (ExpiredGrant, Role::Editor, "C-----"),
    (TenantVisible, Role::Editor, "CR----"),
    (Private, Role::Editor, "C-----"),
    (OtherTenant, Role::Editor, "------"),
    (Owner, Role::Viewer, "-RWVSD"),
    (GrantRead, Role::Viewer, "-R----"),
    (GrantWrite, Role::Viewer, "-RW---"),
    (GrantManage, Role::Viewer, "-RWVSD"),
    (EditorRoleGrant, Role::Viewer, "------"),
    (ExpiredGrant, Role::Viewer, "------"),
    (TenantVisible, Role::Viewer, "-R----"),
    (Private, Role::Viewer, "------"),
    (OtherTenant, Role::Viewer, "------"),
    (Owner, Role::PlatformAdmin, "-RWVSD"),
    (GrantRead, Role::PlatformAdmin, "-R----"),
    (GrantWrite, Role::PlatformAdmin, "-RW---"),
    (GrantManage, Role::PlatformAdmin, "-RWVSD"),
    (EditorRoleGrant, Role::PlatformAdmin, "------"),
    (ExpiredGrant, Role::PlatformAdmin, "------"),
    (TenantVisible, Role::PlatformAdmin, "------"),
    (Private, Role::PlatformAdmin, "------"),
    (OtherTenant, Role::PlatformAdmin, "------"),
];

const ACTIONS: [(char, Action); 6] = [
    ('C', Action::Create),
    ('R', Action::Read),
    ('W', Action::Write),
    ('V', Action::ChangeVisibility),
    ('S', Action::Share),
    ('D', Action::Delete),
];

#[test]
fn every_role_action_and_relation() {
    let home = TenantId::new_random();
    let mut failures = Vec::new();
    for (relation, role, expected) in TABLE {
        let me = principal(home, "me", &[*role]);
        let file_tenant = if matches!(relation, OtherTenant) {
            TenantId::new_random()
        } else {
            home
        };
        let owner = if matches!(relation, Owner | OtherTenant) {
            "me"
        } else {
            "someone-else"
        };
        let visibility = if matches!(relation, TenantVisible) {
            Visibility::Tenant
        } else {
            Visibility::Private
        };
        let f = file(file_tenant, owner, visibility);
        let to_me = GrantSubject::User(subject("me"));
        let grants = match relation {
            GrantRead => vec![grant(&f, to_me, Access::Read, None)],
            GrantWrite => vec![grant(
                &f,
                to_me,
                Access::Write,
                Some(now() + Duration::hours(1)),
            )],
            GrantManage => vec![grant(&f, to_me, Access::Manage, None)],
            EditorRoleGrant => vec![grant(
                &f,
                GrantSubject::Role(Role::Editor),
                Access::Write,
                None,
            )],
            ExpiredGrant => vec![grant(
                &f,
                to_me,
                Access::Manage,
                Some(now() - Duration::seconds(1)),
            )],
            // A manage grant to the caller that sits on a foreign file must not help either.
            OtherTenant => vec![grant(&f, to_me, Access::Manage, None)],
            Owner | TenantVisible | Private => vec![],
        };
        for (letter, action) in ACTIONS {
            let resource = if action == Action::Create {
                Resource::Tenant(f.tenant_id)
            } else {
                Resource::File(&f)
            };
            let allowed = decide(&me, resource, action, &grants, now()).is_allowed();
            if allowed != expected.contains(letter) {
                failures.push(format!(
                    "{relation:?} × {role} × {action:?}: expected {}",
                    if allowed { "denied" } else { "allowed" }
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} wrong decisions:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn table_covers_every_role_and_relation() {
    assert_eq!(TABLE.len(), 4 * 9);
}

#[test]
fn denial_reasons_say_why() {
    let home = TenantId::new_random();
    let foreign = file(TenantId::new_random(), "me", Visibility::Tenant);
    let mine = file(home, "someone-else", Visibility::Tenant);
    let viewer = principal(home, "me", &[Role::Viewer]);
    assert_eq!(
        decide(&viewer, Resource::File(&foreign), Action::Read, &[], now()),
        Decision::Denied(DenyReason::OtherTenant)
    );
    assert_eq!(
        decide(&viewer, Resource::Tenant(home), Action::Create, &[], now()),
        Decision::Denied(DenyReason::RoleCannotCreate)
    );
    assert_eq!(
        decide(&viewer, Resource::File(&mine), Action::Write, &[], now()),
        Decision::Denied(DenyReason::InsufficientAccess {
            required: Access::Write,
            held: Some(Access::Read)
        })
    );
    let tenantless = coffer_domain::Principal {
        tenant: None,
        ..principal(home, "root", &[Role::PlatformAdmin])
    };
    assert_eq!(
        decide(&tenantless, Resource::File(&mine), Action::Read, &[], now()),
        Decision::Denied(DenyReason::OtherTenant)
    );
}
