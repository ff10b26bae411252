//! Share links (platform path): found by the digest of their token, counted
//! and locked in one statement each so that racing requests cannot both
//! take a link's last download or its sixth password.

use async_trait::async_trait;
use coffer_domain::{
    FileId, LinkDigest, PasswordAttempts, ShareLink, ShareLinkId, Subject, TenantId,
};
use coffer_ports::{FoundLink, MetadataError, NewShareLink, ShareLinks};
use diesel::prelude::*;
use diesel::sql_types::{Int4, Nullable, Timestamptz};
use diesel_async::RunQueryDsl;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::error::PgError;
use crate::rows::corrupt;
use crate::schema::share_links;
use crate::store::{PgMetadataStore, on_platform, platform, transaction};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = share_links, check_for_backend(diesel::pg::Pg))]
struct LinkRow {
    id: Uuid,
    tenant_id: Uuid,
    file_id: Uuid,
    token_digest: Vec<u8>,
    password_hash: Option<String>,
    expires_at: OffsetDateTime,
    max_downloads: Option<i32>,
    downloads: i32,
    wrong_passwords: i32,
    wrong_since: Option<OffsetDateTime>,
    revoked_at: Option<OffsetDateTime>,
    created_by: String,
    created_at: OffsetDateTime,
}

#[derive(QueryableByName)]
struct AttemptsRow {
    #[diesel(sql_type = Int4)]
    wrong_passwords: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    wrong_since: Option<OffsetDateTime>,
}

fn count(n: u32, what: &str) -> Result<i32, PgError> {
    i32::try_from(n).map_err(|_| PgError::InvalidState(format!("{what} out of range")))
}

fn counted(n: i32, what: &str) -> Result<u32, PgError> {
    u32::try_from(n).map_err(|e| corrupt(what, e))
}

impl TryFrom<NewShareLink> for LinkRow {
    type Error = PgError;

    fn try_from(new: NewShareLink) -> Result<Self, PgError> {
        let link = new.link;
        Ok(Self {
            id: *link.id.as_uuid(),
            tenant_id: *link.tenant_id.as_uuid(),
            file_id: *link.file_id.as_uuid(),
            token_digest: new.digest.as_bytes().to_vec(),
            password_hash: new.password_hash,
            expires_at: link.expires_at,
            max_downloads: link
                .max_downloads
                .map(|n| count(n, "max_downloads"))
                .transpose()?,
            downloads: count(link.downloads, "downloads")?,
            wrong_passwords: 0,
            wrong_since: None,
            revoked_at: link.revoked_at,
            created_by: link.created_by.as_str().to_owned(),
            created_at: link.created_at,
        })
    }
}

impl LinkRow {
    fn attempts(&self) -> Result<PasswordAttempts, PgError> {
        Ok(PasswordAttempts {
            failures: counted(self.wrong_passwords, "wrong passwords")?,
            window_started_at: self.wrong_since,
        })
    }

    fn into_found(self) -> Result<FoundLink, PgError> {
        let attempts = self.attempts()?;
        let password_hash = self.password_hash.clone();
        Ok(FoundLink {
            link: self.try_into()?,
            password_hash,
            attempts,
        })
    }
}

impl TryFrom<LinkRow> for ShareLink {
    type Error = PgError;

    fn try_from(row: LinkRow) -> Result<Self, PgError> {
        Ok(Self {
            id: ShareLinkId::from_uuid(row.id),
            tenant_id: TenantId::from_uuid(row.tenant_id),
            file_id: FileId::from_uuid(row.file_id),
            expires_at: row.expires_at,
            max_downloads: row
                .max_downloads
                .map(|n| counted(n, "max downloads"))
                .transpose()?,
            downloads: counted(row.downloads, "downloads")?,
            password_protected: row.password_hash.is_some(),
            revoked_at: row.revoked_at,
            created_by: Subject::new(row.created_by).map_err(|e| corrupt("link creator", e))?,
            created_at: row.created_at,
        })
    }
}

#[async_trait]
impl ShareLinks for PgMetadataStore {
    async fn create_link(&self, new: NewShareLink) -> Result<(), MetadataError> {
        let row = LinkRow::try_from(new)?;
        on_platform!(self, |conn| diesel::insert_into(share_links::table)
            .values(&row)
            .execute(&mut &*conn))?;
        Ok(())
    }

