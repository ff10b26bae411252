//! The `coffer` command line.

use std::net::TcpListener;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use coffer_domain::{LimitOverrides, Plan, Region, Role, Subject, TenantId, TenantSlug};
use coffer_keycloak::dev::DevIssuer;
use coffer_ports::TenantClaim;
use secrecy::ExposeSecret as _;

use crate::config::{Config, MetadataBackend};
use crate::{jobs, server, telemetry, wiring};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Parser)]
#[command(
    name = "coffer",
    version,
    about = "Coffer: a multi-tenant file service"
)]
pub struct Cli {
    /// Configuration file (default: ./coffer.toml when present).
    #[arg(long, global = true, env = "COFFER_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (embedded defaults without configuration).
    Serve,
    /// Apply the database migrations.
    Migrate,
    /// Reap expired uploads, purge expired trash and finish interrupted
    /// erases now (`coffer serve` does it periodically).
    Reap,
    /// Compare stored objects with file rows and report the drift; with
    /// `--repair`, delete orphan objects, mark rows whose object is missing
    /// and finish interrupted erases (`coffer serve` does it periodically).
    Reconcile {
        /// Only this tenant (slug); default every tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Repair what is found, not only report it.
        #[arg(long)]
        repair: bool,
    },
    /// Mint a token with the embedded dev issuer.
    Token {
        /// Tenant slug or id (omit only for platform-admin).
        #[arg(long)]
        tenant: Option<String>,
        /// Subject of the user.
        #[arg(long)]
        sub: String,
        /// admin, editor, viewer or platform-admin (repeatable).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// Lifetime such as 30m, 1h, 7d, or seconds.
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
    /// Inspect the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Administer tenants directly (embedded mode, or break-glass).
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// The client commands (docs/client.md).
    #[command(flatten)]
    Client(coffer_cli::ClientCommand),
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List the tenant's audit log through the API, newest first (tenant
    /// admins; a client command: docs/client.md).
    List(coffer_cli::AuditList),
    /// Write a tenant's audit log as JSON lines, oldest first, each entry
    /// with its chain, seq, prev_hash and hash (docs/audit.md verifies it
    /// offline).
    Export {
        /// Tenant slug or id.
        #[arg(long)]
        tenant: String,
        /// Only records at or after this RFC 3339 time.
        #[arg(long)]
        since: Option<String>,
        /// Write to this file instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Walk a tenant's hash chains and report the first break (exit code
    /// 1), or the entries and head hash of each chain.
    Verify {
        /// Tenant slug or id.
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration (secrets redacted).
    Show,
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create {
        slug: String,
        #[arg(long, default_value = "starter")]
        plan: String,
        #[arg(long, default_value = "local")]
        region: String,
        #[arg(long)]
        name: Option<String>,
        /// The first tenant administrator (identity provider subject).
        #[arg(long)]
        admin: Option<String>,
        /// A dedicated bucket, created private and encrypted.
        #[arg(long)]
        bucket: Option<String>,
        /// A dedicated database (`true`/`false`); default: as the plan says
        /// (`metadata.dedicated.plans`).
        #[arg(long)]
        dedicated_database: Option<bool>,
        /// A schema of its own in the shared database (`true`/`false`);
        /// default: as the plan says (`metadata.schemas.plans`).
        #[arg(long)]
        dedicated_schema: Option<bool>,
    },
}

fn mint_dev_token(
    config: &Config,
    tenant: Option<&TenantClaim>,
    sub: String,
    roles: &[Role],
    ttl: time::Duration,
) -> Result<String, Error> {
    let issuer = DevIssuer::open(&config.data_dir)?;
    Ok(issuer.mint(tenant, &Subject::new(sub)?, roles, ttl)?)
}

/// `coffer login --dev`: a dev token of the embedded server configured here,
/// valid for a day (the dev issuer has no refresh tokens).
fn mint_dev_login(
    config_path: Option<&std::path::Path>,
    login: &coffer_cli::DevLogin,
) -> Result<String, coffer_cli::Failure> {
    let usage = |e: Error| coffer_cli::Failure::usage(format!("login --dev: {e}"));
    let config = Config::load(config_path).map_err(|e| usage(e.into()))?;
    let roles = login
        .roles
        .iter()
        .map(|r| r.parse::<Role>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| usage(e.into()))?;
    let tenant = match &login.tenant {
        Some(raw) => Some(
            TenantClaim::parse(raw)
                .ok_or_else(|| usage("--tenant is neither a slug nor an id".into()))?,
        ),
        None => None,
    };
    mint_dev_token(
        &config,
        tenant.as_ref(),
        login.sub.clone(),
        &roles,
        time::Duration::days(1),
    )
    .map_err(usage)
}

/// Run a parsed command line.
///
/// # Errors
/// Whatever the command failed with, to be printed by `main`.
pub async fn run(cli: Cli) -> Result<(), Error> {
    // Client commands talk to a server: they need no server configuration,
    // except `login --dev`, which mints with the embedded server's key.
    match cli.command {
        Command::Client(command) => {
            let config_path = cli.config.clone();
            let mint =
                move |login: &coffer_cli::DevLogin| mint_dev_login(config_path.as_deref(), login);
            return Ok(coffer_cli::run(command, &mint).await?);
        }
        Command::Audit(AuditCommand::List(args)) => return Ok(coffer_cli::audit_list(args).await?),
        _ => {}
    }
    let config = Config::load(cli.config.as_deref())?;
    match cli.command {
        Command::Client(_) | Command::Audit(AuditCommand::List(_)) => Ok(()),
        Command::Serve => serve(config).await,
        Command::Migrate => migrate(&config).await,
        Command::Reap => {
            let wiring = wiring::wire(&config).await?;
            let report = jobs::sweep_once(&wiring)
                .await?
                .ok_or("another instance is sweeping now; try again later")?;
            println!(
                "{} tenant(s): {} upload(s) reaped, {} trashed file(s) purged, \
                 {} interrupted erase(s) finished, {} cancelled tenant(s) purged, {} left for later",
                report.tenants,
                report.reaped,
                report.purged,
                report.erases_finished,
                report.tenants_purged,
                report.failed
            );
            Ok(())
        }
        Command::Reconcile { tenant, repair } => reconcile(&config, tenant, repair).await,
        Command::Token {
            tenant,
            sub,
            roles,
            ttl,
        } => {
            let roles = roles
                .iter()
                .map(|r| r.parse::<Role>())
                .collect::<Result<Vec<_>, _>>()?;
            let tenant = match tenant {
                Some(raw) => {
                    Some(TenantClaim::parse(&raw).ok_or("--tenant is neither a slug nor an id")?)
                }
                None => None,
            };
            let token = mint_dev_token(&config, tenant.as_ref(), sub, &roles, parse_ttl(&ttl)?)?;
            println!("{token}");
            Ok(())
        }
        Command::Audit(AuditCommand::Export {
            tenant,
            since,
            output,
        }) => {
            let meta = wiring::metadata(&config).await?;
            let since = since
                .map(|s| {
                    time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                })
                .transpose()?;
            let tenant = find_tenant(meta.registry.as_ref(), &tenant).await?;
            match output {
                Some(path) => {
                    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
                    export_audit(&meta, tenant, since, &mut out).await
                }
                None => {
                    let mut out = std::io::BufWriter::new(std::io::stdout());
                    export_audit(&meta, tenant, since, &mut out).await
                }
            }
        }
        Command::Audit(AuditCommand::Verify { tenant }) => {
            let meta = wiring::metadata(&config).await?;
            let tenant = find_tenant(meta.registry.as_ref(), &tenant).await?;
            let audit = coffer_service::Audit::new(
                meta.tenant_data.clone(),
                std::sync::Arc::new(coffer_ports::SystemClock),
            );
            match audit.verify_chains(&tenant).await? {
                Ok(chains) => {
                    if chains.is_empty() {
                        println!("tenant {}: the audit log is empty", tenant.slug);
                    }
                    for chain in chains {
                        println!(
                            "tenant {}: chain {} verified: {} entries, head {}",
                            tenant.slug,
                            chain.chain.as_str(),
                            chain.entries,
                            chain.head
                        );
                    }
                    Ok(())
                }
                Err(fault) => Err(format!(
                    "tenant {}: the audit log does not verify: {fault}",
                    tenant.slug
                )
                .into()),
            }
        }
        Command::Config(ConfigCommand::Show) => {
            println!("{config:#?}");
            Ok(())
        }
        Command::Tenant(TenantCommand::Create {
            slug,
            plan,
            region,
            name,
            admin,
            bucket,
            dedicated_database,
            dedicated_schema,
        }) => {
            let wiring = wiring::wire(&config).await?;
            let slug = TenantSlug::new(slug)?;
            let request = coffer_service::CreateTenant {
                display_name: name.unwrap_or_else(|| slug.to_string()),
                slug,
                plan: plan.parse::<Plan>()?,
                region: Region::new(region)?,
                limit_overrides: LimitOverrides::default(),
                dedicated_bucket: bucket.map(coffer_domain::BucketName::new).transpose()?,
                dedicated_database,
                dedicated_schema,
                admin_subject: admin.map(Subject::new).transpose()?,
            };
            let created = wiring
                .coffer
                .onboarder()
                .create_tenant_as_operator(request, "cli")
                .await?;
            // The steps run here, as a worker would run them: the command
            // ends with the tenant active (or the step's error).
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
            let tenant = loop {
                if let Some(tenant) = wiring.coffer.onboarder().onboard_now(created.id).await? {
                    break tenant;
                }
                if std::time::Instant::now() > deadline {
                    return Err(
                        "the onboarding is still running; see GET /api/v1/tenants/{id}".into(),
                    );
                }
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            };
            println!("{} {}", tenant.id, tenant.slug);
            Ok(())
        }
    }
}

/// A tenant by slug or id.
async fn find_tenant(
    registry: &dyn coffer_ports::TenantRegistry,
    key: &str,
) -> Result<coffer_domain::Tenant, Error> {
    Ok(match uuid::Uuid::parse_str(key) {
        Ok(id) => registry.get_tenant(TenantId::from_uuid(id)).await?,
        Err(_) => registry.find_tenant_by_slug(&TenantSlug::new(key)?).await?,
    })
}

/// Writes every chained audit record of `tenant` (from `since`) as one JSON
/// object per line, chain by chain, oldest first, paging through the log so
/// memory stays flat. The export is itself on record (`audit.exported`).
pub async fn export_audit(
    meta: &coffer_ports::MetadataPorts,
    tenant: coffer_domain::Tenant,
    since: Option<time::OffsetDateTime>,
    out: &mut (impl std::io::Write + Send),
) -> Result<(), Error> {
    let audit = coffer_service::Audit::new(
        meta.tenant_data.clone(),
        std::sync::Arc::new(coffer_ports::SystemClock),
    );
    let mut failed = None;
    audit
        .export_chains(&tenant, since, |entry| {
            let written = serde_json::to_writer(&mut *out, entry)
                .map_err(std::io::Error::from)
                .and_then(|()| out.write_all(b"\n"));
            match written {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            }
        })
        .await?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    out.flush()?;
    Ok(())
}

async fn serve(config: Config) -> Result<(), Error> {
    let telemetry = telemetry::init(config.server.json_logs)?;
    let served = run_server(config).await;
    // After the server stopped: the last request spans go out too.
    telemetry.shutdown();
    served
}

async fn run_server(config: Config) -> Result<(), Error> {
    let wiring = wiring::wire(&config).await?;
    let listener = TcpListener::bind(config.server.listen)?;
    let running = server::start(&config, &wiring, listener)?;
    let _jobs = jobs::spawn(&config, &wiring, &running.metrics);
    let url = config.public_url();
    println!(
        "coffer listening on http://{} (public URL {url})",
        running.addr
    );
    if config.is_embedded() {
        println!(
            "running on embedded defaults: SQLite, objects and dev-issuer key in {}",
            config.data_dir.display()
        );
        if !config.bootstrap.tenant.is_empty() {
            println!(
                "mint a token:  cargo run -p coffer-server -- token --tenant {} --sub alice --role editor",
                config.bootstrap.tenant
            );
        }
    }
    println!("API reference: {url}/docs/  (OpenAPI: {url}/api/v1/openapi.json)");
    if let Some(metrics) = running.metrics_addr {
        println!("metrics: http://{metrics}/metrics");
    }
    running.server.await?;
    Ok(())
}

/// `coffer reconcile`: one run under the reconcile lock, and its summary.
async fn reconcile(config: &Config, tenant: Option<String>, repair: bool) -> Result<(), Error> {
    let wiring = wiring::wire(config).await?;
    let tenant = match tenant {
        Some(slug) => Some(
            wiring
                .meta
                .registry
                .find_tenant_by_slug(&TenantSlug::new(slug)?)
                .await?
                .id,
        ),
        None => None,
    };
    let run = jobs::ReconcileRun {
        tenant,
        repair,
        grace: std::time::Duration::from_secs(config.jobs.reconcile_grace_secs),
    };
    let r = jobs::reconcile_once(&wiring, run, None)
        .await?
        .ok_or("another instance is reconciling now; try again later")?;
    println!(
        "{} tenant(s): {} object(s) and {} row(s) scanned",
        r.tenants, r.objects_scanned, r.rows_scanned
    );
    println!(
        "orphan objects: {} found, {} deleted",
        r.orphans_found, r.orphans_deleted
    );
    println!(
        "rows missing their object: {} found, {} marked",
        r.missing_found, r.missing_marked
    );
    println!(
        "interrupted erases: {} found, {} finished",
        r.erases_found, r.erases_finished
    );
    if r.failed > 0 {
        println!("{} repair(s) failed (see the log); run again", r.failed);
    }
    if !repair && r.orphans_found + r.missing_found + r.erases_found > 0 {
        println!("report only: run with --repair to fix");
    }
    Ok(())
}

/// What `coffer migrate` did: the shared database's migrations applied,
/// and each dedicated database's outcome (oldest tenant first).
#[derive(Debug, Default)]
pub struct MigrateReport {
    pub shared: Vec<String>,
    /// Each region's shared database (`[metadata.regions]`), in name order.
    pub regions: Vec<RegionMigration>,
    pub dedicated: Vec<DedicatedMigration>,
}

/// One regional shared database's migration.
#[derive(Debug)]
pub struct RegionMigration {
    pub region: coffer_domain::Region,
    /// The versions applied, or why it failed.
    pub outcome: Result<Vec<String>, String>,
}

/// One dedicated database's migration.
#[derive(Debug)]
pub struct DedicatedMigration {
    pub tenant: coffer_domain::TenantSlug,
    pub database: String,
    /// The versions applied, or why it failed.
    pub outcome: Result<Vec<String>, String>,
}

impl MigrateReport {
    pub fn failures(&self) -> usize {
        self.dedicated.iter().filter(|d| d.outcome.is_err()).count()
            + self.regions.iter().filter(|r| r.outcome.is_err()).count()
    }
}

async fn migrate(config: &Config) -> Result<(), Error> {
    let report = migrate_all(config).await?;
    if config.metadata.backend == MetadataBackend::Sqlite {
        println!("migrated {}", config.sqlite_path().display());
        return Ok(());
    }
    println!(
        "shared database: applied {} migration(s)",
        report.shared.len()
    );
    for name in &report.shared {
        println!("  {name}");
    }
    for r in &report.regions {
        match &r.outcome {
            Ok(applied) => println!(
                "region {} database: applied {} migration(s)",
                r.region,
                applied.len()
            ),
            Err(e) => println!("region {} database: FAILED: {e}", r.region),
        }
    }
    for d in &report.dedicated {
        match &d.outcome {
            Ok(applied) => println!(
                "tenant {} ({}): applied {} migration(s)",
                d.tenant,
                d.database,
                applied.len()
            ),
            Err(e) => println!("tenant {} ({}): FAILED: {e}", d.tenant, d.database),
        }
    }
    match report.failures() {
        0 => Ok(()),
        failed => Err(format!(
            "{failed} of {} regional database(s), dedicated database(s) and schema(s) failed to migrate",
            report.regions.len() + report.dedicated.len()
        )
        .into()),
    }
}

/// Migrate the shared database, then every tenant's dedicated database or
/// schema one after the other, going on past a failure (each is in the report).
///
/// # Errors
/// The shared database failing to migrate, or the tenants not being listed.
pub async fn migrate_all(config: &Config) -> Result<MigrateReport, Error> {
    match config.metadata.backend {
        MetadataBackend::Sqlite => {
            // Opening the embedded database applies its migrations.
            wiring::metadata(config).await?;
            Ok(MigrateReport::default())
        }
        MetadataBackend::Postgres => {
            let owner = config
                .metadata
                .migration_url
                .as_ref()
                .or(config.metadata.url.as_ref())
                .ok_or("metadata.migration_url is required")?;
            let shared = coffer_postgres::migrate_with(
                owner.expose_secret(),
                wiring::migrate_options(config),
            )
            .await?;
            let url = config
                .metadata
                .url
                .as_ref()
                .ok_or("metadata.url is required to find the dedicated databases")?;
            let registry = coffer_postgres::PgMetadataStore::connect_with(
                url.expose_secret(),
                config.pool_options(),
            )?;
            let router = coffer_postgres::DatabaseRouter::new(registry, wiring::dedicated(config)?)
                .with_schemas(wiring::schemas(config)?)
                .with_regions(wiring::regional_databases(config)?);
            // The regions' tables first: a tenant schema there is migrated
            // after the database it lives in.
            let regions = router
                .migrate_regions(&wiring::migrate_options(config))
                .await
                .into_iter()
                .map(|(region, outcome)| RegionMigration {
                    region,
                    outcome: outcome.map_err(|e| e.to_string()),
                })
                .collect();
            let dedicated = router
                .migrate_dedicated()
                .await?
                .into_iter()
                .map(|(tenant, outcome)| DedicatedMigration {
                    database: tenant
                        .dedicated_database
                        .or_else(|| tenant.dedicated_schema.map(|s| format!("schema {s}")))
                        .unwrap_or_default(),
                    tenant: tenant.slug,
                    outcome: outcome.map_err(|e| e.to_string()),
                })
                .collect();
            Ok(MigrateReport {
                shared,
                regions,
                dedicated,
            })
        }
    }
}

/// `30m`, `1h`, `7d`, `90s` or plain seconds.
fn parse_ttl(raw: &str) -> Result<time::Duration, Error> {
    let raw = raw.trim();
    let (number, unit) = raw.split_at(raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len()));
    let n: i64 = number.parse().map_err(|_| format!("bad --ttl {raw:?}"))?;
    let d = match unit {
        "" | "s" => time::Duration::seconds(n),
        "m" => time::Duration::minutes(n),
        "h" => time::Duration::hours(n),
        "d" => time::Duration::days(n),
        _ => return Err(format!("bad --ttl unit in {raw:?}; use s, m, h or d").into()),
    };
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("90").ok(), Some(time::Duration::seconds(90)));
        assert_eq!(parse_ttl("30m").ok(), Some(time::Duration::minutes(30)));
        assert_eq!(parse_ttl("1h").ok(), Some(time::Duration::hours(1)));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("h").is_err());
    }
}
