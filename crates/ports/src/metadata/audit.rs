//! A tenant's audit log: append-only, a hash chain per database that
//! holds it (docs/audit.md), listed newest or oldest first.
//!
//! Every method may fail with [`crate::MetadataErrorKind::Unavailable`] when
//! the database cannot be reached and `Internal` on anything unexpected;
//! `# Errors` names the kinds a caller can act on.

use async_trait::async_trait;
use coffer_domain::{ChainHash, ChainedFields, FileId, PageCursor, Subject, TenantId};
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

/// One tenant's share of a batch of appends: its entries, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantAudits {
    pub scope: TenantScope,
    pub entries: Vec<NewAudit>,
}

impl TenantAudits {
    /// Each tenant of `batch` with its entries as an adapter's rows
    /// (`row`), in the batch's order, leaving out tenants without entries.
    ///
    /// # Errors
    /// The first error of `row`.
    pub fn rows<R, E>(
        batch: &[Self],
        row: impl Fn(TenantId, &NewAudit) -> Result<R, E>,
    ) -> Result<Vec<(TenantId, Vec<R>)>, E> {
        batch
            .iter()
            .filter(|t| !t.entries.is_empty())
            .map(|t| {
                let tenant = t.scope.tenant_id();
                let rows: Result<Vec<R>, E> = t.entries.iter().map(|e| row(tenant, e)).collect();
                rows.map(|rows| (tenant, rows))
            })
            .collect()
    }
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
    /// Its place in its chain: 1, 2, 3 … per tenant and database. `None`
    /// only for a row written before the chain existed and not chained
    /// since (which verification reports).
    pub seq: Option<u64>,
    /// `SHA-256(previous hash || canonical bytes of this entry)`.
    pub hash: Option<ChainHash>,
}

impl AuditEntry {
    /// What its hash commits to, with its `seq` (`None` when unchained).
    pub fn chained_fields(&self) -> Option<ChainedFields<'_>> {
        Some(ChainedFields {
            seq: self.seq?,
            id: self.id,
            tenant_id: *self.tenant_id.as_uuid(),
            actor: self.actor.as_str(),
            action: &self.action,
            file_id: self.file_id.map(|f| *f.as_uuid()),
            detail: &self.detail,
            request_id: self.request_id.as_deref(),
            client_addr: self.client_addr.as_deref(),
            at: self.at,
        })
    }

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

/// Which of a tenant's hash chains: a tenant whose data lives in the
/// shared database has one; a tenant with a database of its own has its
/// own database's (its data's changes and accesses) and the shared
/// database's (changes of the registry: plan, status, settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditChain {
    /// The chain in the database that holds the tenant's data.
    Main,
    /// The shared database's chain of a tenant with a dedicated database.
    Registry,
}

impl AuditChain {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Main => "main",
            Self::Registry => "registry",
        }
    }
}

/// The last link of a chain, kept beside the entries: the next entry
/// follows it, and verification compares the walk's end with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainHead {
    pub chain: AuditChain,
    pub seq: u64,
    pub hash: ChainHash,
}

/// The audit log of a tenant. Changes are recorded by their own method's
/// [`crate::Journal`]; this appends what is not a change.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditLog: Send + Sync + 'static {
    /// Append to the audit log (append-only: nothing updates or deletes
    /// it) what is not a change: a download URL issued, content streamed,
    /// a read, a refusal. Returns once the entry is committed. Adapters
    /// gather concurrent appends of every tenant of a database into one
    /// [`AuditLog::append_audits`] ([`crate::GroupCommit`]).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn append_audit(&self, scope: &TenantScope, entry: NewAudit)
    -> Result<(), MetadataError>;

    /// Append each tenant's entries, in order, in one transaction that
    /// takes each tenant's chain head once, in ascending tenant id order
    /// (so that two batches never wait on each other's heads), every row
    /// written in its own tenant's scope. All or nothing.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn append_audits(&self, batch: &[TenantAudits]) -> Result<(), MetadataError>;

    /// The heads of the tenant's chains (none before its first entry).
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn chain_heads(&self, scope: &TenantScope) -> Result<Vec<ChainHead>, MetadataError>;

    /// Up to `limit` entries of `chain` after `after_seq`, by `seq`.
    ///
    /// # Errors
    /// `Unavailable`, `Internal`.
    async fn read_chain(
        &self,
        scope: &TenantScope,
        chain: AuditChain,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, MetadataError>;

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
            seq: Some(1),
            hash: None,
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
