//! The audit log and events of a tenant with a dedicated database, which
//! are kept in two places: what its own data's changes record is in its
//! database, and what changes of the registry (its plan, status, settings)
//! record is in the shared one, written with the change. Both are read
//! together, merged in order; what is appended or claimed now goes to the
//! tenant's database first.

use async_trait::async_trait;
use coffer_domain::PageCursor;
use coffer_ports::{
    AuditChain, AuditEntry, AuditLog, AuditQuery, ChainHead, DeliveryOutcome, Event, EventClaim,
    EventOutbox, MetadataError, MetadataErrorKind, NewAudit, OutboxBacklog, Page, TenantAudits,
    TenantScope,
};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store::PgMetadataStore;

/// A dedicated tenant's audit log: appended to its own database, listed
/// from both.
#[derive(Debug, Clone)]
pub(crate) struct MergedAuditLog {
    pub(crate) own: PgMetadataStore,
    pub(crate) shared: PgMetadataStore,
}

#[async_trait]
impl AuditLog for MergedAuditLog {
    async fn append_audit(
        &self,
        scope: &TenantScope,
        entry: NewAudit,
    ) -> Result<(), MetadataError> {
        self.own.append_audit(scope, entry).await
    }

    async fn append_audits(&self, batch: &[TenantAudits]) -> Result<(), MetadataError> {
        self.own.append_audits(batch).await
    }

    async fn chain_heads(&self, scope: &TenantScope) -> Result<Vec<ChainHead>, MetadataError> {
        let (own, shared) =
            futures::future::try_join(self.own.chain_heads(scope), self.shared.chain_heads(scope))
                .await?;
        Ok(own
            .into_iter()
            .chain(shared.into_iter().map(|head| ChainHead {
                chain: AuditChain::Registry,
                ..head
            }))
            .collect())
    }

    async fn read_chain(
        &self,
        scope: &TenantScope,
        chain: AuditChain,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, MetadataError> {
        match chain {
            AuditChain::Main => {
                self.own
                    .read_chain(scope, AuditChain::Main, after_seq, limit)
                    .await
            }
            AuditChain::Registry => {
                self.shared
                    .read_chain(scope, AuditChain::Main, after_seq, limit)
                    .await
            }
        }
    }

    async fn list_audit(
        &self,
        scope: &TenantScope,
        query: &AuditQuery,
    ) -> Result<Page<AuditEntry>, MetadataError> {
        let (own, shared) = futures::future::try_join(
            self.own.list_audit(scope, query),
            self.shared.list_audit(scope, query),
        )
        .await?;
        Ok(Page::merge(
            own,
            shared,
            query.limit,
            !query.oldest_first,
            AuditEntry::page_cursor,
        ))
    }
}

/// A dedicated tenant's outbox: events of both databases, listed merged and
/// claimed from each; a delivery is recorded where its event is.
#[derive(Debug, Clone)]
pub(crate) struct MergedOutbox {
    pub(crate) own: PgMetadataStore,
    pub(crate) shared: PgMetadataStore,
}

#[async_trait]
impl EventOutbox for MergedOutbox {
    /// In the tenant's own database, with its audit chain.
    async fn record_journal(
        &self,
        scope: &TenantScope,
        journal: coffer_ports::Journal,
    ) -> Result<(), MetadataError> {
        self.own.record_journal(scope, journal).await
    }

    async fn list_events(
        &self,
        scope: &TenantScope,
        after: Option<PageCursor>,
        settled_before: OffsetDateTime,
        limit: u32,
    ) -> Result<Page<Event>, MetadataError> {
        let (own, shared) = futures::future::try_join(
            self.own.list_events(scope, after, settled_before, limit),
            self.shared.list_events(scope, after, settled_before, limit),
        )
        .await?;
        Ok(Page::merge(own, shared, limit, false, Event::page_cursor))
    }

    async fn claim_events(
        &self,
        scope: &TenantScope,
        claim: &EventClaim,
    ) -> Result<Vec<Event>, MetadataError> {
        let mut events = self.own.claim_events(scope, claim).await?;
        events.extend(self.shared.claim_events(scope, claim).await?);
        Ok(events)
    }

    async fn backlog(
        &self,
        scope: &TenantScope,
        since: OffsetDateTime,
    ) -> Result<OutboxBacklog, MetadataError> {
        let (own, shared) = futures::future::try_join(
            self.own.backlog(scope, since),
            self.shared.backlog(scope, since),
        )
        .await?;
        Ok(OutboxBacklog {
            awaiting: own.awaiting + shared.awaiting,
            dead: own.dead + shared.dead,
        })
    }

    /// In both databases (the registry's events of the tenant are in the
    /// shared one).
    async fn pass_over(
        &self,
        scope: &TenantScope,
        before: OffsetDateTime,
    ) -> Result<u64, MetadataError> {
        let (own, shared) = futures::future::try_join(
            self.own.pass_over(scope, before),
            self.shared.pass_over(scope, before),
        )
        .await?;
        Ok(own + shared)
    }

    async fn record_delivery(
        &self,
        scope: &TenantScope,
        event: Uuid,
        outcome: DeliveryOutcome,
    ) -> Result<(), MetadataError> {
        match self
            .own
            .record_delivery(scope, event, outcome.clone())
            .await
        {
            // Not in its own database: an event of the registry's.
            Err(e) if e.is(MetadataErrorKind::NotFound) => {
                self.shared.record_delivery(scope, event, outcome).await
            }
            other => other,
        }
    }
}
