//! Every client command but `cp` (transfer.rs).

use std::sync::Arc;

use coffer_api::{AuditQueryParams, FileDto, GrantBody, ListQuery, UpdateBody};
use coffer_client::{Client, Issuer, TokenSource, Tokens};
use coffer_domain::{FileStatus, Filename, LogicalPath};
use futures::{StreamExt as _, TryStreamExt as _};
use time::OffsetDateTime;

use crate::address::Remote;
use crate::exit::{Failure, code};
use crate::login_store::Login;
use crate::settings::{DEFAULT_CLIENT_ID, Dirs, Settings};
use crate::{AuditList, ClientCommand, Common, DevLogin, DevMinter};

/// What a command runs with: the client, its options, the CLI's directories.
pub(crate) struct Context {
    pub client: Client,
    pub json: bool,
    pub dirs: Dirs,
}

pub(crate) async fn run(command: ClientCommand, dev: DevMinter<'_>) -> Result<(), Failure> {
    let dirs = Dirs::locate()?;
    let settings = Settings::load(&dirs)?;
    match command {
        ClientCommand::Login {
            common,
            issuer,
            client_id,
            dev: use_dev,
            tenant,
            sub,
            roles,
        } => {
            let server = common.server.or(settings.server.clone()).ok_or_else(|| {
                Failure::usage("which server? pass --server URL (or set COFFER_SERVER)")
            })?;
            if use_dev {
                let sub = sub.ok_or_else(|| Failure::usage("--dev needs --sub"))?;
                if roles.is_empty() {
                    return Err(Failure::usage("--dev needs --role"));
                }
                let token = dev(&DevLogin { tenant, sub, roles })?;
                return finish_login(
                    &dirs,
                    common.json,
                    server,
                    None,
                    None,
                    Tokens {
                        access_token: token,
                        refresh_token: None,
                        issued_at: OffsetDateTime::now_utc(),
                        expires_at: None,
                    },
                )
                .await;
            }
            let issuer = issuer.or(settings.issuer.clone()).ok_or_else(|| {
                Failure::usage("which issuer? pass --issuer URL (or set COFFER_ISSUER)")
            })?;
            let client_id = client_id
                .or(settings.client_id.clone())
                .unwrap_or_else(|| DEFAULT_CLIENT_ID.to_owned());
            let tokens = device_login(&issuer, &client_id, common.json).await?;
            finish_login(
                &dirs,
                common.json,
                server,
                Some(issuer),
                Some(client_id),
                tokens,
            )
            .await
        }
        ClientCommand::Logout { common } => {
            let removed = Login::remove(&dirs)?;
            print_line(
                common.json,
                &serde_json::json!({"signed_out": removed}),
                if removed {
                    "signed out"
                } else {
                    "not signed in"
                },
            );
            Ok(())
        }
        ClientCommand::Ls {
            common,
            place,
            recursive,
            q,
            status,
        } => {
            let ctx = connect(&common, &settings, dirs)?;
            ls(&ctx, place.as_deref(), recursive, q, status).await
        }
        ClientCommand::Cp {
            common,
            source,
            destination,
            recursive,
            parallel,
        } => {
            let ctx = connect(&common, &settings, dirs)?.parallelism(parallel)?;
            crate::transfer::cp(&ctx, &source, &destination, recursive).await
        }
        ClientCommand::Mv {
            common,
            source,
            destination,
        } => {
            let ctx = connect(&common, &settings, dirs)?;
            mv(&ctx, &source, &destination).await
        }
        ClientCommand::Rm {
            common,
            place,
            permanent,
        } => {
            let ctx = connect(&common, &settings, dirs)?;
            let file = ctx.resolve(&remote(&place)?, FileStatus::Available).await?;
            ctx.client.delete(file.id, permanent).await?;
            let verb = if permanent {
                "erased"
            } else {
                "moved to the trash"
            };
            print_line(
                ctx.json,
                &serde_json::json!({"id": file.id, "permanent": permanent}),
                &format!("{} {verb}", shown(&file)),
            );
            Ok(())
        }
        ClientCommand::Restore { common, place } => {
            let ctx = connect(&common, &settings, dirs)?;
            let file = ctx.resolve(&remote(&place)?, FileStatus::Deleted).await?;
            let file = ctx.client.restore(file.id).await?;
            ctx.print_file(&file, &format!("restored {}", shown(&file)));
            Ok(())
        }
        ClientCommand::Info { common, place } => {
            let ctx = connect(&common, &settings, dirs)?;
            let file = ctx.resolve(&remote(&place)?, FileStatus::Available).await?;
            let human = serde_json::to_string_pretty(&file).unwrap_or_default();
            ctx.print_file(&file, &human);
            Ok(())
        }
        ClientCommand::Share {
            common,
            place,
            subject,
            access,
            expires,
        } => {
            let ctx = connect(&common, &settings, dirs)?;
            let file = ctx.resolve(&remote(&place)?, FileStatus::Available).await?;
            let body: GrantBody = serde_json::from_value(serde_json::json!({
                "subject": subject, "access": access, "expires_at": expires,
            }))
            .map_err(|e| Failure::usage(format!("share: {e}")))?;
            let grant = ctx.client.grant(file.id, &body).await?;
            let human = format!("{} can now {} {}", grant.subject, access, shown(&file));
            print_line(ctx.json, &grant, &human);
            Ok(())
        }
        ClientCommand::Link { action } => crate::links::run(action, &settings, dirs).await,
        ClientCommand::Request { action } => crate::requests::run(action, &settings, dirs).await,
    }
}

