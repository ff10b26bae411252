//! [`coffer_ports::Records`]: retention and legal holds kept with the file,
//! holds placed on a file or a folder and released one by one, and the
//! erase that a binding rule refuses.

use coffer_domain::{LogicalPath, Retention, RetentionMode, Role, Subject};
use coffer_ports::{HoldTarget, MetadataErrorKind, MetadataPorts, NewLegalHold};

use super::fixtures::{
    assert_kind, at, audited, available, change, data, file, record, reserve, scope, tenant, user,
};

/// The cases of [`coffer_ports::Records`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! records_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; records;
            retention_is_kept_and_binds_the_erase_until_it_expires,
            holds_bind_until_the_last_is_released,
            a_folder_hold_covers_every_file_below_it,
            binding_records_name_what_stops_a_purge,
        );
    };
}

fn hold(target: HoldTarget, reason: &str, secs: i64) -> NewLegalHold {
    NewLegalHold {
        target,
        reason: reason.to_owned(),
        placed_by: Subject::new("counsel").unwrap(),
        placed_at: at(secs),
    }
}

pub async fn retention_is_kept_and_binds_the_erase_until_it_expires(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let kept = available(&ports, &t, file(&t, (o, "alice"), "/", "kept.pdf", 7, 1)).await;
    let retention = Retention {
        mode: RetentionMode::Compliance,
        retain_until: at(100),
    };
    let set = d
        .records
        .set_retention(
            &s,
            kept.id,
            Some(retention),
            at(5),
            change("file.retention_changed", Some(kept.id), 5, true),
        )
        .await
        .unwrap();
    assert_eq!(set.retention, Some(retention));
    assert_eq!(set.updated_at, at(5));
    assert_eq!(
        d.files.get_file(&s, kept.id).await.unwrap().file.retention,
        Some(retention)
    );
    assert_eq!(audited(&ports, &t, "file.retention_changed").await, 1);

    // Before the date the erase is refused, and nothing marks the row.
    assert_kind(
        d.integrity.begin_erase(&s, kept.id, at(99), record()).await,
        MetadataErrorKind::InvalidState,
        "erase while retained",
    );
    assert!(d.files.get_file(&s, kept.id).await.is_ok());
    // From the date on, it goes like any file.
    d.integrity
        .begin_erase(&s, kept.id, at(100), record())
        .await
        .unwrap();

    // A pending upload is no record yet.
    let pending = reserve(&ports, &t, file(&t, (o, "alice"), "/", "pending", 1, 2)).await;
    assert_kind(
        d.records
            .set_retention(&s, pending.id, Some(retention), at(6), record())
            .await,
        MetadataErrorKind::NotFound,
        "retention on a pending upload",
    );
    // Another tenant's file does not exist.
    let other = tenant(&ports, "globex").await;
    assert_kind(
        d.records
            .set_retention(&scope(&other), set.id, None, at(7), record())
            .await,
        MetadataErrorKind::NotFound,
        "retention across tenants",
    );
}

