//! Fingerprints `migrations/postgres` at compile time — the same moment
//! `embed_migrations!` reads them — so the test harness names its template
//! database after exactly the schema this binary embeds.

use std::path::{Path, PathBuf};

const DIR: &str = "../../migrations/postgres";

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            files(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    println!("cargo:rerun-if-changed={DIR}");
    let mut paths = Vec::new();
    files(Path::new(DIR), &mut paths);
    paths.sort();
    // FNV-1a: stable across toolchains (unlike std's hasher), no dependency.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for path in paths {
        let bytes = path.to_string_lossy().into_owned().into_bytes();
        let content = std::fs::read(&path).unwrap_or_default();
        for byte in bytes.iter().chain(&content) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    println!("cargo:rustc-env=COFFER_PG_MIGRATIONS_HASH={hash:016x}");
}
