//! clamd for tests of this and other crates (feature `testing`): the
//! shared test clamd that `scripts/services/clamd.sh start` runs, the EICAR
//! test file its database detects, and [`OwnClamd`], a clamd of one test's
//! own that it can kill and start again.
#![expect(
    clippy::expect_used,
    reason = "a test harness that cannot do its job fails the test using it"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use coffer_ports::Scanner as _;

use crate::{ClamdAddress, ClamdConfig, ClamdScanner};

/// The variable that `.test-services/clamd.env` sets: the shared clamd's
/// `127.0.0.1:PORT`.
pub const TCP_VAR: &str = "COFFER_TEST_CLAMD_TCP";

/// The signature scripts/services/clamd.sh puts in its database; clamd
/// adds `.UNOFFICIAL` to names from an unsigned database.
pub const EICAR_SIGNATURE: &str = "Eicar-Test-Signature.UNOFFICIAL";

/// The EICAR test file (68 bytes), built from two halves so that this
/// source file is not itself the test file to a scanner.
pub const EICAR: &[u8] = concat!(
    r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD",
    r"-ANTIVIRUS-TEST-FILE!$H+H*"
)
.as_bytes();

/// The value of a variable the test peers' env files set.
///
/// # Panics
/// When it is not set: the test clamd was not started.
pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the test clamd with \
             `scripts/services/clamd.sh start && source .test-services/clamd.env`"
        )
    })
}

/// The shared clamd over TCP, as `[scanning] clamd` takes it
/// (`tcp://127.0.0.1:PORT`).
pub fn shared_tcp_url() -> String {
    format!("tcp://{}", var(TCP_VAR))
}

/// A port on 127.0.0.1 that nothing listens on (it was free a moment ago).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port on 127.0.0.1")
        .port()
}

/// A clamd of one test's own, started through the same script (and so the
/// same configuration and database) as the shared one, in its own
/// directory, on its own port and socket. Dropping it kills it.
#[derive(Debug)]
pub struct OwnClamd {
    dir: tempfile::TempDir,
    port: u16,
    stream_max_length: String,
    child: Option<Child>,
}

impl OwnClamd {
    /// Start one whose `StreamMaxLength` is `stream_max_length` (`"100M"`),
    /// and wait until it answers `PING`.
    pub async fn start(stream_max_length: &str) -> Self {
        // The shared peer's variables show that the script installed clamd.
        var(TCP_VAR);
        let mut clamd = Self {
            dir: tempfile::tempdir().expect("a directory for clamd"),
            port: free_port(),
            stream_max_length: stream_max_length.to_owned(),
            child: None,
        };
        clamd.spawn().await;
        clamd
    }

    pub fn tcp(&self) -> ClamdAddress {
        ClamdAddress::Tcp {
            host: "127.0.0.1".to_owned(),
            port: self.port,
        }
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("clamd.sock")
    }

    /// (Re)start on the same directory and port; wait until it answers PING.
    pub async fn spawn(&mut self) {
        assert!(self.child.is_none(), "clamd already running");
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../scripts/services/clamd.sh"
        );
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("clamd's run log");
        let child = Command::new("bash")
            .arg(script)
            .arg("run")
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .arg(&self.stream_max_length)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clamd's run log"))
            .stderr(log)
            .spawn()
            .expect("clamd.sh run");
        self.child = Some(child);
        let probe = ClamdScanner::new(ClamdConfig {
            connect_timeout: Duration::from_secs(1),
            read_timeout: Duration::from_secs(1),
            ready_timeout: Duration::from_secs(1),
            ..ClamdConfig::new(self.tcp())
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = probe.check_ready().await {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("clamd exited ({status}): {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "clamd not ready after 30 s ({e}): {}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Kill it (SIGKILL: a crash) and reap it.
    pub fn crash(&mut self) {
        let mut child = self.child.take().expect("clamd is running");
        child.kill().expect("killing clamd");
        child.wait().expect("reaping clamd");
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("run.log")
    }

    fn log(&self) -> String {
        let mut text = String::new();
        for file in [self.log_path(), self.dir.path().join("clamd.log")] {
            text.push_str(&tail(&file));
        }
        text
    }
}

fn tail(file: &Path) -> String {
    let log = std::fs::read_to_string(file).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n") + "\n"
}

impl Drop for OwnClamd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            drop(child.kill());
            drop(child.wait());
        }
    }
}