pub(crate) async fn audit_list(args: AuditList) -> Result<(), Failure> {
    let AuditList {
        common,
        file,
        action,
        actor,
        limit,
    } = args;
    let dirs = Dirs::locate()?;
    let settings = Settings::load(&dirs)?;
    let ctx = connect(&common, &settings, dirs)?;
    let file_id = match file {
        Some(place) => Some(
            ctx.resolve(&remote(&place)?, FileStatus::Available)
                .await?
                .id,
        ),
        None => None,
    };
    let query = AuditQueryParams {
        action,
        actor,
        file_id,
        ..AuditQueryParams::default()
    };
    let entries = ctx
        .client
        .audit(&query)?
        .take(limit)
        .try_collect::<Vec<_>>();
    for entry in entries.await.map_err(Failure::from)? {
        let human = format!(
            "{}  {:<24} {:<20} {}",
            entry
                .at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            entry.action,
            entry.actor,
            entry.file_id.map(|id| id.to_string()).unwrap_or_default()
        );
        print_line(ctx.json, &entry, &human);
    }
    Ok(())
}

/// Builds the client from the options, the environment and the login.
pub(crate) fn connect(
    common: &Common,
    settings: &Settings,
    dirs: Dirs,
) -> Result<Context, Failure> {
    let login = Login::load(&dirs)?;
    let server = common
        .server
        .clone()
        .or(settings.server.clone())
        .or(login.as_ref().map(|l| l.server.clone()))
        .ok_or_else(|| {
            Failure::usage("no server: run `coffer login --server URL …` or set COFFER_SERVER")
        })?;
    let tokens: Arc<dyn TokenSource> = match (&settings.token, login) {
        (Some(token), _) => Arc::new(coffer_client::StaticToken::new(token.clone())),
        (None, Some(login)) => login.token_source(&dirs),
        (None, None) => {
            return Err(Failure::with(
                code::AUTH,
                "not signed in: run `coffer login` (or set COFFER_TOKEN)",
            ));
        }
    };
    let mut retry = coffer_client::Retry::default();
    if let Some(attempts) = settings.retries {
        retry.attempts = attempts.max(1);
    }
    let client = Client::builder(server)
        .token_source(tokens)
        .retry(retry)
        .build()?;
    Ok(Context {
        client,
        json: common.json,
        dirs,
    })
}

impl Context {
    fn parallelism(mut self, parts: usize) -> Result<Self, Failure> {
        if parts == 0 {
            return Err(Failure::usage("--parallel must be at least 1"));
        }
        let tokens = self.client.clone();
        // Rebuilt with the same token source: only the parallelism differs.
        self.client = tokens.with_parallelism(parts);
        Ok(self)
    }

    /// The file a place names, in the listing of `status` when named by path.
    pub async fn resolve(&self, remote: &Remote, status: FileStatus) -> Result<FileDto, Failure> {
        match remote {
            Remote::Id(id) => Ok(self.client.file(*id).await?),
            Remote::File { path, filename } => {
                self.find(path, filename, status).await?.ok_or_else(|| {
                    Failure::with(
                        code::NOT_FOUND,
                        format!("coffer:{}: no such file", joined(path, filename)),
                    )
                })
            }
            Remote::Folder(path) => Err(Failure::usage(format!(
                "coffer:{}/ is a folder; name a file",
                path.as_str()
            ))),
        }
    }

    pub async fn find(
        &self,
        path: &LogicalPath,
        filename: &Filename,
        status: FileStatus,
    ) -> Result<Option<FileDto>, Failure> {
        let query = ListQuery {
            path: Some(path.clone()),
            filename: Some(filename.clone()),
            status: Some(status),
            limit: Some(1),
            ..ListQuery::default()
        };
        let mut files = std::pin::pin!(self.client.files(&query)?);
        Ok(files.try_next().await?)
    }

    pub fn print_file(&self, file: &FileDto, human: &str) {
        print_line(self.json, file, human);
    }
}

