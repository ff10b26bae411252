use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use coffer_clamav::{ClamdAddress, ClamdConfig, ClamdScanner};
use coffer_ports::{ByteStream, ScanError, ScanErrorKind, Scanner};

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

/// The start of a PDF: bytes a scanner must let through.
pub const PDF_LIKE: &[u8] =
    b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n";

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: start the test clamd with \
             `scripts/services/clamd.sh start && source .test-services/clamd.env`"
        )
    })
}

/// The shared clamd over TCP.
pub fn tcp_address() -> ClamdAddress {
    format!("tcp://{}", var("COFFER_TEST_CLAMD_TCP"))
        .parse()
        .unwrap()
}

/// The shared clamd over its Unix socket.
pub fn unix_address() -> ClamdAddress {
    format!("unix://{}", var("COFFER_TEST_CLAMD_SOCKET"))
        .parse()
        .unwrap()
}

pub fn scanner(address: ClamdAddress) -> ClamdScanner {
    ClamdScanner::new(ClamdConfig::new(address))
}

/// A scanner whose every wait is `timeout`, for tests of clamds that hang.
pub fn impatient_scanner(address: ClamdAddress, timeout: Duration) -> ClamdScanner {
    ClamdScanner::new(ClamdConfig {
        connect_timeout: timeout,
        read_timeout: timeout,
        ready_timeout: timeout,
        ..ClamdConfig::new(address)
    })
}

pub fn body<I>(chunks: I) -> ByteStream
where
    I: IntoIterator<Item = Bytes>,
    I::IntoIter: Send + 'static,
{
    Box::pin(futures::stream::iter(chunks.into_iter().map(Ok)))
}

pub fn one_chunk(bytes: &'static [u8]) -> ByteStream {
    body([Bytes::from_static(bytes)])
}

/// `total` bytes of a repeating, clean pattern in chunks of `chunk` bytes.
pub fn clean_chunks(total: usize, chunk: usize) -> Vec<Bytes> {
    let pattern: Vec<u8> = (0..total).map(|i| b"coffer "[i % 7]).collect();
    Bytes::from(pattern)
        .chunks(chunk)
        .map(Bytes::copy_from_slice)
        .collect()
}

/// The kind of a call that must fail.
pub fn kind<T: std::fmt::Debug>(result: Result<T, ScanError>) -> ScanErrorKind {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.kind(),
    }
}

/// A port on 127.0.0.1 that nothing listens on (it was free a moment ago).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A clamd of one test's own, started through the same script (and so the
/// same configuration and database) as the shared one, in its own
/// directory, on its own port and socket.
pub struct OwnClamd {
    dir: tempfile::TempDir,
    port: u16,
    stream_max_length: String,
    child: Option<Child>,
}

impl OwnClamd {
    pub async fn start(stream_max_length: &str) -> Self {
        // The shared peer's variables show that the script installed clamd.
        var("COFFER_TEST_CLAMD_TCP");
        let mut clamd = Self {
            dir: tempfile::tempdir().unwrap(),
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
            .unwrap();
        let child = Command::new("bash")
            .arg(script)
            .arg("run")
            .arg(self.dir.path())
            .arg(self.port.to_string())
            .arg(&self.stream_max_length)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let probe = impatient_scanner(self.tcp(), Duration::from_secs(1));
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = probe.check_ready().await {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
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
        let mut child = self.child.take().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
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

/// A body that yields `chunks`, then fails as a client that went away.
pub fn failing_body(chunks: Vec<Bytes>) -> ByteStream {
    let items = chunks.into_iter().map(Ok).chain([Err(io::Error::new(
        io::ErrorKind::ConnectionReset,
        "the client went away",
    ))]);
    Box::pin(futures::stream::iter(items))
}

/// A scanner over a trait object, as the service will hold it.
pub fn shared(scanner: ClamdScanner) -> std::sync::Arc<dyn Scanner> {
    std::sync::Arc::new(scanner)
}
