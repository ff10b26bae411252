//! Reading the audit log: tenant administrators see what happened in their
//! tenant (and that read is on record too); operators verify a tenant's
//! hash chains and export them for auditors (docs/audit.md).

use std::sync::Arc;

use coffer_domain::{ChainBreak, ChainHash, ChainWalk, Tenant, canonical_time};
use coffer_ports::{
    AuditChain, AuditEntry, AuditQuery, ChainHead, Clock, MAX_PAGE_SIZE, Page, TenantData,
    TenantDataResolver, TenantScope,
};
use serde::Serialize;
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::recorder::Recorder;
use crate::{Caller, ServiceError};

/// The tenant's audit log, as its administrators read it and operators
/// verify and export it.
#[derive(Clone)]
pub struct Audit {
    tenant_data: Arc<dyn TenantDataResolver>,
    recorder: Recorder,
}

/// One verified chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSummary {
    pub chain: AuditChain,
    pub entries: u64,
    pub head: ChainHash,
}

/// The first place a chain fails to verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainFault {
    pub chain: AuditChain,
    /// The `seq` of the entry where it breaks (for a cut end, the head's).
    pub seq: u64,
    /// The entry's id; `None` when the break is at the head.
    pub id: Option<Uuid>,
    pub reason: ChainBreak,
}

impl std::fmt::Display for ChainFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.id {
            Some(id) => write!(
                f,
                "chain {}: entry seq {} (id {id}): {}",
                self.chain.as_str(),
                self.seq,
                self.reason
            ),
            None => write!(
                f,
                "chain {}: head seq {}: {}",
                self.chain.as_str(),
                self.seq,
                self.reason
            ),
        }
    }
}

/// A line of `coffer audit export`: an entry with its links, every field
/// as its hash commits to it (`at` in the canonical form), so the offline
/// procedure of docs/audit.md needs nothing else.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedEntry {
    pub chain: AuditChain,
    pub seq: u64,
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub actor: String,
    pub action: String,
    pub file_id: Option<Uuid>,
    pub detail: serde_json::Value,
    pub request_id: Option<String>,
    pub client_addr: Option<String>,
    /// RFC 3339, UTC, six fractional digits.
    pub at: String,
    pub prev_hash: ChainHash,
    pub hash: Option<ChainHash>,
}

impl ExportedEntry {
    fn new(chain: AuditChain, entry: AuditEntry, prev_hash: ChainHash) -> Self {
        Self {
            chain,
            seq: entry.seq.unwrap_or_default(),
            id: entry.id,
            tenant_id: *entry.tenant_id.as_uuid(),
            actor: entry.actor.into(),
            action: entry.action,
            file_id: entry.file_id.map(|f| *f.as_uuid()),
            detail: entry.detail,
            request_id: entry.request_id,
            client_addr: entry.client_addr,
            at: canonical_time(entry.at),
            prev_hash,
            hash: entry.hash,
        }
    }
}

impl Audit {
    pub fn new(tenant_data: Arc<dyn TenantDataResolver>, clock: Arc<dyn Clock>) -> Self {
        Self {
            tenant_data,
            recorder: Recorder::new(clock),
        }
    }

    /// The tenant's audit log, for tenant admins. The read (its filters) is
    /// on record (`audit.read`) before the page is returned; so is a
    /// refused one (`audit.access_denied`).
    ///
    /// # Errors
    /// `Forbidden` unless the caller is a tenant admin.
    pub async fn list_audit(
        &self,
        caller: &Caller,
        query: AuditQuery,
    ) -> Result<Page<AuditEntry>, ServiceError> {
        let (tenant, scope) = caller.member()?;
        let data = self.tenant_data.tenant_data(tenant).await?;
        if let Err(refused) = caller.admin("the audit log") {
            let detail = json!({ "code": refused.code });
            self.recorder
                .record(&data, caller, &scope, "audit.access_denied", None, detail)
                .await?;
            return Err(refused);
        }
        let query = AuditQuery {
            limit: query.limit.clamp(1, 1000),
            ..query
        };
        let detail = json!({
            "actor": query.actor,
            "action": query.action,
            "file_id": query.file_id,
            "since": query.since.map(canonical_time),
            "until": query.until.map(canonical_time),
            "cursor": query.after.map(|c| c.encode()),
            "limit": query.limit,
        });
        // Recorded first: the page read after it shows this read too.
        self.recorder
            .record(&data, caller, &scope, "audit.read", None, detail)
            .await?;
        Ok(data.audit.list_audit(&scope, &query).await?)
    }

