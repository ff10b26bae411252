//! The signed-in session: `tokens.json` in the config directory, mode 0600.

use std::sync::Arc;

use coffer_client::{RefreshingToken, StaticToken, TokenSource, Tokens};
use serde::{Deserialize, Serialize};

use crate::exit::{Failure, code};
use crate::settings::Dirs;

/// What `coffer login` stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Login {
    pub server: String,
    /// `None` for a dev token of an embedded server (nothing to refresh).
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub tokens: Tokens,
}

impl Login {
    fn file(dirs: &Dirs) -> std::path::PathBuf {
        dirs.config.join("tokens.json")
    }

    /// The stored login, if any.
    pub fn load(dirs: &Dirs) -> Result<Option<Self>, Failure> {
        let file = Self::file(dirs);
        match std::fs::read(&file) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Failure::with(
                    code::AUTH,
                    format!("{}: {e}; run `coffer login` again", file.display()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Failure::with(
                code::LOCAL_IO,
                format!("{}: {e}", file.display()),
            )),
        }
    }

    pub fn save(&self, dirs: &Dirs) -> Result<(), Failure> {
        let json = serde_json::to_vec_pretty(self)
            .map_err(|e| Failure::with(code::OTHER, e.to_string()))?;
        crate::files::write_private(&Self::file(dirs), &json)
    }

    /// Forgets the login; `true` when there was one.
    pub fn remove(dirs: &Dirs) -> Result<bool, Failure> {
        let file = Self::file(dirs);
        match std::fs::remove_file(&file) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Failure::with(
                code::LOCAL_IO,
                format!("{}: {e}", file.display()),
            )),
        }
    }

    /// The token source for this login: refreshed (and stored again) when
    /// an issuer can renew it.
    pub fn token_source(self, dirs: &Dirs) -> Arc<dyn TokenSource> {
        match (self.issuer.clone(), self.client_id.clone()) {
            (Some(issuer), Some(client_id)) => {
                let dirs = dirs.clone();
                let saved = self.clone();
                Arc::new(
                    RefreshingToken::lazy(issuer, client_id, self.tokens).on_refresh(
                        move |tokens| {
                            let renewed = Login {
                                tokens: tokens.clone(),
                                ..saved.clone()
                            };
                            // A login that cannot be stored still serves this run.
                            if let Err(e) = renewed.save(&dirs) {
                                eprintln!("coffer: the renewed sign-in was not stored: {e}");
                            }
                        },
                    ),
                )
            }
            _ => Arc::new(StaticToken::new(self.tokens.access_token)),
        }
    }
}
