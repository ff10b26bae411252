//! A throwaway PostgreSQL cluster for machines where none answers: created
//! once under the system temp dir, shared by every test process (guarded by
//! a file lock), and left running for the next run. Stop it with
//! `pg_ctl -D $TMPDIR/coffer-test-postgres/data stop`.

use std::fs::{self, File};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::ServerUrl;

pub(super) fn ensure_running() -> Result<ServerUrl, String> {
    let root = std::env::temp_dir().join("coffer-test-postgres");
    fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let lock = File::create(root.join("lock")).map_err(|e| e.to_string())?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", root.display()))?;

    let port_file = root.join("port");
    if let Some(port) = fs::read_to_string(&port_file)
        .ok()
        .and_then(|p| p.trim().parse::<u16>().ok())
        .filter(|p| answers(*p))
    {
        return Ok(ServerUrl::from_parts("postgres", "127.0.0.1", port));
    }

    // initdb refuses to run as root: then the cluster belongs to the
    // `postgres` system user, and its commands run through runuser.
    let as_root = is_root();
    if as_root {
        run(Command::new("chown").arg("postgres").arg(&root))?;
    }
    let pg = |name: &str| -> Result<Command, String> {
        let program = binary(name)?;
        Ok(if as_root {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(program);
            cmd
        } else {
            Command::new(program)
        })
    };

    let data = root.join("data");
    if !data.join("PG_VERSION").exists() {
        let _ = fs::remove_dir_all(&data);
        run(pg("initdb")?.arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]))?;
    } else if data.join("postmaster.pid").exists() {
        // Running on a port we no longer know, or a stale pid file.
        let _ = pg("pg_ctl")?
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "stop"])
            .output();
    }
    let port = free_port()?;
    let log = root.join("postgres.log");
    let started = run(pg("pg_ctl")?
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .args(["-w", "-t", "60", "-o"])
        .arg(format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off -c max_connections=300",
            root.display()
        ))
        .arg("start"));
    if let Err(e) = started {
        return Err(format!("{e}\n--- {} ---\n{}", log.display(), tail(&log)));
    }
    fs::write(&port_file, port.to_string()).map_err(|e| e.to_string())?;
    Ok(ServerUrl::from_parts("postgres", "127.0.0.1", port))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

fn answers(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_ok()
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// A PostgreSQL server binary from PATH, or else from the newest
/// `/usr/lib/postgresql/*/bin` (Debian keeps them off PATH).
fn binary(name: &str) -> Result<PathBuf, String> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    if let Some(path) = on_path {
        return Ok(path);
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let path = e.path().join("bin").join(name);
            path.is_file().then_some((version, path))
        })
        .collect();
    versions.sort();
    versions
        .pop()
        .map(|(_, p)| p)
        .ok_or_else(|| format!("`{name}` is neither on PATH nor in /usr/lib/postgresql/*/bin"))
}

fn run(cmd: &mut Command) -> Result<(), String> {
    let out = cmd
        .output()
        .map_err(|e| format!("{:?}: {e}", cmd.get_program()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{:?} failed ({}): {}{}",
            cmd.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn tail(path: &Path) -> String {
    let text = fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
