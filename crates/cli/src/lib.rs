//! The client commands of the `coffer` binary: sign in, then list, copy,
//! move, delete, restore, inspect and share files, and read the audit log
//! — all through [`coffer_client`], so the bytes go straight between this
//! machine and the store.
//!
//! They live in the one `coffer` binary beside the server's commands: one
//! thing to install, and `coffer login --dev` on a developer's machine
//! mints its token with the embedded server's own key (the server crate
//! passes that in as a [`DevMinter`]). Exit codes are per failure class
//! ([`exit::code`], docs/client.md).

mod address;
mod commands;
pub mod exit;
mod files;
mod links;
mod login_store;
mod progress;
mod requests;
mod resume;
mod settings;
mod transfer;

use clap::{Args, Subcommand};

pub use exit::Failure;

/// `coffer login --dev`'s request: a dev token for this tenant, user and roles.
#[derive(Debug, Clone)]
pub struct DevLogin {
    pub tenant: Option<String>,
    pub sub: String,
    pub roles: Vec<String>,
}

/// Mints a dev token (the embedded server's issuer), as the server crate can.
pub type DevMinter<'a> = &'a (dyn Fn(&DevLogin) -> Result<String, Failure> + Sync);

/// Options every client command takes.
#[derive(Debug, Clone, Args)]
pub struct Common {
    /// The Coffer server (default: COFFER_SERVER, then the login's).
    #[arg(long, global = true)]
    pub server: Option<String>,
    /// Machine-readable output: one JSON object per line.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Sign in: the device authorization grant against the issuer (or,
    /// with --dev, a dev token of the embedded server on this machine).
    Login {
        #[command(flatten)]
        common: Common,
        /// The OpenID Connect issuer (default: COFFER_ISSUER or client.toml).
        #[arg(long)]
        issuer: Option<String>,
        /// The OAuth client (default: COFFER_CLIENT_ID, client.toml, then `coffer-cli`).
        #[arg(long)]
        client_id: Option<String>,
        /// Embedded mode: mint a dev token instead (needs --sub and --role).
        #[arg(long)]
        dev: bool,
        /// With --dev: the tenant (slug or id).
        #[arg(long, requires = "dev")]
        tenant: Option<String>,
        /// With --dev: the user.
        #[arg(long, requires = "dev")]
        sub: Option<String>,
        /// With --dev: admin, editor, viewer or platform-admin (repeatable).
        #[arg(long = "role", requires = "dev")]
        roles: Vec<String>,
    },
    /// Forget the stored sign-in.
    Logout {
        #[command(flatten)]
        common: Common,
    },
    /// List a folder (`coffer:/folder/`), or everything below it with -r.
    Ls {
        #[command(flatten)]
        common: Common,
        /// The folder (default coffer:/).
        place: Option<String>,
        /// Include every folder below.
        #[arg(short, long)]
        recursive: bool,
        /// Filename contains (case-insensitive).
        #[arg(long)]
        q: Option<String>,
        /// `available` (default), `pending`, `scanning`, `quarantined` or `deleted`.
        #[arg(long)]
        status: Option<String>,
    },
    /// Copy files up (local → coffer:) or down (coffer: → local).
    Cp {
        #[command(flatten)]
        common: Common,
        source: String,
        destination: String,
        /// Copy a directory (or a Coffer folder) and everything below it.
        #[arg(short, long)]
        recursive: bool,
        /// Parts sent at once for large files.
        #[arg(long, default_value_t = coffer_client::DEFAULT_PARALLELISM)]
        parallel: usize,
    },
    /// Rename or move a file within Coffer.
    Mv {
        #[command(flatten)]
        common: Common,
        source: String,
        destination: String,
    },
    /// Move a file to the trash (or erase it with --permanent).
    Rm {
        #[command(flatten)]
        common: Common,
        place: String,
        #[arg(long)]
        permanent: bool,
    },
    /// Bring a file back from the trash.
    Restore {
        #[command(flatten)]
        common: Common,
        place: String,
    },
    /// Show a file's metadata.
    Info {
        #[command(flatten)]
        common: Common,
        place: String,
    },
    /// Give a member (`user:<sub>`) or a role (`role:<name>`) access to a file.
    Share {
        #[command(flatten)]
        common: Common,
        place: String,
        /// `user:<sub>` or `role:<name>`.
        #[arg(long = "with")]
        subject: String,
        /// read, write or manage.
        #[arg(long, default_value = "read")]
        access: String,
        /// Until when (RFC 3339); default: no end.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Share a file with people outside the tenant: its share links.
    Link {
        #[command(subcommand)]
        action: LinkCommand,
    },
    /// Ask people outside the tenant for files: upload requests.
    Request {
        #[command(subcommand)]
        action: RequestCommand,
    },
}

/// `coffer request …`: upload requests (docs/sharing.md).
#[derive(Debug, Clone, Subcommand)]
pub enum RequestCommand {
    /// Make a request for a folder and print its URL (shown this once:
    /// Coffer keeps no copy).
    Create {
        #[command(flatten)]
        common: Common,
        /// The folder the files go to (`coffer:/clients/acme/`).
        folder: String,
        /// How long it lasts (`30m`, `12h`, `7d`; at most `365d`) or until
        /// when (RFC 3339).
        #[arg(long)]
        expires: String,
        /// At most this many files (1 to 1000).
        #[arg(long)]
        max_files: u32,
        /// The largest file, in bytes.
        #[arg(long)]
        max_size: u64,
        /// A content type it takes (repeat for more); none: any.
        #[arg(long = "type")]
        types: Vec<String>,
        /// Shown on the request's page.
        #[arg(long)]
        message: Option<String>,
    },
    /// List your requests (a tenant admin: all the tenant's).
    Ls {
        #[command(flatten)]
        common: Common,
    },
    /// Close a request at once.
    Close {
        #[command(flatten)]
        common: Common,
        /// The request's id (from `coffer request ls`).
        id: String,
    },
}

/// `coffer link …`: a file's share links (docs/sharing.md).
#[derive(Debug, Clone, Subcommand)]
pub enum LinkCommand {
    /// Make a link and print its URL (shown this once: Coffer keeps no copy).
    Create {
        #[command(flatten)]
        common: Common,
        place: String,
        /// How long it lasts (`30m`, `12h`, `7d`; at most `365d`) or until
        /// when (RFC 3339).
        #[arg(long)]
        expires: String,
        /// At most this many downloads.
        #[arg(long)]
        max_downloads: Option<u32>,
        /// Read a password for the link from the first line of stdin (never
        /// from the command line, where shells and `ps` keep it).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List a file's links (revoked and expired ones too).
    Ls {
        #[command(flatten)]
        common: Common,
        place: String,
    },
    /// Revoke a link at once.
    Revoke {
        #[command(flatten)]
        common: Common,
        place: String,
        /// The link's id (from `coffer link ls`).
        link: String,
    },
}

/// `coffer audit list`: the tenant's audit log, newest first (tenant admins).
#[derive(Debug, Clone, Args)]
pub struct AuditList {
    #[command(flatten)]
    pub common: Common,
    /// Only this file's entries.
    #[arg(long)]
    pub file: Option<String>,
    #[arg(long)]
    pub action: Option<String>,
    #[arg(long)]
    pub actor: Option<String>,
    /// At most this many entries.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// Runs a client command.
///
/// # Errors
/// The [`Failure`] to print, with its exit code.
pub async fn run(command: ClientCommand, dev: DevMinter<'_>) -> Result<(), Failure> {
    commands::run(command, dev).await
}

/// Runs `coffer audit list` (the server's `audit` command holds it beside
/// its own `export` and `verify`).
///
/// # Errors
/// The [`Failure`] to print, with its exit code.
pub async fn audit_list(args: AuditList) -> Result<(), Failure> {
    commands::audit_list(args).await
}