    async fn links_of_file(
        &self,
        tenant: TenantId,
        file: FileId,
    ) -> Result<Vec<ShareLink>, MetadataError> {
        use share_links::dsl as l;
        let rows: Vec<LinkRow> = on_platform!(self, |conn| l::share_links
            .filter(l::tenant_id.eq(tenant.as_uuid()))
            .filter(l::file_id.eq(file.as_uuid()))
            .order((l::created_at.asc(), l::id.asc()))
            .select(LinkRow::as_select())
            .load(&mut &*conn))?;
        Ok(rows
            .into_iter()
            .map(ShareLink::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn revoke_link(
        &self,
        tenant: TenantId,
        file: FileId,
        id: ShareLinkId,
        now: OffsetDateTime,
    ) -> Result<ShareLink, MetadataError> {
        use share_links::dsl as l;
        let rows: Vec<LinkRow> = transaction!(self, |conn| {
            let this = l::share_links
                .filter(l::id.eq(id.as_uuid()))
                .filter(l::tenant_id.eq(tenant.as_uuid()))
                .filter(l::file_id.eq(file.as_uuid()));
            // The first revocation stands: a second one changes nothing.
            platform(
                conn,
                diesel::update(this.filter(l::revoked_at.is_null()))
                    .set(l::revoked_at.eq(now))
                    .execute(&mut &*conn),
            )
            .await?;
            Ok::<_, PgError>(this.select(LinkRow::as_select()).load(&mut &*conn).await?)
        })?;
        let row = rows.into_iter().next().ok_or(PgError::NotFound("link"))?;
        Ok(row.try_into()?)
    }

    async fn find_link(&self, digest: LinkDigest) -> Result<Option<FoundLink>, MetadataError> {
        use share_links::dsl as l;
        let rows: Vec<LinkRow> = on_platform!(self, |conn| l::share_links
            .filter(l::token_digest.eq(digest.as_bytes().as_slice()))
            .select(LinkRow::as_select())
            .load(&mut &*conn))?;
        Ok(rows
            .into_iter()
            .next()
            .map(LinkRow::into_found)
            .transpose()?)
    }

    async fn note_wrong_password(
        &self,
        id: ShareLinkId,
        now: OffsetDateTime,
    ) -> Result<PasswordAttempts, MetadataError> {
        // One statement, the window rule of PasswordAttempts::after_failure:
        // concurrent wrong passwords each count.
        let query = diesel::sql_query(
            "UPDATE share_links SET \
                 wrong_passwords = CASE WHEN wrong_since IS NULL OR wrong_since <= $2 \
                     THEN 1 ELSE wrong_passwords + 1 END, \
                 wrong_since = CASE WHEN wrong_since IS NULL OR wrong_since <= $2 \
                     THEN $3 ELSE wrong_since END \
             WHERE id = $1 RETURNING wrong_passwords, wrong_since",
        )
        .bind::<diesel::sql_types::Uuid, _>(*id.as_uuid())
        .bind::<Timestamptz, _>(PasswordAttempts::window_cutoff(now))
        .bind::<Timestamptz, _>(now);
        let rows: Vec<AttemptsRow> = transaction!(self, |conn| {
            Ok::<_, PgError>(platform(conn, query.clone().load(&mut &*conn)).await?)
        })?;
        let row = rows.into_iter().next().ok_or(PgError::NotFound("link"))?;
        Ok(PasswordAttempts {
            failures: counted(row.wrong_passwords, "wrong passwords")?,
            window_started_at: row.wrong_since,
        })
    }

    async fn count_download(
        &self,
        id: ShareLinkId,
        now: OffsetDateTime,
    ) -> Result<Option<ShareLink>, MetadataError> {
        use share_links::dsl as l;
        let rows: Vec<LinkRow> = on_platform!(self, |conn| diesel::update(
            l::share_links
                .filter(l::id.eq(id.as_uuid()))
                .filter(l::revoked_at.is_null())
                .filter(l::expires_at.gt(now))
                .filter(
                    l::max_downloads
                        .is_null()
                        .or(l::downloads.nullable().lt(l::max_downloads)),
                ),
        )
        .set(l::downloads.eq(l::downloads + 1))
        .returning(LinkRow::as_returning())
        .get_results(&mut &*conn))?;
        Ok(rows
            .into_iter()
            .next()
            .map(ShareLink::try_from)
            .transpose()?)
    }
}
