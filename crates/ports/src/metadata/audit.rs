//! A tenant's audit log: append-only, listed newest or oldest first.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{FileId, PageCursor, Subject, TenantId};
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{MetadataError, Page, TenantScope};

/// An audit record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAudit {
    pub actor: Subject,
    /// Dotted action name, e.g. `file.download_url`.
    pub action: String,
    pub file_id: Option<FileId>,
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    pub at: OffsetDateTime,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: Uuid,
    pub tenant_id: TenantId,
    pub actor: Subject,
    pub action: String,
    pub file_id: Option<FileId>,
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

impl AuditEntry {
    /// Its place in the audit listing, which runs by `(at, id)`.
    pub fn page_cursor(&self) -> PageCursor {
        PageCursor {
            created_at: self.at,
            id: self.id,
        }
    }
}

/// Audit listing, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    pub actor: Option<Subject>,
    pub action: Option<String>,
    pub file_id: Option<FileId>,
    pub since: Option<OffsetDateTime>,
    pub until: Option<OffsetDateTime>,
    pub after: Option<PageCursor>,
    /// Clamped like [`crate::FileQuery::limit`].
    pub limit: u32,
    /// Oldest first (an export) instead of newest first (a listing).
    pub oldest_first: bool,
}

/// The audit log of a tenant. Changes are recorded by their own method's
/// [`crate::Journal`]; this appends what is not a change.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Append to the audit log (append-only: nothing updates or deletes
    /// it) what is not a change: a download URL issued, content streamed.
    /// Changes are recorded by their own method's [`crate::Journal`].
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn append_audit(&self, scope: &TenantScope, entry: NewAudit)
    -> Result<(), MetadataError>;

    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn list_audit(
        &self,
        scope: &TenantScope,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>, MetadataError>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Page;

    #[test]
    fn audit_entries_page_by_time_and_id() {
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::seconds(7);
        let entry = AuditEntry {
            id: Uuid::from_u128(9),
            tenant_id: TenantId::from_uuid(Uuid::from_u128(1)),
            actor: Subject::new("alice").unwrap_or_else(|_| unreachable!()),
            action: "file.read".into(),
            file_id: None,
            detail: serde_json::Value::Null,
            request_id: None,
            client_addr: None,
            at,
        };
        let page = Page::from_overfetch(vec![entry.clone(), entry], 1, AuditEntry::page_cursor);
        let next = page.next_cursor.map(|c| PageCursor::decode(&c));
        assert_eq!(
            next,
            Some(Ok(PageCursor {
                created_at: at,
                id: Uuid::from_u128(9)
            }))
        );
    }
}
