//! Share links: found by the digest of their token; counted and locked in
//! `BEGIN IMMEDIATE` transactions, so racing requests take turns.

use async_trait::async_trait;
use coffer_domain::{
    FileId, LinkDigest, PasswordAttempts, ShareLink, ShareLinkId, Subject, TenantId,
};
use coffer_ports::{FoundLink, MetadataError, NewShareLink, ShareLinks};
use diesel::prelude::*;
use time::OffsetDateTime;

use crate::error::SqliteError;
use crate::rows::{corrupt, id, ns, ns_opt, time_of, time_opt, uuid_of};
use crate::schema::share_links;
use crate::store::SqliteMetadataStore;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = share_links, check_for_backend(diesel::sqlite::Sqlite))]
struct LinkRow {
    id: String,
    tenant_id: String,
    file_id: String,
    token_digest: Vec<u8>,
    password_hash: Option<String>,
    expires_at: i64,
    max_downloads: Option<i64>,
    downloads: i64,
    wrong_passwords: i64,
    wrong_since: Option<i64>,
    revoked_at: Option<i64>,
    created_by: String,
    created_at: i64,
}

fn counted(n: i64, what: &str) -> Result<u32, SqliteError> {
    u32::try_from(n).map_err(|e| corrupt(what, e))
}

impl TryFrom<NewShareLink> for LinkRow {
    type Error = SqliteError;

    fn try_from(new: NewShareLink) -> Result<Self, SqliteError> {
        let link = new.link;
        Ok(Self {
            id: id(link.id.as_uuid()),
            tenant_id: id(link.tenant_id.as_uuid()),
            file_id: id(link.file_id.as_uuid()),
            token_digest: new.digest.as_bytes().to_vec(),
            password_hash: new.password_hash,
            expires_at: ns(link.expires_at)?,
            max_downloads: link.max_downloads.map(i64::from),
            downloads: i64::from(link.downloads),
            wrong_passwords: 0,
            wrong_since: None,
            revoked_at: ns_opt(link.revoked_at)?,
            created_by: link.created_by.as_str().to_owned(),
            created_at: ns(link.created_at)?,
        })
    }
}

impl LinkRow {
    fn attempts(&self) -> Result<PasswordAttempts, SqliteError> {
        Ok(PasswordAttempts {
            failures: counted(self.wrong_passwords, "wrong passwords")?,
            window_started_at: time_opt(self.wrong_since)?,
        })
    }

