use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::tenant::snake_case_names;
use crate::{TenantId, UserId, ValidationError};

/// A role as Coffer understands it. Identity providers' role names are mapped
/// onto these by the identity adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Everything inside the tenant.
    Admin,
    /// May create files; other files need ownership, visibility or a grant.
    Editor,
    /// May read what is visible or granted; creates nothing.
    Viewer,
    /// Administers tenants. Sees no file of any tenant by default.
    PlatformAdmin,
}

snake_case_names!(
    Role {
        Admin => "admin",
        Editor => "editor",
        Viewer => "viewer",
        PlatformAdmin => "platform-admin",
    },
    "role"
);

/// The identity provider's subject (`sub`) of a user or service client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Subject(String);

impl Subject {
    pub fn new(raw: impl Into<String>) -> Result<Self, ValidationError> {
        let raw = raw.into();
        if raw.is_empty() || raw.len() > 255 {
            return Err(ValidationError::new("subject", "must be 1 to 255 bytes"));
        }
        if raw.chars().any(char::is_control) {
            return Err(ValidationError::new(
                "subject",
                "must not contain control characters",
            ));
        }
        Ok(Self(raw))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Coffer itself: the actor of what no caller asked for (sweeps,
    /// onboarding, purges, the operator's command line).
    pub fn system() -> Self {
        Self(SYSTEM_SUBJECT.to_owned())
    }

    /// The actor of what an outside party does through share link `id`
    /// (`link:<id>`): they have no account, the link is who they are.
    pub fn link(id: crate::ShareLinkId) -> Self {
        Self(format!("link:{id}"))
    }

    /// The actor of what an outside party does through upload request `id`
    /// (`upload_request:<id>`): like a link's, the request is who they are.
    pub fn upload_request(id: crate::UploadRequestId) -> Self {
        Self(format!("upload_request:{id}"))
    }
}

/// [`Subject::system`]'s string.
pub const SYSTEM_SUBJECT: &str = "system:coffer";

impl TryFrom<String> for Subject {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<Subject> for String {
    fn from(value: Subject) -> Self {
        value.0
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who is asking: an authenticated subject, the tenant its token scopes it
/// to (none for a pure platform administrator), and its roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub subject: Subject,
    pub tenant: Option<TenantId>,
    /// The tenant's user record, once just-in-time provisioning has run.
    pub user_id: Option<UserId>,
    pub roles: Vec<Role>,
}

impl Principal {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_tenant_admin(&self) -> bool {
        self.tenant.is_some() && self.has_role(Role::Admin)
    }

    pub fn is_platform_admin(&self) -> bool {
        self.has_role(Role::PlatformAdmin)
    }
}