    /// Walks every chain of `tenant`'s audit log from its first entry and
    /// compares its end with the chain's head. The verification itself is
    /// recorded (`audit.verified`) first, as an operator's read.
    ///
    /// # Errors
    /// The database's; a broken chain is `Ok(Err(fault))`.
    pub async fn verify_chains(
        &self,
        tenant: &Tenant,
    ) -> Result<Result<Vec<ChainSummary>, ChainFault>, ServiceError> {
        let (data, scope) = self.operator_read(tenant, "audit.verified").await?;
        let mut summaries = Vec::new();
        for head in data.audit.chain_heads(&scope).await? {
            let mut walk = ChainWalk::default();
            let mut fault = None;
            walk_chain(&data, &scope, head.chain, |entry, _| {
                let stepped = match (entry.chained_fields(), entry.hash) {
                    (Some(fields), Some(hash)) => walk.step(&fields, hash),
                    _ => Err(ChainBreak::Unchained),
                };
                match stepped {
                    Ok(()) => true,
                    Err(reason) => {
                        fault = Some(ChainFault {
                            chain: head.chain,
                            seq: entry.seq.unwrap_or_default(),
                            id: Some(entry.id),
                            reason,
                        });
                        false
                    }
                }
            })
            .await?;
            if let Some(fault) = fault {
                return Ok(Err(fault));
            }
            if let Err(reason) = walk.finish(head.seq, head.hash) {
                return Ok(Err(head_fault(&head, reason)));
            }
            summaries.push(ChainSummary {
                chain: head.chain,
                entries: walk.seq,
                head: walk.hash,
            });
        }
        Ok(Ok(summaries))
    }

    /// Every chained entry of `tenant`'s audit log with its links, chain by
    /// chain, oldest first, handed to `write` until it answers `false`;
    /// those before `since` are left out. The export is recorded
    /// (`audit.exported`) first, so it holds its own record.
    ///
    /// # Errors
    /// The database's.
    pub async fn export_chains(
        &self,
        tenant: &Tenant,
        since: Option<OffsetDateTime>,
        mut write: impl FnMut(&ExportedEntry) -> bool + Send,
    ) -> Result<(), ServiceError> {
        let (data, scope) = self.operator_read(tenant, "audit.exported").await?;
        for head in data.audit.chain_heads(&scope).await? {
            let mut go_on = true;
            walk_chain(&data, &scope, head.chain, |entry, prev| {
                if since.is_some_and(|since| entry.at < since) {
                    return true;
                }
                go_on = write(&ExportedEntry::new(head.chain, entry.clone(), prev));
                go_on
            })
            .await?;
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    /// The tenant's data, with the operator's read of its log on record.
    async fn operator_read(
        &self,
        tenant: &Tenant,
        action: &str,
    ) -> Result<(Arc<TenantData>, TenantScope), ServiceError> {
        let scope = TenantScope::new(tenant.id);
        let data = self.tenant_data.tenant_data(tenant).await?;
        self.recorder
            .record_operator(&data, &scope, action, json!({ "via": "cli" }))
            .await?;
        Ok((data, scope))
    }
}

fn head_fault(head: &ChainHead, reason: ChainBreak) -> ChainFault {
    ChainFault {
        chain: head.chain,
        seq: head.seq,
        id: None,
        reason,
    }
}

/// Reads `chain` page by page, oldest first, handing each entry and the
/// stored hash of the one before it (the genesis for the first) to `visit`
/// until it answers `false`.
async fn walk_chain(
    data: &TenantData,
    scope: &TenantScope,
    chain: AuditChain,
    mut visit: impl FnMut(&AuditEntry, ChainHash) -> bool + Send,
) -> Result<(), ServiceError> {
    let mut after = 0;
    let mut prev = ChainHash::GENESIS;
    loop {
        let page = data
            .audit
            .read_chain(scope, chain, after, MAX_PAGE_SIZE)
            .await?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = last.seq.unwrap_or(u64::MAX);
        for entry in &page {
            if !visit(entry, prev) {
                return Ok(());
            }
            prev = entry.hash.unwrap_or_default();
        }
    }
}