    fn into_found(self) -> Result<FoundLink, SqliteError> {
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
    type Error = SqliteError;

    fn try_from(row: LinkRow) -> Result<Self, SqliteError> {
        Ok(Self {
            id: ShareLinkId::from_uuid(uuid_of(&row.id, "link")?),
            tenant_id: TenantId::from_uuid(uuid_of(&row.tenant_id, "link tenant")?),
            file_id: FileId::from_uuid(uuid_of(&row.file_id, "link file")?),
            expires_at: time_of(row.expires_at)?,
            max_downloads: row
                .max_downloads
                .map(|n| counted(n, "max downloads"))
                .transpose()?,
            downloads: counted(row.downloads, "downloads")?,
            password_protected: row.password_hash.is_some(),
            revoked_at: time_opt(row.revoked_at)?,
            created_by: Subject::new(row.created_by).map_err(|e| corrupt("link creator", e))?,
            created_at: time_of(row.created_at)?,
        })
    }
}

#[async_trait]
impl ShareLinks for SqliteMetadataStore {
    async fn create_link(&self, new: NewShareLink) -> Result<(), MetadataError> {
        let row = LinkRow::try_from(new)?;
        self.write(move |conn| {
            diesel::insert_into(share_links::table)
                .values(&row)
                .execute(conn)?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn links_of_file(
        &self,
        tenant: TenantId,
        file: FileId,
    ) -> Result<Vec<ShareLink>, MetadataError> {
        use share_links::dsl as l;
        let key = (id(tenant.as_uuid()), id(file.as_uuid()));
        let rows: Vec<LinkRow> = self
            .read(move |conn| {
                Ok(l::share_links
                    .filter(l::tenant_id.eq(key.0))
                    .filter(l::file_id.eq(key.1))
                    .order((l::created_at.asc(), l::id.asc()))
                    .select(LinkRow::as_select())
                    .load(conn)?)
            })
            .await?;
        Ok(rows
            .into_iter()
            .map(ShareLink::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn revoke_link(
        &self,
        tenant: TenantId,
        file: FileId,
        link: ShareLinkId,
        now: OffsetDateTime,
    ) -> Result<ShareLink, MetadataError> {
        use share_links::dsl as l;
        let key = (id(link.as_uuid()), id(tenant.as_uuid()), id(file.as_uuid()));
        let now = ns(now)?;
        let row: LinkRow = self
            .write(move |conn| {
                let this = || {
                    l::share_links
                        .filter(l::id.eq(&key.0))
                        .filter(l::tenant_id.eq(&key.1))
                        .filter(l::file_id.eq(&key.2))
                };
                // The first revocation stands.
                diesel::update(this().filter(l::revoked_at.is_null()))
                    .set(l::revoked_at.eq(now))
                    .execute(conn)?;
                this()
                    .select(LinkRow::as_select())
                    .first(conn)
                    .optional()?
                    .ok_or(SqliteError::NotFound("link"))
            })
            .await?;
        Ok(row.try_into()?)
    }

    async fn find_link(&self, digest: LinkDigest) -> Result<Option<FoundLink>, MetadataError> {
        use share_links::dsl as l;
        let digest = digest.as_bytes().to_vec();
        let row: Option<LinkRow> = self
            .read(move |conn| {
                Ok(l::share_links
                    .filter(l::token_digest.eq(digest))
                    .select(LinkRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.map(LinkRow::into_found).transpose()?)
    }

    async fn note_wrong_password(
        &self,
        link: ShareLinkId,
        now: OffsetDateTime,
    ) -> Result<PasswordAttempts, MetadataError> {
        use share_links::dsl as l;
        let key = id(link.as_uuid());
        Ok(self
            .write(move |conn| {
                let row: LinkRow = l::share_links
                    .filter(l::id.eq(&key))
                    .select(LinkRow::as_select())
                    .first(conn)
                    .optional()?
                    .ok_or(SqliteError::NotFound("link"))?;
                let after = row.attempts()?.after_failure(now);
                diesel::update(l::share_links.filter(l::id.eq(&key)))
                    .set((
                        l::wrong_passwords.eq(i64::from(after.failures)),
                        l::wrong_since.eq(ns_opt(after.window_started_at)?),
                    ))
                    .execute(conn)?;
                Ok(after)
            })
            .await?)
    }

    async fn count_download(
        &self,
        link: ShareLinkId,
        now: OffsetDateTime,
    ) -> Result<Option<ShareLink>, MetadataError> {
        use share_links::dsl as l;
        let key = id(link.as_uuid());
        let now = ns(now)?;
        let row: Option<LinkRow> = self
            .write(move |conn| {
                let counted = diesel::update(
                    l::share_links
                        .filter(l::id.eq(&key))
                        .filter(l::revoked_at.is_null())
                        .filter(l::expires_at.gt(now))
                        .filter(
                            l::max_downloads
                                .is_null()
                                .or(l::downloads.nullable().lt(l::max_downloads)),
                        ),
                )
                .set(l::downloads.eq(l::downloads + 1))
                .execute(conn)?;
                if counted == 0 {
                    return Ok(None);
                }
                Ok(l::share_links
                    .filter(l::id.eq(&key))
                    .select(LinkRow::as_select())
                    .first(conn)
                    .optional()?)
            })
            .await?;
        Ok(row.map(ShareLink::try_from).transpose()?)
    }
}