pub(crate) fn remote(place: &str) -> Result<Remote, Failure> {
    Remote::parse(place)?.ok_or_else(|| {
        Failure::usage(format!(
            "{place}: not a Coffer place (write coffer:/folder/name or a file id)"
        ))
    })
}

pub(crate) fn joined(path: &LogicalPath, filename: &Filename) -> String {
    if path.is_root() {
        format!("/{}", filename.as_str())
    } else {
        format!("{}/{}", path.as_str(), filename.as_str())
    }
}

pub(crate) fn shown(file: &FileDto) -> String {
    let path = if file.path == "/" {
        String::new()
    } else {
        file.path.clone()
    };
    format!("coffer:{path}/{}", file.filename)
}

/// One result: a JSON line with --json, else the human line.
pub(crate) fn print_line(json: bool, value: &impl serde::Serialize, human: &str) {
    if json {
        println!("{}", serde_json::to_string(value).unwrap_or_default());
    } else {
        println!("{human}");
    }
}

async fn device_login(issuer: &str, client_id: &str, json: bool) -> Result<Tokens, Failure> {
    let issuer = Issuer::discover(issuer, client_id, None).await?;
    let authorization = issuer.device_authorization(&["openid"]).await?;
    let show = serde_json::json!({
        "verification_uri": authorization.verification_uri(),
        "verification_uri_complete": authorization.verification_uri_complete(),
        "user_code": authorization.user_code(),
        "expires_in": authorization.expires_in().as_secs(),
    });
    if json {
        println!("{show}");
    } else {
        eprintln!(
            "To sign in, open {} and enter the code {}",
            authorization.verification_uri(),
            authorization.user_code()
        );
        if let Some(complete) = authorization.verification_uri_complete() {
            eprintln!("(or open {complete})");
        }
        eprintln!("Waiting for the sign-in…");
    }
    Ok(issuer.wait_for_device(&authorization).await?)
}

async fn finish_login(
    dirs: &Dirs,
    json: bool,
    server: String,
    issuer: Option<String>,
    client_id: Option<String>,
    tokens: Tokens,
) -> Result<(), Failure> {
    let login = Login {
        server: server.clone(),
        issuer: issuer.clone(),
        client_id: client_id.clone(),
        tokens,
    };
    // Stored first (checking it may renew it, and the renewal is stored
    // over it), then checked against the server: a login that fails there
    // is not kept.
    login.save(dirs)?;
    let client = Client::builder(server.clone())
        .token_source(login.token_source(dirs))
        .build()?;
    let tenant = match client.tenant().await {
        Ok(tenant) => tenant,
        Err(e) => {
            Login::remove(dirs)?;
            return Err(e.into());
        }
    };
    Settings {
        server: Some(server),
        issuer,
        client_id,
        ..Settings::default()
    }
    .save(dirs)?;
    print_line(
        json,
        &serde_json::json!({"signed_in": true, "tenant": tenant.tenant.slug}),
        &format!("signed in to tenant {}", tenant.tenant.slug),
    );
    Ok(())
}

async fn ls(
    ctx: &Context,
    place: Option<&str>,
    recursive: bool,
    q: Option<String>,
    status: Option<String>,
) -> Result<(), Failure> {
    let folder = match place {
        None => LogicalPath::root(),
        Some(place) => remote(place)?.as_folder()?,
    };
    let status = status
        .map(|s| {
            serde_json::from_value::<FileStatus>(serde_json::Value::String(s.clone()))
                .map_err(|_| Failure::usage(format!("--status {s}: not a status")))
        })
        .transpose()?;
    let mut query = ListQuery {
        q,
        status,
        limit: Some(1000),
        ..ListQuery::default()
    };
    if recursive {
        query.prefix = Some(folder);
    } else {
        query.path = Some(folder);
    }
    let mut files = std::pin::pin!(ctx.client.files(&query)?);
    while let Some(file) = files.try_next().await? {
        let human = format!(
            "{:>12}  {}  {}  {}",
            file.size,
            file.updated_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            shown(&file),
            file.id
        );
        print_line(ctx.json, &file, &human);
    }
    Ok(())
}

async fn mv(ctx: &Context, source: &str, destination: &str) -> Result<(), Failure> {
    let file = ctx.resolve(&remote(source)?, FileStatus::Available).await?;
    let (path, filename) = match remote(destination)? {
        Remote::Folder(path) => (path, None),
        Remote::File { path, filename } => (path, Some(filename)),
        Remote::Id(_) => return Err(Failure::usage("mv: the destination is a place, not an id")),
    };
    let change = UpdateBody {
        filename,
        path: Some(path),
        visibility: None,
        metadata: None,
    };
    let moved = ctx.client.update(file.id, &change).await?;
    ctx.print_file(&moved, &format!("{} → {}", shown(&file), shown(&moved)));
    Ok(())
}
