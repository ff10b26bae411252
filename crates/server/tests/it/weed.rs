//! SeaweedFS instances of a test's own, beside the shared peer: stores to
//! stop, freeze and restart (faults.rs) or a second region's endpoint
//! (regions.rs).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

/// Port bases of the tests' own SeaweedFS instances (10 ports each, see
/// scripts/services/seaweedfs.sh), clear of the shared peer (27400…) and
/// the OIDC issuer (28470), and of each other: tests run in parallel.
pub const STOPPED_WEED_BASE: u16 = 28100;
pub const FROZEN_WEED_BASE: u16 = 28120;
pub const EU_WEST_WEED_BASE: u16 = 28140;
pub const SHORT_SESSIONS_WEED_BASE: u16 = 28160;
pub const MOVED_REGION_WEED_BASE: u16 = 28180;

/// A `weed mini` of one test's own, started through the same script (and
/// so the same flags) as the shared peer, on its own data directory.
pub struct Weed {
    dir: tempfile::TempDir,
    base: u16,
    pub secret: String,
    child: Option<Child>,
    /// Extra environment of the script (`SEAWEEDFS_STS_MAX_SESSION`).
    env: Vec<(&'static str, String)>,
}

impl Weed {
    pub async fn start(base: u16) -> Self {
        Self::start_with(base, Vec::new()).await
    }

    /// Start with extra environment for the script.
    pub async fn start_with(base: u16, env: Vec<(&'static str, String)>) -> Self {
        let mut weed = Self {
            dir: tempfile::tempdir().unwrap(),
            base,
            secret: uuid::Uuid::new_v4().simple().to_string(),
            child: None,
            env,
        };
        weed.spawn().await;
        weed
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.base)
    }

    /// Settings that point a production-mode server at this store.
    pub fn settings(&self) -> Vec<(&'static str, String)> {
        vec![
            ("COFFER__STORAGE__S3__ENDPOINT", self.endpoint()),
            // The script's identities file names this key id.
            (
                "COFFER__STORAGE__S3__ACCESS_KEY_ID",
                "coffer-test".to_owned(),
            ),
            (
                "COFFER__STORAGE__S3__SECRET_ACCESS_KEY",
                self.secret.clone(),
            ),
        ]
    }

    /// (Re)start on the same data directory and wait until it serves.
    pub async fn spawn(&mut self) {
        assert!(self.child.is_none(), "weed already running");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/services/seaweedfs.sh"
        );
        let weed_bin = std::env::var("COFFER_TEST_WEED_BIN").unwrap_or_else(|_| {
            panic!("COFFER_TEST_WEED_BIN is not set: run the tests through scripts/test.sh")
        });
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("weed.log"))
            .unwrap();
        let child = Command::new("bash")
            .arg(script)
            .arg("run")
            .arg(self.dir.path())
            .arg(self.base.to_string())
            .env("COFFER_TEST_WEED_BIN", weed_bin)
            .env("SEAWEEDFS_SECRET_KEY", &self.secret)
            .envs(self.env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_ready().await;
    }

    /// As the script's `start` does: the S3 port opens before the filer
    /// behind it is usable; an anonymous `ListBuckets` answers 403 once
    /// the whole chain is up.
    pub async fn wait_ready(&mut self) {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("weed exited ({status}): {}", self.log());
            }
            if let Ok(response) = http.get(self.endpoint()).send().await
                && response.status() == StatusCode::FORBIDDEN
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "weed not ready after 60 s: {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("weed.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// Send `signal` (`STOP`, `CONT`, `TERM`…) to this weed, and only to it.
    pub fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().unwrap().id();
        let status = Command::new("kill")
            .args(["-s", signal, &pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill -s {signal} {pid} failed");
    }

    /// Kill it (SIGKILL: a crash, no clean shutdown) and reap it.
    pub async fn crash(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "weed survived SIGKILL");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Weed {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SIGKILL ends a stopped process too.
            drop(child.kill());
            drop(child.wait());
        }
    }
}
