//! The client CLI (`coffer cp`, `ls`, …) as a person runs it: the real
//! `coffer` binary in a process of its own, with its own XDG directories,
//! against a real server — bytes through the store and back, memory
//! measured from outside, interrupted uploads resumed, failures mapped to
//! exit codes.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use bytes::Bytes;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::Digest as _;
use tokio::process::Command;

use crate::integrity::tenant_id;
use crate::journey::in_both_modes;
use crate::support::*;

const MIB: u64 = 1024 * 1024;
/// The server's multipart part size (`uploads.multipart_part_size`).
const PART: u64 = 16 * MIB;
/// What the CLI may hold, whatever the file's size: a 200 MiB transfer
/// that buffered its file could not stay under it.
const MAX_CLI_RSS_KIB: u64 = 64 * 1024;

/// The `coffer` binary with a home of its own, pointed at `server`.
pub(crate) struct Cli {
    home: tempfile::TempDir,
    server: String,
    token: Option<String>,
    vars: Vec<(String, String)>,
}

impl Cli {
    pub(crate) fn new(server: &TestServer, token: Option<&str>) -> Self {
        Self {
            home: tempfile::tempdir().unwrap(),
            server: server.base.clone(),
            token: token.map(str::to_owned),
            vars: Vec::new(),
        }
    }

