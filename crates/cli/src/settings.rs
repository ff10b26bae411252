//! Where the CLI finds its server, issuer and client: the command line,
//! then `COFFER_SERVER`, `COFFER_ISSUER`, `COFFER_CLIENT_ID` (and
//! `COFFER_TOKEN`), then `client.toml` in the XDG config directory
//! (`$XDG_CONFIG_HOME/coffer`, else `~/.config/coffer`), which `coffer
//! login` writes.

use std::path::PathBuf;

use etcetera::BaseStrategy as _;
use serde::Deserialize;

use crate::exit::Failure;

/// The OAuth client the CLI signs in as unless told otherwise (a public
/// Keycloak client with the device grant on: docs/keycloak.md).
pub const DEFAULT_CLIENT_ID: &str = "coffer-cli";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Settings {
    pub server: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// A bearer token to use as it is (`COFFER_TOKEN`), instead of a login.
    pub token: Option<String>,
    /// Tries per idempotent request on `503` or a lost connection
    /// (`COFFER_RETRIES`, default 5).
    pub retries: Option<u32>,
}

/// The CLI's directories.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config: PathBuf,
    pub state: PathBuf,
}

impl Dirs {
    /// # Errors
    /// A usage failure when no home directory can be found.
    pub fn locate() -> Result<Self, Failure> {
        let base = etcetera::choose_base_strategy()
            .map_err(|e| Failure::usage(format!("no home directory: {e}")))?;
        let config = base.config_dir().join("coffer");
        let state = base
            .state_dir()
            .unwrap_or_else(|| base.data_dir())
            .join("coffer");
        Ok(Self { config, state })
    }

    pub fn settings_file(&self) -> PathBuf {
        self.config.join("client.toml")
    }
}

impl Settings {
    /// The file's settings under the environment's.
    ///
    /// # Errors
    /// A usage failure for a file that does not parse.
    pub fn load(dirs: &Dirs) -> Result<Self, Failure> {
        let file = dirs.settings_file();
        config::Config::builder()
            .add_source(
                config::File::from(file.clone())
                    .required(false)
                    .format(config::FileFormat::Toml),
            )
            // COFFER_SERVER, COFFER_CLIENT_ID, …: one underscore, where the
            // server's own settings take two (COFFER__SERVER__LISTEN).
            .add_source(config::Environment::with_prefix("COFFER").prefix_separator("_"))
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| Failure::usage(format!("{}: {e}", file.display())))
    }

    /// Writes the server, issuer and client to `client.toml`.
    ///
    /// # Errors
    /// A local I/O failure.
    pub fn save(&self, dirs: &Dirs) -> Result<(), Failure> {
        let mut text =
            String::from("# Written by `coffer login`; COFFER_… variables override it.\n");
        for (key, value) in [
            ("server", &self.server),
            ("issuer", &self.issuer),
            ("client_id", &self.client_id),
        ] {
            if let Some(value) = value {
                // A JSON string is a TOML basic string.
                let quoted = serde_json::to_string(value).unwrap_or_default();
                text.push_str(&format!("{key} = {quoted}\n"));
            }
        }
        crate::files::write_private(&dirs.settings_file(), text.as_bytes())
    }
}
