use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ValidationError;

macro_rules! uuid_id {
    ($(#[$meta:meta])* $name:ident, $field:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // Hyphenated lowercase: the form used in object keys and URLs.
                self.0.hyphenated().fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s)
                    .map(Self)
                    .map_err(|_| ValidationError::new($field, "not a UUID"))
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }
    };
}

uuid_id!(
    /// A tenant's stable identifier; its slug may be shown, this is what scopes data.
    TenantId,
    "tenant_id"
);
uuid_id!(
    /// A user record inside one tenant.
    UserId,
    "user_id"
);
uuid_id!(
    /// A file. New ids are UUID v7, so they sort by creation time.
    FileId,
    "file_id"
);
uuid_id!(
    /// A grant on a file.
    GrantId,
    "grant_id"
);
uuid_id!(
    /// A bulk upload session: the prefix that write credentials confine a
    /// client to, and what it registers afterwards.
    UploadSessionId,
    "upload_session_id"
);

uuid_id!(
    /// A share link: one file, for people outside the tenant.
    ShareLinkId,
    "link_id"
);

uuid_id!(
    /// An upload request: a folder outside parties may upload into.
    UploadRequestId,
    "request_id"
);

impl UploadRequestId {
    pub fn new_random() -> Self {
        Self(Uuid::now_v7())
    }
}

impl ShareLinkId {
    pub fn new_random() -> Self {
        Self(Uuid::now_v7())
    }
}

impl TenantId {
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl UserId {
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl FileId {
    /// A new time-ordered (v7) id.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}

impl GrantId {
    pub fn new_random() -> Self {
        Self(Uuid::new_v4())
    }
}

impl UploadSessionId {
    /// A new time-ordered (v7) id.
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }
}
