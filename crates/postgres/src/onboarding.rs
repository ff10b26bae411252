//! The onboarding queue (platform path): one row per tenant onboarded as a
//! job, claimed with `FOR UPDATE SKIP LOCKED` so that several instances
//! never run the same onboarding at once.

use async_trait::async_trait;
use coffer_domain::{
    Onboarding, OnboardingRequest, OnboardingState, OnboardingStep, Subject, Tenant, TenantId,
    steps_from_str, steps_to_string,
};
use coffer_ports::{
    Journal, MetadataError, NewOnboarding, NewTenant, OnboardingQueue, OnboardingUpdate,
};
use diesel::prelude::*;
use diesel::result::DatabaseErrorKind;
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::{PgError, db_kind};
use crate::journal::JournalRows;
use crate::rows::TenantRow;
use crate::schema::{tenant_onboardings, tenants, usage_counters};
use crate::store::{PgMetadataStore, Scope, enter_tenant, platform, read_scoped, transaction};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_onboardings, check_for_backend(diesel::pg::Pg))]
pub(crate) struct OnboardingRow {
    tenant_id: Uuid,
    state: String,
    admin_subject: Option<String>,
    current_step: Option<String>,
    steps_done: String,
    attempts: i32,
    last_error: Option<String>,
    lease_until: Option<OffsetDateTime>,
    queued_at: OffsetDateTime,
    updated_at: OffsetDateTime,
}

impl TryFrom<OnboardingRow> for Onboarding {
    type Error = PgError;

