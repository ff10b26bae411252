//! The onboarding queue. SQLite has one writer: a claim is a select and an
//! update inside one `BEGIN IMMEDIATE` transaction, which no other claim
//! can interleave with.

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
use time::OffsetDateTime;

use crate::error::SqliteError;
use crate::journal::JournalRows;
use crate::rows::{TenantRow, id, ns, time_of, time_opt, uuid_of};
use crate::schema::{tenant_onboardings, tenants, usage_counters};
use crate::store::SqliteMetadataStore;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = tenant_onboardings, check_for_backend(diesel::sqlite::Sqlite))]
pub(crate) struct OnboardingRow {
    tenant_id: String,
    state: String,
    admin_subject: Option<String>,
    current_step: Option<String>,
    steps_done: String,
    attempts: i32,
    last_error: Option<String>,
    lease_until: Option<i64>,
    queued_at: i64,
    updated_at: i64,
}

impl TryFrom<OnboardingRow> for Onboarding {
    type Error = SqliteError;

    fn try_from(row: OnboardingRow) -> Result<Self, SqliteError> {
        let corrupt = |e: coffer_domain::ValidationError| SqliteError::CorruptRow(e.to_string());
        Ok(Self {
            tenant_id: TenantId::from_uuid(uuid_of(&row.tenant_id, "onboarding tenant")?),
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
                .map_err(|_| SqliteError::CorruptRow("negative attempts".into()))?,
            last_error: row.last_error,
            lease_until: time_opt(row.lease_until)?,
            queued_at: time_of(row.queued_at)?,
            updated_at: time_of(row.updated_at)?,
        })
    }
}

#[async_trait]
impl OnboardingQueue for SqliteMetadataStore {
    async fn create_onboarding(
        &self,
        new: NewTenant,
        onboarding: NewOnboarding,
        journal: Journal,
    ) -> Result<(Tenant, Onboarding), MetadataError> {
        let journal = JournalRows::new(new.id, journal)?;
        let row = TenantRow::new(&new)?;
        let created = row.created_at;
        let queued_at = ns(onboarding.queued_at)?;
        let queued = OnboardingRow {
            tenant_id: row.id.clone(),
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
            queued_at,
            updated_at: queued_at,
        };
        let result = self
            .write(move |conn| {
                let inserted = diesel::insert_into(tenants::table)
                    .values(&row)
                    .returning(TenantRow::as_returning())
                    .get_result(conn)?;
                let job = diesel::insert_into(tenant_onboardings::table)
                    .values(&queued)
                    .returning(OnboardingRow::as_returning())
                    .get_result(conn)?;
                diesel::insert_into(usage_counters::table)
                    .values((
                        usage_counters::tenant_id.eq(&row.id),
                        usage_counters::updated_at.eq(created),
                    ))
                    .execute(conn)?;
                journal.insert(conn)?;
                Ok((inserted, job))
            })
            .await;
        match result {
            Err(e) if e.db_kind() == Some(DatabaseErrorKind::UniqueViolation) => Err(
                SqliteError::Conflict(format!("tenant {} or its slug already exists", new.id))
                    .into(),
            ),
            Err(e) => Err(e.into()),
            Ok((tenant, job)) => Ok((tenant.try_into()?, job.try_into()?)),
        }
    }

    async fn get_onboarding(&self, tenant: TenantId) -> Result<Onboarding, MetadataError> {
        let key = id(tenant.as_uuid());
        let row = self
            .read(move |conn| {
                Ok(tenant_onboardings::table
                    .find(key)
                    .select(OnboardingRow::as_select())
                    .get_result(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.ok_or(SqliteError::NotFound("onboarding"))?.try_into()?)
    }

    async fn claim_onboarding(
        &self,
        now: OffsetDateTime,
        lease: time::Duration,
    ) -> Result<Option<Onboarding>, MetadataError> {
        use tenant_onboardings::dsl as o;
        let (now, until) = (ns(now)?, ns(now + lease)?);
        let row = self
            .write(move |conn| {
                let due = o::tenant_onboardings
                    .filter(
                        o::state.eq(OnboardingState::Queued.as_str()).or(o::state
                            .eq(OnboardingState::Running.as_str())
                            .and(o::lease_until.lt(now))),
                    )
                    .order(o::queued_at.asc())
                    .select(o::tenant_id)
                    .first::<String>(conn)
                    .optional()?;
                let Some(key) = due else { return Ok(None) };
                Ok(Some(
                    diesel::update(o::tenant_onboardings.find(key))
                        .set((
                            o::state.eq(OnboardingState::Running.as_str()),
                            o::attempts.eq(o::attempts + 1),
                            o::lease_until.eq(Some(until)),
                            o::updated_at.eq(now),
                        ))
                        .returning(OnboardingRow::as_returning())
                        .get_result(conn)?,
                ))
            })
            .await?;
        Ok(row.map(Onboarding::try_from).transpose()?)
    }

    async fn update_onboarding(
        &self,
        tenant: TenantId,
        update: OnboardingUpdate,
        journal: Journal,
    ) -> Result<Onboarding, MetadataError> {
        use tenant_onboardings::dsl as o;
        let journal = JournalRows::new(tenant, journal)?;
        let key = id(tenant.as_uuid());
        let at = ns(update.at)?;
        let expected = update.expected.as_str();
        let state = update.state.as_str();
        let lease_kept = update.state == OnboardingState::Running;
        let step = update.current_step.map(|s| s.as_str().to_owned());
        let done = steps_to_string(&update.steps_done);
        let error = update.last_error;
        let status = update.tenant_status.map(|s| s.as_str());
        let row = self
            .write(move |conn| {
                let current = o::tenant_onboardings
                    .find(&key)
                    .select((o::state, o::lease_until))
                    .get_result::<(String, Option<i64>)>(conn)
                    .optional()?
                    .ok_or(SqliteError::NotFound("onboarding"))?;
                if current.0 != expected {
                    return Err(SqliteError::InvalidState(format!(
                        "the onboarding is {}, not {expected}",
                        current.0
                    )));
                }
                let lease = if lease_kept { current.1 } else { None };
                let row = diesel::update(o::tenant_onboardings.find(&key))
                    .set((
                        o::state.eq(state),
                        o::current_step.eq(step),
                        o::steps_done.eq(done),
                        o::last_error.eq(error),
                        o::lease_until.eq(lease),
                        o::updated_at.eq(at),
                    ))
                    .returning(OnboardingRow::as_returning())
                    .get_result(conn)?;
                if let Some(status) = status {
                    diesel::update(tenants::table.find(&key))
                        .set((tenants::status.eq(status), tenants::updated_at.eq(at)))
                        .execute(conn)?;
                }
                journal.insert(conn)?;
                Ok(row)
            })
            .await?;
        Ok(row.try_into()?)
    }
}