pub async fn holds_bind_until_the_last_is_released(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&ports, &t, file(&t, (o, "alice"), "/", "held.pdf", 7, 1)).await;
    let first = d
        .records
        .place_holds(&s, hold(HoldTarget::File(f.id), "matter 1", 2), record())
        .await
        .unwrap();
    let second = d
        .records
        .place_holds(&s, hold(HoldTarget::File(f.id), "matter 2", 3), record())
        .await
        .unwrap();
    assert_eq!((first.len(), second.len()), (1, 1));
    assert_eq!(first[0].file_id, f.id);
    assert_eq!(first[0].reason, "matter 1");
    assert_eq!(first[0].placed_by.as_str(), "counsel");
    assert_eq!(first[0].placed_at, at(2));
    assert!(d.files.get_file(&s, f.id).await.unwrap().file.legal_hold);

    let listed = d
        .records
        .list_holds(&s, Some(f.id), None, 100)
        .await
        .unwrap();
    assert_eq!(listed, [first[0].clone(), second[0].clone()]);
    let paged = d
        .records
        .list_holds(&s, None, Some(first[0].id), 100)
        .await
        .unwrap();
    assert_eq!(paged, [second[0].clone()]);

    // A hold binds whatever the retention (there is none here).
    assert_kind(
        d.integrity.begin_erase(&s, f.id, at(10), record()).await,
        MetadataErrorKind::InvalidState,
        "erase while held",
    );
    let (released, still) = d
        .records
        .release_hold(&s, first[0].id, record())
        .await
        .unwrap();
    assert_eq!(released, first[0]);
    assert!(still.legal_hold, "another hold remains");
    assert_kind(
        d.records.release_hold(&s, first[0].id, record()).await,
        MetadataErrorKind::NotFound,
        "release twice",
    );
    let other = tenant(&ports, "globex").await;
    assert_kind(
        d.records
            .release_hold(&scope(&other), second[0].id, record())
            .await,
        MetadataErrorKind::NotFound,
        "release across tenants",
    );
    assert!(
        d.records
            .list_holds(&scope(&other), None, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
    let (_, free) = d
        .records
        .release_hold(&s, second[0].id, record())
        .await
        .unwrap();
    assert!(!free.legal_hold);
    d.integrity
        .begin_erase(&s, f.id, at(11), record())
        .await
        .unwrap();
    assert_kind(
        d.records
            .place_holds(&s, hold(HoldTarget::File(f.id), "late", 12), record())
            .await,
        MetadataErrorKind::NotFound,
        "hold on a file being erased",
    );
}

pub async fn a_folder_hold_covers_every_file_below_it(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let owner = (o, "alice");
    let top = available(&ports, &t, file(&t, owner, "/legal", "a.pdf", 1, 1)).await;
    let deep = available(&ports, &t, file(&t, owner, "/legal/2026/q1", "b.pdf", 1, 2)).await;
    let beside = available(&ports, &t, file(&t, owner, "/legal-old", "c.pdf", 1, 3)).await;
    let pending = reserve(&ports, &t, file(&t, owner, "/legal", "d.pdf", 1, 4)).await;
    let holds = d
        .records
        .place_holds(
            &s,
            hold(
                HoldTarget::Folder(LogicalPath::new("/legal").unwrap()),
                "matter",
                5,
            ),
            record(),
        )
        .await
        .unwrap();
    let mut held: Vec<_> = holds.iter().map(|h| h.file_id).collect();
    held.sort();
    let mut expected = vec![top.id, deep.id];
    expected.sort();
    assert_eq!(held, expected, "the folder and below, complete files only");
    for (id, on_hold) in [
        (top.id, true),
        (deep.id, true),
        (beside.id, false),
        (pending.id, false),
    ] {
        assert_eq!(
            d.files.get_file(&s, id).await.unwrap().file.legal_hold,
            on_hold
        );
    }
    let empty = d
        .records
        .place_holds(
            &s,
            hold(
                HoldTarget::Folder(LogicalPath::new("/nothing").unwrap()),
                "matter",
                6,
            ),
            record(),
        )
        .await
        .unwrap();
    assert!(empty.is_empty());
}

pub async fn binding_records_name_what_stops_a_purge(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let owner = (o, "alice");
    let retained = available(&ports, &t, file(&t, owner, "/", "r.pdf", 1, 1)).await;
    let held = available(&ports, &t, file(&t, owner, "/", "h.pdf", 1, 2)).await;
    available(&ports, &t, file(&t, owner, "/", "free.pdf", 1, 3)).await;
    let retention = Retention {
        mode: RetentionMode::Governance,
        retain_until: at(50),
    };
    d.records
        .set_retention(&s, retained.id, Some(retention), at(4), record())
        .await
        .unwrap();
    d.records
        .place_holds(&s, hold(HoldTarget::File(held.id), "m", 5), record())
        .await
        .unwrap();
    let mut binding = d.records.binding_records(&s, at(10), 100).await.unwrap();
    binding.sort_by_key(|b| b.file_id);
    let mut expected = vec![
        coffer_ports::BindingRecord {
            file_id: retained.id,
            retention: Some(retention),
            legal_hold: false,
        },
        coffer_ports::BindingRecord {
            file_id: held.id,
            retention: None,
            legal_hold: true,
        },
    ];
    expected.sort_by_key(|b| b.file_id);
    assert_eq!(binding, expected);
    // Once the retention has passed, only the hold binds.
    let later = d.records.binding_records(&s, at(50), 100).await.unwrap();
    assert_eq!(
        later.iter().map(|b| b.file_id).collect::<Vec<_>>(),
        [held.id]
    );
}
