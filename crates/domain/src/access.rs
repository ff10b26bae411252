//! The access rule of the product, as one pure function.

use time::OffsetDateTime;

use crate::{Access, FileRecord, Grant, GrantSubject, Principal, Role, TenantId};

/// What a principal wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Create a file in the tenant (upload).
    Create,
    /// See a file's metadata, download it.
    Read,
    /// Rename, move, change metadata.
    Write,
    /// Change visibility.
    ChangeVisibility,
    /// See and change the file's grants.
    Share,
    /// Trash, restore, erase.
    Delete,
}

impl Action {
    pub const ALL: [Action; 6] = [
        Action::Create,
        Action::Read,
        Action::Write,
        Action::ChangeVisibility,
        Action::Share,
        Action::Delete,
    ];

    /// The access level a file action needs; `None` for tenant-level actions.
    pub const fn required_access(self) -> Option<Access> {
        match self {
            Action::Create => None,
            Action::Read => Some(Access::Read),
            Action::Write => Some(Access::Write),
            Action::ChangeVisibility | Action::Share | Action::Delete => Some(Access::Manage),
        }
    }
}

/// What the action is on.
#[derive(Debug, Clone, Copy)]
pub enum Resource<'a> {
    /// The tenant itself (creating files).
    Tenant(TenantId),
    File(&'a FileRecord),
}

impl Resource<'_> {
    fn tenant(&self) -> TenantId {
        match self {
            Resource::Tenant(id) => *id,
            Resource::File(file) => file.tenant_id,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    Denied(DenyReason),
}

impl Decision {
    pub fn is_allowed(self) -> bool {
        self == Decision::Allowed
    }
}

/// Why access was denied. [`DenyReason::OtherTenant`] must surface as "not
/// found": another tenant's resources do not exist for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    /// The resource belongs to another tenant (or the principal has none).
    OtherTenant,
    /// Creating needs the `editor` or `admin` role.
    RoleCannotCreate,
    /// Same tenant, but the principal's access is below what the action needs.
    InsufficientAccess {
        required: Access,
        held: Option<Access>,
    },
}

/// Decide whether `principal` may perform `action` on `resource`.
///
/// `grants` are the grants of the file (others are ignored, as are expired
/// ones at `now`). The rules, in order: another tenant is always denied; a
/// tenant admin may do everything in the tenant; `editor` (or admin) may
/// create; on a file, the owner holds `manage`, a `tenant`-visible file is
/// readable by every member, and grants to the user or one of its roles add
/// their level. `platform-admin` alone gives nothing inside a tenant.
pub fn decide(
    principal: &Principal,
    resource: Resource<'_>,
    action: Action,
    grants: &[Grant],
    now: OffsetDateTime,
) -> Decision {
    if principal.tenant != Some(resource.tenant()) {
        return Decision::Denied(DenyReason::OtherTenant);
    }
    if principal.has_role(Role::Admin) {
        return Decision::Allowed;
    }
    let Some(required) = action.required_access() else {
        return if principal.has_role(Role::Editor) {
            Decision::Allowed
        } else {
            Decision::Denied(DenyReason::RoleCannotCreate)
        };
    };
    let held = match resource {
        Resource::Tenant(_) => None,
        Resource::File(file) => effective_access(principal, file, grants, now),
    };
    if held.is_some_and(|held| held >= required) {
        Decision::Allowed
    } else {
        Decision::Denied(DenyReason::InsufficientAccess { required, held })
    }
}

/// The highest access `principal` holds on `file`, if any. Assumes the
/// tenant check of [`decide`] has passed.
pub fn effective_access(
    principal: &Principal,
    file: &FileRecord,
    grants: &[Grant],
    now: OffsetDateTime,
) -> Option<Access> {
    if principal.tenant != Some(file.tenant_id) {
        return None;
    }
    if principal.has_role(Role::Admin) || file.owner == principal.subject {
        return Some(Access::Manage);
    }
    let member = principal
        .roles
        .iter()
        .any(|r| matches!(r, Role::Editor | Role::Viewer));
    let visible = (member && file.visibility == crate::Visibility::Tenant).then_some(Access::Read);
    let granted = grants
        .iter()
        .filter(|g| g.file_id == file.id && g.tenant_id == file.tenant_id && g.is_active(now))
        .filter(|g| match &g.subject {
            GrantSubject::User(sub) => *sub == principal.subject,
            GrantSubject::Role(role) => principal.has_role(*role),
        })
        .map(|g| g.access)
        .max();
    visible.max(granted)
}