    fn try_from(row: OnboardingRow) -> Result<Self, PgError> {
        let corrupt = |e: coffer_domain::ValidationError| PgError::CorruptRow(e.to_string());
        Ok(Self {
            tenant_id: TenantId::from_uuid(row.tenant_id),
            state: row.state.parse::<OnboardingState>().map_err(corrupt)?,
            request: OnboardingRequest {
                admin_subject: row
                    .admin_subject
                    .map(Subject::new)
                    .transpose()
                    .map_err(corrupt)?,
            },
            current_step: row
                .current_step
                .as_deref()
                .map(str::parse::<OnboardingStep>)
                .transpose()
                .map_err(corrupt)?,
            steps_done: steps_from_str(&row.steps_done).map_err(corrupt)?,
            attempts: u32::try_from(row.attempts)
                .map_err(|_| PgError::CorruptRow("negative attempts".into()))?,
            last_error: row.last_error,
            lease_until: row.lease_until,
            queued_at: row.queued_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(Debug, Clone, AsChangeset)]
#[diesel(table_name = tenant_onboardings, treat_none_as_null = true)]
struct Progress {
    state: String,
    current_step: Option<String>,
    steps_done: String,
    last_error: Option<String>,
    lease_until: Option<OffsetDateTime>,
    updated_at: OffsetDateTime,
}

#[async_trait]
impl OnboardingQueue for PgMetadataStore {
    async fn create_onboarding(
        &self,
        new: NewTenant,
        onboarding: NewOnboarding,
        journal: Journal,
    ) -> Result<(Tenant, Onboarding), MetadataError> {
        let journal = &JournalRows::new(new.id, journal);
        let row = &TenantRow::new(&new)?;
        let queued = &OnboardingRow {
            tenant_id: *new.id.as_uuid(),
            state: OnboardingState::Queued.as_str().to_owned(),
            admin_subject: onboarding
                .request
                .admin_subject
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            current_step: None,
            steps_done: String::new(),
            attempts: 0,
            last_error: None,
            lease_until: None,
            queued_at: onboarding.queued_at,
            updated_at: onboarding.queued_at,
        };
        let result = transaction!(self, |conn| {
            let inserted = platform(
                conn,
                diesel::insert_into(tenants::table)
                    .values(row)
                    .returning(TenantRow::as_returning())
                    .get_result(&mut &*conn),
            )
            .await?;
            let job = diesel::insert_into(tenant_onboardings::table)
                .values(queued)
                .returning(OnboardingRow::as_returning())
                .get_result(&mut &*conn)
                .await?;
            enter_tenant(conn, new.id).await?;
            diesel::insert_into(usage_counters::table)
                .values(usage_counters::tenant_id.eq(new.id.as_uuid()))
                .execute(conn)
                .await?;
            journal.insert(conn).await?;
            Ok((inserted, job))
        });
        match result {
            Err(e) if db_kind(&e) == Some(DatabaseErrorKind::UniqueViolation) => Err(
                PgError::Conflict(format!("tenant {} or its slug already exists", new.id)).into(),
            ),
            Err(e) => Err(e.into()),
            Ok((tenant, job)) => Ok((tenant.try_into()?, job.try_into()?)),
        }
    }

    async fn get_onboarding(&self, tenant: TenantId) -> Result<Onboarding, MetadataError> {
        let row = read_scoped!(self, Scope::Platform, |c| tenant_onboardings::table
            .find(tenant.as_uuid())
            .select(OnboardingRow::as_select())
            .get_result(&mut &*c));
        match row {
            Err(PgError::Diesel(diesel::result::Error::NotFound)) => {
                Err(PgError::NotFound("onboarding").into())
            }
            other => Ok(other?.try_into()?),
        }
    }

    async fn claim_onboarding(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<Onboarding>, MetadataError> {
        use tenant_onboardings::dsl as o;
        let row = transaction!(self, |conn| {
            // SKIP LOCKED: a row another worker is claiming right now is
            // passed over, not waited for.
            let due = platform(
                conn,
                o::tenant_onboardings
                    .filter(
                        o::state.eq(OnboardingState::Queued.as_str()).or(o::state
                            .eq(OnboardingState::Running.as_str())
                            .and(o::lease_until.lt(now))),
                    )
                    .order(o::queued_at.asc())
                    .select(o::tenant_id)
                    .limit(1)
                    .for_update()
                    .skip_locked()
                    .get_result::<Uuid>(&mut &*conn),
            )
            .await
            .optional()?;
            let Some(id) = due else { return Ok(None) };
            let claimed = diesel::update(o::tenant_onboardings.find(id))
                .set((
                    o::state.eq(OnboardingState::Running.as_str()),
                    o::attempts.eq(o::attempts + 1),
                    o::lease_until.eq(Some(now + lease)),
                    o::updated_at.eq(now),
                ))
                .returning(OnboardingRow::as_returning())
                .get_result(&mut &*conn)
                .await?;
            Ok(Some(claimed))
        })?;
        Ok(row.map(Onboarding::try_from).transpose()?)
    }

    async fn update_onboarding(
        &self,
        tenant: TenantId,
        update: OnboardingUpdate,
        journal: Journal,
    ) -> Result<Onboarding, MetadataError> {
        use tenant_onboardings::dsl as o;
        let journal = &JournalRows::new(tenant, journal);
        let lease_kept = update.state == OnboardingState::Running;
        let progress = &Progress {
            state: update.state.as_str().to_owned(),
            current_step: update.current_step.map(|s| s.as_str().to_owned()),
            steps_done: steps_to_string(&update.steps_done),
            last_error: update.last_error,
            lease_until: None,
            updated_at: update.at,
        };
        let expected = update.expected.as_str();
        let status = update.tenant_status.map(|s| s.as_str());
        let row = transaction!(self, |conn| {
            let current = platform(
                conn,
                o::tenant_onboardings
                    .find(tenant.as_uuid())
                    .select((o::state, o::lease_until))
                    .for_update()
                    .get_result::<(String, Option<OffsetDateTime>)>(&mut &*conn),
            )
            .await
            .optional()?
            .ok_or(PgError::NotFound("onboarding"))?;
            if current.0 != expected {
                return Err(PgError::InvalidState(format!(
                    "the onboarding is {}, not {expected}",
                    current.0
                )));
            }
            let mut progress = progress.clone();
            if lease_kept {
                progress.lease_until = current.1;
            }
            let row = diesel::update(o::tenant_onboardings.find(tenant.as_uuid()))
                .set(&progress)
                .returning(OnboardingRow::as_returning())
                .get_result(&mut &*conn)
                .await?;
            if let Some(status) = status {
                diesel::update(tenants::table.find(tenant.as_uuid()))
                    .set((
                        tenants::status.eq(status),
                        tenants::updated_at.eq(update.at),
                    ))
                    .execute(&mut &*conn)
                    .await?;
            }
            enter_tenant(conn, tenant).await?;
            journal.insert(conn).await?;
            Ok(row)
        })?;
        Ok(row.try_into()?)
    }
}
