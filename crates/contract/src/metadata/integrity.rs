//! [`coffer_ports::Integrity`]: erase marks that hide a file until it is
//! removed, every row listed by id, and a missing object marked once.

use coffer_domain::{FileId, FileStatus, Role, Visibility};
use coffer_ports::{FileObjectQuery, FilePatch, MetadataErrorKind, MetadataPorts, ReadFilter};

use super::fixtures::{
    assert_kind, at, audited, available, change, data, file, names, query, record, reserve, scope,
    set, tenant, user,
};

/// The cases of [`coffer_ports::Integrity`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! integrity_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; integrity;
            erase_marks_hide_a_file_until_it_is_removed,
            file_objects_list_every_row_by_id,
            object_missing_is_marked_once,
        );
    };
}

fn objects_query(after: Option<FileId>, limit: u32) -> FileObjectQuery {
    FileObjectQuery {
        erase_started_before: None,
        after,
        limit,
    }
}

pub async fn erase_marks_hide_a_file_until_it_is_removed(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let (files, integrity) = (&d.files, &d.integrity);
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let doomed = available(&ports, &t, file(&t, (o, "alice"), "/", "doomed", 7, 1)).await;
    let trashed = available(&ports, &t, file(&t, (o, "alice"), "/", "trashed", 5, 2)).await;
    files
        .trash_file(&s, trashed.id, at(3), record())
        .await
        .unwrap();
    let kept = available(&ports, &t, file(&t, (o, "alice"), "/", "kept", 3, 4)).await;

    let marked = integrity
        .begin_erase(&s, doomed.id, at(10), record())
        .await
        .unwrap();
    assert_eq!(
        (marked.id, marked.key.clone()),
        (doomed.id, doomed.key.clone())
    );
    integrity
        .begin_erase(&s, trashed.id, at(11), record())
        .await
        .unwrap();
    // Marking again keeps the first mark (the sweep's grace counts from it).
    integrity
        .begin_erase(&s, doomed.id, at(20), record())
        .await
        .unwrap();

    for (id, what) in [
        (doomed.id, "erasing available"),
        (trashed.id, "erasing trashed"),
    ] {
        assert_kind(
            files.get_file(&s, id).await,
            MetadataErrorKind::NotFound,
            what,
        );
        assert_kind(
            files.restore_file(&s, id, at(21), record()).await,
            MetadataErrorKind::NotFound,
            &format!("restore {what}"),
        );
        assert_kind(
            files.trash_file(&s, id, at(21), record()).await,
            MetadataErrorKind::NotFound,
            &format!("trash {what}"),
        );
        assert_kind(
            files
                .update_file(
                    &s,
                    id,
                    FilePatch {
                        visibility: Some(Visibility::Tenant),
                        ..FilePatch::default()
                    },
                    at(21),
                    record(),
                )
                .await,
            MetadataErrorKind::NotFound,
            &format!("update {what}"),
        );
    }
    assert_eq!(
        names(&ports, &t, &query(ReadFilter::All)).await,
        set(&["kept"])
    );
    let mut trash = query(ReadFilter::All);
    trash.status = FileStatus::Deleted;
    assert_eq!(
        names(&ports, &t, &trash).await,
        set(&[]),
        "not in the trash either"
    );

    // A file being erased holds no name: the same one may be uploaded again.
    reserve(&ports, &t, file(&t, (o, "alice"), "/", "doomed", 1, 22)).await;

    // The integrity jobs still see both, with the first mark.
    let rows = integrity
        .list_file_objects(&s, &objects_query(None, 100))
        .await
        .unwrap();
    let mark = |id: FileId| {
        rows.iter()
            .find(|r| r.id == id)
            .and_then(|r| r.erase_started_at)
    };
    assert_eq!(mark(doomed.id), Some(at(10)));
    assert_eq!(mark(trashed.id), Some(at(11)));
    assert_eq!(mark(kept.id), None);
    let mut due = objects_query(None, 100);
    due.erase_started_before = Some(at(11));
    let due: Vec<FileId> = integrity
        .list_file_objects(&s, &due)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        due,
        vec![doomed.id],
        "only erases that began before the instant"
    );

    // Removal ends it, releasing usage as for any file.
    let before = files.usage(&s).await.unwrap();
    files.remove_file(&s, doomed.id, None).await.unwrap();
    assert_eq!(
        files.usage(&s).await.unwrap().used_bytes,
        before.used_bytes - 7
    );
    assert_kind(
        integrity.begin_erase(&s, doomed.id, at(30), record()).await,
        MetadataErrorKind::NotFound,
        "mark a removed file",
    );
    let other = tenant(&ports, "other").await;
    assert_kind(
        data(&ports, &other)
            .await
            .integrity
            .begin_erase(&scope(&other), kept.id, at(30), record())
            .await,
        MetadataErrorKind::NotFound,
        "mark another tenant's file",
    );
    assert!(
        files.get_file(&s, kept.id).await.is_ok(),
        "kept stays unmarked"
    );
}

