//! Tenants' bytes are the owner's alone: every file under the data dir is
//! created 0600 and every directory 0700, whatever the process umask.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use coffer_ports::ObjectStore;
use time::OffsetDateTime;

use crate::support::{content_type, fresh, send};

fn walk(dir: &Path, files: &mut Vec<PathBuf>, dirs: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            dirs.push(path.clone());
            walk(&path, files, dirs);
        } else {
            files.push(path);
        }
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[tokio::test]
async fn objects_sidecars_parts_and_upload_records_are_owner_only() {
    let (test, loc) = fresh().await;
    let store = &test.store;
    store
        .put_stream(
            &loc,
            &content_type("text/plain"),
            Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"secret"))])),
        )
        .await
        .unwrap();
    let upload_loc = crate::support::location(loc.tenant(), loc.bucket());
    let upload = store
        .create_multipart(&upload_loc, &content_type("text/plain"))
        .await
        .unwrap();
    let url = store
        .presign_part(coffer_ports::PresignPart {
            location: upload_loc.clone(),
            upload_id: upload.clone(),
            part_number: 1,
            content_length: 4,
            checksum_sha256: None,
            now: OffsetDateTime::now_utc(),
            expires_in: Duration::from_secs(60),
        })
        .await
        .unwrap();
    assert_eq!(
        send(&url, Bytes::from_static(b"part"), &[]).await.status(),
        200
    );

    let (mut files, mut dirs) = (Vec::new(), Vec::new());
    walk(&test.data_dir(), &mut files, &mut dirs);
    let named = |what: &str, pred: &dyn Fn(&str) -> bool| {
        assert!(
            files
                .iter()
                .any(|f| pred(&f.file_name().unwrap().to_string_lossy())),
            "no {what} among {files:?}"
        );
    };
    named("part file", &|name| name.starts_with("part-"));
    named("upload record", &|name| name == "upload.json");
    named("sidecar", &|name| name.ends_with("~meta"));
    named("object", &|name| {
        name == loc.key().as_str().rsplit('/').next().unwrap()
    });
    for file in &files {
        assert_eq!(mode(file), 0o600, "{}", file.display());
    }
    for dir in &dirs {
        assert_eq!(mode(dir), 0o700, "{}", dir.display());
    }
}