    pub(crate) fn with_var(mut self, name: &str, value: &str) -> Self {
        self.vars.push((name.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn dir(&self) -> &Path {
        self.home.path()
    }

    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_coffer"));
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .env("COFFER_SERVER", &self.server)
            .current_dir(self.home.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        if let Some(token) = &self.token {
            command.env("COFFER_TOKEN", token);
        }
        for (name, value) in &self.vars {
            command.env(name, value);
        }
        command
    }

    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().await.unwrap()
    }

    /// Runs and also reports the process's peak resident memory (VmHWM,
    /// sampled from /proc until it exits).
    async fn run_measured(&self, args: &[&str]) -> (Output, u64) {
        let child = self.command(args).spawn().unwrap();
        let status = format!("/proc/{}/status", child.id().unwrap());
        let output = child.wait_with_output();
        tokio::pin!(output);
        let mut peak = 0;
        loop {
            tokio::select! {
                done = &mut output => return (done.unwrap(), peak),
                () = tokio::time::sleep(Duration::from_millis(20)) => {
                    if let Some(hwm) = high_water_kib(&status) {
                        peak = peak.max(hwm);
                    }
                }
            }
        }
    }

    /// Runs with `--json`, expecting success; the JSON lines it printed.
    pub(crate) async fn ok(&self, args: &[&str]) -> Vec<Value> {
        let mut args = args.to_vec();
        if !args.contains(&"--json") {
            args.push("--json");
        }
        json_lines(&success(self.run(&args).await, &args))
    }
}

fn high_water_kib(status_file: &str) -> Option<u64> {
    let status = std::fs::read_to_string(status_file).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub(crate) fn success(output: Output, args: &[&str]) -> Output {
    assert!(
        output.status.success(),
        "coffer {args:?} failed ({:?}): {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub(crate) fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// `size` bytes that compress to nothing like themselves (xorshift).
fn write_pseudo_random(path: &Path, size: u64, seed: u64) {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut state = seed | 1;
    let mut left = size;
    while left > 0 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bytes = state.to_le_bytes();
        let n = left.min(8) as usize;
        out.write_all(&bytes[..n]).unwrap();
        left -= n as u64;
    }
    out.flush().unwrap();
}

fn sha256_file(path: &Path) -> String {
    let mut hasher = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut hasher).unwrap();
    hex::encode(hasher.finalize())
}

/// A tenant that takes files of up to 256 MiB, and an editor's token.
async fn roomy_tenant(server: &TestServer) -> (String, String) {
    let tenant = server
        .tenant(json!({"max_file_size": 256 * MIB, "max_total_bytes": 2048 * MIB}))
        .await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    (tenant, alice)
}

/// A server, an editor of a roomy tenant, and the CLI signed in as them.
async fn editor_cli(mode: Mode) -> (TestServer, String, Cli) {
    let server = TestServer::start(mode).await;
    let (_, alice) = roomy_tenant(&server).await;
    let cli = Cli::new(&server, Some(&alice));
    (server, alice, cli)
}

in_both_modes!(
    cp_round_trips_keep_every_byte_in_bounded_memory,
    an_upload_killed_half_way_resumes_without_resending_stored_parts,
    a_directory_tree_goes_up_and_comes_back_with_its_paths,
    a_checksum_mismatch_on_download_is_reported_and_nothing_is_kept,
    a_download_resumes_from_its_partial_file_and_checks_all_of_it,
    each_failure_class_has_its_exit_code_and_one_line,
    files_are_found_moved_trashed_restored_and_shared_by_path,
    share_links_are_made_listed_and_revoked_by_path,
    upload_requests_are_made_listed_and_closed,
);

async fn cp_round_trips_keep_every_byte_in_bounded_memory(mode: Mode) {
    let (_server, _alice, cli) = editor_cli(mode).await;
    for (name, size) in [
        ("empty.bin", 0),
        ("one.bin", 1),
        ("five.bin", 5 * MIB),
        ("large.bin", 200 * MIB),
    ] {
        let local = cli.dir().join(name);
        write_pseudo_random(&local, size, size + 7);
        let up_args = ["cp", "--json", local.to_str().unwrap(), "coffer:/round/"];
        let (up, up_rss) = cli.run_measured(&up_args).await;
        // Piped: no progress bar, nothing on standard error.
        assert!(
            up.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&up.stderr)
        );
        let report = json_lines(&success(up, &up_args)).remove(0);
        assert_eq!(report["file"]["size"], size, "{report}");
        assert_eq!(report["file"]["status"], "available");
        assert_eq!(report["file"]["checksum_sha256"], sha256_file(&local));
        let parts = report["parts_sent"].as_array().unwrap().len() as u64;
        if size >= PART {
            assert_eq!(parts, size.div_ceil(PART), "{name} goes up in parts");
        } else {
            assert_eq!(parts, 0, "{name} goes up in one PUT");
        }

        let back = cli.dir().join(format!("{name}.back"));
        let remote = format!("coffer:/round/{name}");
        let down_args = ["cp", "--json", remote.as_str(), back.to_str().unwrap()];
        let (down, down_rss) = cli.run_measured(&down_args).await;
        let report = json_lines(&success(down, &down_args)).remove(0);
        assert_eq!(report["bytes_received"], size);
        assert_eq!(std::fs::metadata(&back).unwrap().len(), size);
        assert_eq!(
            sha256_file(&back),
            sha256_file(&local),
            "{name} came back changed"
        );
        if size == 200 * MIB {
            assert!(
                up_rss > 0 && up_rss < MAX_CLI_RSS_KIB,
                "uploading 200 MiB peaked at {up_rss} KiB"
            );
            assert!(
                down_rss > 0 && down_rss < MAX_CLI_RSS_KIB,
                "downloading 200 MiB peaked at {down_rss} KiB"
            );
        }
    }
}

async fn an_upload_killed_half_way_resumes_without_resending_stored_parts(mode: Mode) {
    let (server, alice, cli) = editor_cli(mode).await;
    let local = cli.dir().join("scan.tiff");
    let size = 200 * MIB;
    write_pseudo_random(&local, size, 42);
    let args = [
        "cp",
        "--json",
        "--parallel",
        "1",
        local.to_str().unwrap(),
        "coffer:/resume/",
    ];

    // Killed once the store holds three parts.
    let held = kill_once_stored(&cli, &args, &server, &alice, 3).await;
    // A part whose last bytes were on the wire may still land.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let id_parts = pending_parts(&server, &alice).await.unwrap();
    assert!(held.len() >= 3, "no parts arrived");
    let total = size.div_ceil(PART) as usize;
    assert!(
        id_parts.len() < total,
        "the upload finished before it was killed"
    );
    let complete_parts: Vec<u64> = id_parts
        .iter()
        .filter(|p| p["size"] == PART)
        .map(|p| p["part_number"].as_u64().unwrap())
        .collect();

    // The same command again resumes.
    let report = cli.ok(&args).await.remove(0);
    let resumed: Vec<u64> = report["parts_resumed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    let sent: Vec<u64> = report["parts_sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_u64().unwrap())
        .collect();
    assert_eq!(resumed, complete_parts, "every stored part is kept");
    assert!(
        sent.iter().all(|n| !resumed.contains(n)),
        "stored parts were sent again: {sent:?} / {resumed:?}"
    );
    let mut all: Vec<u64> = resumed.iter().chain(&sent).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (1..=total as u64).collect::<Vec<_>>());
    assert_eq!(report["bytes_sent"], size - PART * resumed.len() as u64);
    assert_eq!(report["file"]["status"], "available");
    assert_eq!(report["file"]["checksum_sha256"], sha256_file(&local));

    let back = cli.dir().join("scan.back");
    cli.ok(&["cp", "coffer:/resume/scan.tiff", back.to_str().unwrap()])
        .await;
    assert_eq!(sha256_file(&back), sha256_file(&local));
}

/// Runs `coffer {args}` (an upload to `/resume`) and kills it once the
/// store holds `parts` of its parts; those parts.
async fn kill_once_stored(
    cli: &Cli,
    args: &[&str],
    server: &TestServer,
    token: &str,
    parts: usize,
) -> Vec<Value> {
    let mut upload = cli.command(args).spawn().unwrap();
    for _ in 0..1500 {
        if let Some(held) = pending_parts(server, token).await
            && held.len() >= parts
        {
            upload.kill().await.unwrap();
            return held;
        }
        assert!(
            upload.try_wait().unwrap().is_none(),
            "the upload ended before it was killed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{parts} parts never arrived");
}

/// The parts the store holds of the pending upload in `/resume`, once it
/// exists. A poll the connection dropped (a pooled keep-alive connection
/// the server closed as it was reused, on a loaded host) is asked again at
/// the next turn.
async fn pending_parts(server: &TestServer, token: &str) -> Option<Vec<Value>> {
    let listed = server
        .req(
            Method::GET,
            "/api/v1/files?path=/resume&status=pending",
            token,
        )
        .send()
        .await
        .ok()?;
    let page = ok_json(listed, StatusCode::OK).await;
    let id = page["items"].get(0)?["id"].as_str()?.to_owned();
    let parts = server
        .req(Method::GET, &format!("/api/v1/files/{id}/parts"), token)
        .send()
        .await
        .ok()?;
    if parts.status() != StatusCode::OK {
        return None;
    }
    let parts: Value = parts.json().await.unwrap();
    Some(parts["parts"].as_array()?.clone())
}

async fn a_directory_tree_goes_up_and_comes_back_with_its_paths(mode: Mode) {
    let (_server, _alice, cli) = editor_cli(mode).await;
    let tree = cli.dir().join("matter");
    let files = [
        "brief.txt",
        "evidence/photo.txt",
        "evidence/2026/march/call.txt",
        "letters/to client.txt",
    ];
    for (i, relative) in files.iter().enumerate() {
        let path = tree.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!("file {i}: {relative}")).unwrap();
    }
    let uploaded = cli
        .ok(&[
            "cp",
            "-r",
            "--json",
            tree.to_str().unwrap(),
            "coffer:/cases/",
        ])
        .await;
    assert_eq!(uploaded.len(), files.len());

    let listed = cli.ok(&["ls", "-r", "--json", "coffer:/cases/"]).await;
    let mut places: Vec<String> = listed
        .iter()
        .map(|f| {
            format!(
                "{}/{}",
                f["path"].as_str().unwrap(),
                f["filename"].as_str().unwrap()
            )
        })
        .collect();
    places.sort();
    let mut expected: Vec<String> = files.iter().map(|f| format!("/cases/matter/{f}")).collect();
    expected.sort();
    assert_eq!(places, expected);
    // Not recursive: the folder alone.
    let top = cli.ok(&["ls", "--json", "coffer:/cases/matter/"]).await;
    assert_eq!(top.len(), 1);
    assert_eq!(top[0]["filename"], "brief.txt");

    let out = cli.dir().join("restored");
    cli.ok(&["cp", "-r", "coffer:/cases/matter/", out.to_str().unwrap()])
        .await;
    for relative in files {
        assert_eq!(
            std::fs::read(out.join("matter").join(relative)).unwrap(),
            std::fs::read(tree.join(relative)).unwrap(),
            "{relative}"
        );
    }
}

async fn a_checksum_mismatch_on_download_is_reported_and_nothing_is_kept(mode: Mode) {
    let (server, alice, cli) = editor_cli(mode).await;
    let local = cli.dir().join("ledger.csv");
    std::fs::write(&local, "date,amount\n2026-12-01,100\n").unwrap();
    let file = cli
        .ok(&["cp", "--json", local.to_str().unwrap(), "coffer:/books/"])
        .await
        .remove(0)["file"]
        .clone();

    // The verified object changed behind Coffer's back (same length).
    let tenant = tenant_id(&server, &alice).await;
    let at = file_location(&server, tenant, &file).await;
    let body: coffer_ports::ByteStream = Box::pin(futures::stream::once(async {
        Ok(Bytes::from_static(b"date,amount\n2026-12-01,999\n"))
    }));
    server
        .wiring
        .store
        .put_stream(&at, &"text/csv".parse().unwrap(), body)
        .await
        .unwrap();

    let dest = cli.dir().join("copy.csv");
    let output = cli
        .run(&["cp", "coffer:/books/ledger.csv", dest.to_str().unwrap()])
        .await;
    assert_eq!(output.status.code(), Some(11), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("checksum mismatch"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(!dest.exists(), "unverified bytes were kept");
    assert!(!cli.dir().join("copy.csv.coffer-partial").exists());
}

async fn a_download_resumes_from_its_partial_file_and_checks_all_of_it(mode: Mode) {
    let (_server, _alice, cli) = editor_cli(mode).await;
    let local = cli.dir().join("minutes.bin");
    write_pseudo_random(&local, 3 * MIB, 5);
    cli.ok(&["cp", local.to_str().unwrap(), "coffer:/board/"])
        .await;
    let bytes = std::fs::read(&local).unwrap();

    // What an interrupted run left: the first MiB, right.
    let dest = cli.dir().join("copy.bin");
    let partial = cli.dir().join("copy.bin.coffer-partial");
    std::fs::write(&partial, &bytes[..MIB as usize]).unwrap();
    let report = cli
        .ok(&["cp", "coffer:/board/minutes.bin", dest.to_str().unwrap()])
        .await
        .remove(0);
    assert_eq!(report["resumed_from"], MIB);
    assert_eq!(report["bytes_received"], 2 * MIB);
    assert_eq!(std::fs::read(&dest).unwrap(), bytes);
    assert!(!partial.exists());

    // A partial file with wrong bytes: the whole is checked, not only the rest.
    let mut wrong = bytes[..MIB as usize].to_vec();
    wrong[10] ^= 0xff;
    std::fs::write(&partial, &wrong).unwrap();
    let again = cli.dir().join("again.bin");
    std::fs::rename(&partial, cli.dir().join("again.bin.coffer-partial")).unwrap();
    let output = cli
        .run(&["cp", "coffer:/board/minutes.bin", again.to_str().unwrap()])
        .await;
    assert_eq!(output.status.code(), Some(11), "{output:?}");
    assert!(!again.exists());
}

async fn each_failure_class_has_its_exit_code_and_one_line(mode: Mode) {
    let server = TestServer::start(mode).await;
    let tenant = server
        .tenant(json!({"max_file_size": 16, "allowed_content_types": ["text/*"]}))
        .await;
    let alice = server.token(Some(&tenant), "alice", &["editor"]).await;
    let viewer = server.token(Some(&tenant), "victor", &["viewer"]).await;
    let cli = Cli::new(&server, Some(&alice));
    let small = cli.dir().join("note.txt");
    std::fs::write(&small, "short").unwrap();
    let big = cli.dir().join("long.txt");
    std::fs::write(&big, "far more than sixteen bytes").unwrap();
    let image = cli.dir().join("pixel.png");
    std::fs::write(&image, b"\x89PNG\r\n\x1a\n").unwrap();
    let small = small.to_str().unwrap();
    cli.ok(&["cp", small, "coffer:/"]).await;

    let unknown = uuid::Uuid::now_v7().to_string();
    let cases: Vec<(Cli, Vec<&str>, i32, &str)> = vec![
        (Cli::new(&server, Some("not-a-token")), vec!["ls"], 3, "401"),
        (
            Cli::new(&server, Some(&viewer)),
            vec!["cp", small, "coffer:/v/"],
            4,
            "403",
        ),
        (
            Cli::new(&server, Some(&alice)),
            vec!["info", &unknown],
            5,
            "404",
        ),
        (
            Cli::new(&server, Some(&alice)),
            vec!["cp", "coffer:/missing.txt", "x"],
            5,
            "no such file",
        ),
        (
            Cli::new(&server, Some(&alice)),
            vec!["cp", big.to_str().unwrap(), "coffer:/"],
            7,
            "413",
        ),
        (
            Cli::new(&server, Some(&alice)),
            vec!["cp", image.to_str().unwrap(), "coffer:/"],
            8,
            "415",
        ),
        (
            Cli::new(&server, Some(&alice)),
            vec!["cp", small, "coffer:/"],
            6,
            "409",
        ),
        (
            Cli::new(&server, Some(&alice)),
            vec![
                "share",
                "coffer:/note.txt",
                "--with",
                "user:bob",
                "--expires",
                "2001-01-01T00:00:00Z",
            ],
            9,
            "422",
        ),
        (
            Cli::new(&server, Some(&alice)),
            vec!["cp", "a", "b"],
            2,
            "one side",
        ),
        (Cli::new(&server, None), vec!["ls"], 3, "not signed in"),
    ];
    for (cli, args, exit, says) in cases {
        let output = cli.run(&args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(exit),
            "coffer {args:?}: {stderr}"
        );
        assert!(stderr.starts_with("coffer: "), "coffer {args:?}: {stderr}");
        assert!(
            stderr.contains(says),
            "coffer {args:?} should say {says}: {stderr}"
        );
        assert_eq!(
            stderr.trim().lines().count(),
            1,
            "coffer {args:?}: {stderr}"
        );
    }
}

async fn files_are_found_moved_trashed_restored_and_shared_by_path(mode: Mode) {
    let server = TestServer::start(mode).await;
    let (tenant, alice) = roomy_tenant(&server).await;
    let admin = server.token(Some(&tenant), "ada", &["admin"]).await;
    let cli = Cli::new(&server, Some(&alice));
    for (dir, text) in [("2025", "old"), ("2026", "new")] {
        let local = cli.dir().join("contract.pdf.txt");
        std::fs::write(&local, text).unwrap();
        cli.ok(&[
            "cp",
            local.to_str().unwrap(),
            &format!("coffer:/legal/{dir}/contract.txt"),
        ])
        .await;
    }
    // By path: the one in that folder, not its namesake.
    let info = cli
        .ok(&["info", "--json", "coffer:/legal/2026/contract.txt"])
        .await
        .remove(0);
    assert_eq!(info["path"], "/legal/2026");
    assert_eq!(info["size"], 3);
    let id = info["id"].as_str().unwrap().to_owned();

    let moved = cli
        .ok(&[
            "mv",
            "--json",
            "coffer:/legal/2026/contract.txt",
            "coffer:/signed/final.txt",
        ])
        .await
        .remove(0);
    assert_eq!(
        (moved["path"].as_str(), moved["filename"].as_str()),
        (Some("/signed"), Some("final.txt"))
    );
    assert_eq!(moved["id"], id.as_str());

    let shared = cli
        .ok(&[
            "share",
            "--json",
            "coffer:/signed/final.txt",
            "--with",
            "user:bob",
            "--access",
            "write",
        ])
        .await
        .remove(0);
    assert_eq!(
        (shared["subject"].as_str(), shared["access"].as_str()),
        (Some("user:bob"), Some("write"))
    );
    let bob = server.token(Some(&tenant), "bob", &["viewer"]).await;
    let as_bob = Cli::new(&server, Some(&bob));
    assert_eq!(
        as_bob.ok(&["info", "--json", &id]).await[0]["filename"],
        "final.txt"
    );

    cli.ok(&["rm", "coffer:/signed/final.txt"]).await;
    let gone = cli.run(&["info", "coffer:/signed/final.txt"]).await;
    assert_eq!(gone.status.code(), Some(5));
    let trash = cli
        .ok(&["ls", "--json", "--status", "deleted", "coffer:/signed/"])
        .await;
    assert_eq!(trash.len(), 1);
    cli.ok(&["restore", "coffer:/signed/final.txt"]).await;
    assert_eq!(
        cli.ok(&["info", "--json", "coffer:/signed/final.txt"])
            .await[0]["status"],
        "available"
    );

    // The audit trail of that file, for an administrator.
    let audit = Cli::new(&server, Some(&admin))
        .ok(&["audit", "list", "--json", "--file", &id])
        .await;
    let actions: Vec<&str> = audit.iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["file.restored", "file.trashed", "grant.added"] {
        assert!(
            actions.iter().any(|a| a == &action),
            "{action} in {actions:?}"
        );
    }
    let denied = cli.run(&["audit", "list"]).await;
    assert_eq!(denied.status.code(), Some(4));
}

#[actix_web::test]
async fn a_store_that_is_down_exits_unavailable_after_retries() {
    let (server, alice, cli) = editor_cli(Mode::Production).await;
    let local = cli.dir().join("archive.tar");
    write_pseudo_random(&local, 3 * PART, 9);
    let args = [
        "cp",
        "--json",
        "--parallel",
        "1",
        local.to_str().unwrap(),
        "coffer:/resume/",
    ];
    // Interrupted after its first part...
    kill_once_stored(&cli, &args, &server, &alice, 1).await;
    // ...and resumed while the store is down: Coffer cannot list the parts.
    let server = server
        .restart_with(&[
            ("COFFER__STORAGE__S3__ENDPOINT", "http://127.0.0.1:9"),
            ("COFFER__STORAGE__ENSURE_BUCKETS", "false"),
        ])
        .await;
    let cli = Cli {
        server: server.base.clone(),
        ..cli
    }
    .with_var("COFFER_RETRIES", "2");
    let output = cli.run(&args).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(10), "{stderr}");
    assert!(
        stderr.starts_with("coffer: ") && stderr.contains("503 storage_unavailable"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}

#[actix_web::test]
async fn login_through_the_device_grant_then_tokens_renew_during_a_transfer() {
    let server = TestServer::start(Mode::Production).await;
    // The issuer's alice belongs to tenant `acme`.
    let created = server
        .create_tenant(&json!({
            "slug": "acme", "display_name": "Acme", "plan": "starter", "region": "eu-west",
            "limit_overrides": {"max_file_size": 256 * MIB},
        }))
        .await;
    server.wait_onboarded(created["id"].as_str().unwrap()).await;
    let issuer = std::env::var("COFFER_TEST_OIDC_ISSUER").unwrap();
    let cli = Cli::new(&server, None);

    // `coffer login` shows where to sign in, then waits.
    let mut login = cli
        .command(&[
            "login",
            "--json",
            "--issuer",
            &issuer,
            "--client-id",
            "coffer-device-short",
        ])
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(login.stdout.take().unwrap());
    let mut first = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut stdout, &mut first)
        .await
        .unwrap();
    let shown: Value = serde_json::from_str(&first).unwrap_or_else(|e| panic!("{first:?}: {e}"));
    sign_in_on_the_issuers_pages(&shown, "alice").await;
    let mut rest = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut rest)
        .await
        .unwrap();
    let status = login.wait().await.unwrap();
    assert!(status.success(), "login failed: {rest}");
    let signed_in: Value = serde_json::from_str(rest.trim()).unwrap();
    assert_eq!(signed_in, json!({"signed_in": true, "tenant": "acme"}));

    // The session is the user's alone.
    let tokens_file = cli.dir().join("config/coffer/tokens.json");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&tokens_file).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
    let settings = std::fs::read_to_string(cli.dir().join("config/coffer/client.toml")).unwrap();
    assert!(
        settings.contains(&issuer) && settings.contains("coffer-device-short"),
        "{settings}"
    );

    // Access tokens live 4 s and are renewed at half that: a transfer of a
    // few seconds renews them while it runs, and never meets a 401.
    let local = cli.dir().join("recording.wav");
    write_pseudo_random(&local, 200 * MIB, 3);
    let started = time::OffsetDateTime::now_utc();
    let report = cli
        .ok(&[
            "cp",
            "--parallel",
            "1",
            local.to_str().unwrap(),
            "coffer:/calls/",
        ])
        .await
        .remove(0);
    let ended = time::OffsetDateTime::now_utc();
    assert_eq!(report["file"]["checksum_sha256"], sha256_file(&local));
    assert_eq!(report["file"]["owner"], "alice");
    let stored: Value = serde_json::from_slice(&std::fs::read(&tokens_file).unwrap()).unwrap();
    let renewed = time::OffsetDateTime::parse(
        stored["tokens"]["issued_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    assert!(
        renewed > started + time::Duration::milliseconds(500) && renewed < ended,
        "the stored tokens were issued at {renewed}, the transfer ran {started} … {ended}"
    );
}

/// What a person does in the browser: opens the page the CLI showed,
/// confirms the code, signs in with the test password.
async fn sign_in_on_the_issuers_pages(shown: &Value, user: &str) {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let page = browser
        .get(shown["verification_uri_complete"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let xsrf = page
        .split("name=\"xsrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no xsrf in {page}"));
    let confirmed = browser
        .post(shown["verification_uri"].as_str().unwrap())
        .form(&[
            ("xsrf", xsrf),
            ("user_code", shown["user_code"].as_str().unwrap()),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    let interaction = confirmed.url().clone();
    assert!(
        interaction.path().contains("/interaction/"),
        "{interaction}"
    );
    let done = browser
        .post(interaction)
        .form(&[("username", user), ("password", "coffer-test-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    assert!(done.text().await.unwrap().contains("Signed in"));
}

#[actix_web::test]
async fn login_dev_signs_in_to_the_embedded_server_on_this_machine() {
    let server = TestServer::start(Mode::Embedded).await;
    let tenant = server.tenant(json!({})).await;
    let data_dir = server.data_dir().display().to_string();
    let cli = Cli::new(&server, None).with_var("COFFER__DATA_DIR", &data_dir);
    let signed_in = cli
        .ok(&[
            "login", "--dev", "--tenant", &tenant, "--sub", "dora", "--role", "editor",
        ])
        .await;
    assert_eq!(signed_in, [json!({"signed_in": true, "tenant": tenant})]);
    let note = cli.dir().join("note.txt");
    std::fs::write(&note, "dev").unwrap();
    let uploaded = cli.ok(&["cp", note.to_str().unwrap(), "coffer:/"]).await;
    assert_eq!(uploaded[0]["file"]["owner"], "dora");

    // Without the server's key there is no dev token to be had.
    let elsewhere = Cli::new(&server, None).with_var("COFFER__DATA_DIR", "/nonexistent/coffer");
    let refused = elsewhere
        .run(&[
            "login", "--dev", "--tenant", &tenant, "--sub", "dora", "--role", "editor",
        ])
        .await;
    assert_ne!(refused.status.code(), Some(0));
    assert_eq!(cli.ok(&["logout"]).await, [json!({"signed_out": true})]);
    assert_eq!(cli.run(&["ls"]).await.status.code(), Some(3));
}

async fn share_links_are_made_listed_and_revoked_by_path(mode: Mode) {
    let (server, _alice, cli) = editor_cli(mode).await;
    let local = cli.dir().join("offer.bin");
    write_pseudo_random(&local, 1_000, 3);
    cli.ok(&["cp", local.to_str().unwrap(), "coffer:/deals/"])
        .await;
    let place = "coffer:/deals/offer.bin";

    let made = cli
        .ok(&[
            "link",
            "create",
            place,
            "--expires",
            "2h",
            "--max-downloads",
            "1",
        ])
        .await
        .remove(0);
    let url = made["url"].as_str().unwrap().to_owned();
    assert!(url.contains("/s/"), "{made}");
    let left = (time::OffsetDateTime::parse(
        made["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
        - time::OffsetDateTime::now_utc())
    .whole_minutes();
    assert!((118..=120).contains(&left), "2h from now: {made}");
    let page = server.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("offer.bin"));

    // A password comes from stdin, never from the command line.
    let mut create = cli.command(&[
        "link",
        "create",
        place,
        "--expires",
        "1d",
        "--password-stdin",
        "--json",
    ]);
    create.stdin(std::process::Stdio::piped());
    let mut child = create.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt as _;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"correct horse\n").await.unwrap();
    }
    let guarded = json_lines(&success(
        child.wait_with_output().await.unwrap(),
        &["link", "create"],
    ))
    .remove(0);
    assert_eq!(guarded["password_protected"], true);
    let html = server
        .http
        .get(guarded["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"type="password""#), "{html}");

    let listed = cli.ok(&["link", "ls", place]).await;
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|l| l.get("url").is_none()), "{listed:?}");
    let human = success(cli.run(&["link", "ls", place]).await, &["link", "ls"]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("0/1 downloads") && human.contains(", password"),
        "{human}"
    );

    let id = made["id"].as_str().unwrap();
    cli.ok(&["link", "revoke", place, id]).await;
    assert_eq!(
        server.http.get(&url).send().await.unwrap().status(),
        StatusCode::GONE
    );
    let states: Vec<Value> = cli
        .ok(&["link", "ls", place])
        .await
        .into_iter()
        .map(|l| l["state"].clone())
        .collect();
    assert_eq!(states, [json!("revoked"), json!("active")]);

    // Usage mistakes are caught before anything is sent.
    for args in [
        &["link", "create", place, "--expires", "soon"][..],
        &["link", "revoke", place, "not-an-id"][..],
    ] {
        let output = cli.run(args).await;
        assert_eq!(output.status.code(), Some(2), "{args:?}");
    }
    // A past expiry is the server's 422, exit 9.
    let past = cli
        .run(&["link", "create", place, "--expires", "2020-01-01T00:00:00Z"])
        .await;
    assert_eq!(
        past.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&past.stderr)
    );
    assert!(String::from_utf8_lossy(&past.stderr).contains("expiry_in_past"));
}

async fn upload_requests_are_made_listed_and_closed(mode: Mode) {
    let (server, _alice, cli) = editor_cli(mode).await;
    let made = cli
        .ok(&[
            "request",
            "create",
            "coffer:/clients/acme/",
            "--expires",
            "7d",
            "--max-files",
            "3",
            "--max-size",
            "1000000",
            "--type",
            "application/pdf",
            "--message",
            "Receipts, please.",
        ])
        .await
        .remove(0);
    let url = made["url"].as_str().unwrap().to_owned();
    assert!(url.contains("/u/"), "{made}");
    assert_eq!(made["path"], "/clients/acme");
    assert_eq!(made["allowed_types"], json!(["application/pdf"]));
    let page = server.http.get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("Receipts, please."));

    let listed = cli.ok(&["request", "ls"]).await;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].get("url").is_none(), "{listed:?}");
    let human = success(cli.run(&["request", "ls"]).await, &["request", "ls"]);
    let human = String::from_utf8_lossy(&human.stdout);
    assert!(
        human.contains("open") && human.contains("0/3 files into coffer:/clients/acme"),
        "{human}"
    );

    let id = made["id"].as_str().unwrap();
    let closed = cli.ok(&["request", "close", id]).await.remove(0);
    assert_eq!(closed["state"], "closed");
    assert_eq!(
        server.http.get(&url).send().await.unwrap().status(),
        StatusCode::GONE
    );
    assert_eq!(
        cli.run(&["request", "close", "nope"]).await.status.code(),
        Some(2)
    );
}