pub async fn file_objects_list_every_row_by_id(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let other = tenant(&ports, "other").await;
    let p = user(&ports, &other, "bob", &[Role::Editor]).await;
    let s = scope(&t);
    let pending = reserve(&ports, &t, file(&t, (o, "alice"), "/", "p", 1, 1)).await;
    let live = available(&ports, &t, file(&t, (o, "alice"), "/", "l", 2, 2)).await;
    let trashed = available(&ports, &t, file(&t, (o, "alice"), "/", "t", 3, 3)).await;
    d.files
        .trash_file(&s, trashed.id, at(4), record())
        .await
        .unwrap();
    available(
        &ports,
        &other,
        file(&other, (p, "bob"), "/", "theirs", 4, 5),
    )
    .await;

    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = d
            .integrity
            .list_file_objects(&s, &objects_query(after, 2))
            .await
            .unwrap();
        assert!(page.len() <= 2);
        after = page.last().map(|r| r.id);
        let last = page.len() < 2;
        seen.extend(page);
        if last {
            break;
        }
    }
    let mut ids: Vec<FileId> = vec![pending.id, live.id, trashed.id];
    ids.sort_by_key(|id| *id.as_uuid());
    assert_eq!(
        seen.iter().map(|r| r.id).collect::<Vec<_>>(),
        ids,
        "this tenant's rows, by id"
    );
    let row = seen.iter().find(|r| r.id == trashed.id).unwrap();
    assert_eq!(row.status, FileStatus::Deleted);
    assert_eq!(
        (row.bucket.clone(), row.key.clone()),
        (trashed.bucket.clone(), trashed.key.clone())
    );
    assert_eq!(row.created_at, at(3));
    assert_eq!((row.erase_started_at, row.object_missing_at), (None, None));
    let row = seen.iter().find(|r| r.id == pending.id).unwrap();
    assert_eq!(row.status, FileStatus::Pending);
}

pub async fn object_missing_is_marked_once(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let integrity = &d.integrity;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&ports, &t, file(&t, (o, "alice"), "/", "f", 7, 1)).await;
    integrity
        .mark_object_missing(
            &s,
            f.id,
            at(5),
            change("file.object_missing", Some(f.id), 5, false),
        )
        .await
        .unwrap();
    integrity
        .mark_object_missing(
            &s,
            f.id,
            at(9),
            change("file.object_missing", Some(f.id), 9, false),
        )
        .await
        .unwrap();
    let rows = integrity
        .list_file_objects(&s, &objects_query(None, 10))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].object_missing_at,
        Some(at(5)),
        "the first mark stays"
    );
    assert_eq!(
        audited(&ports, &t, "file.object_missing").await,
        1,
        "the first mark only is on record"
    );
    // The file stays visible: what to do about lost bytes is an operator's call.
    assert!(d.files.get_file(&s, f.id).await.is_ok());
    let other = tenant(&ports, "other").await;
    assert_kind(
        data(&ports, &other)
            .await
            .integrity
            .mark_object_missing(&scope(&other), f.id, at(9), record())
            .await,
        MetadataErrorKind::NotFound,
        "another tenant's file",
    );
    assert_kind(
        integrity
            .mark_object_missing(&s, FileId::new_v7(), at(9), record())
            .await,
        MetadataErrorKind::NotFound,
        "unknown file",
    );
}
