//! [`coffer_ports::Grants`]: access to one file for a user or a role,
//! replaced per subject, listed and deleted.

use coffer_domain::{Access, FileId, Role};
use coffer_ports::{MetadataErrorKind, MetadataPorts};

use super::fixtures::{assert_kind, at, available, data, file, grant, record, scope, tenant, user};

/// The cases of [`coffer_ports::Grants`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! grants_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; grants;
            grants_replace_list_delete,
            a_file_read_lists_its_grants_oldest_first,
        );
    };
}

pub async fn grants_replace_list_delete(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let grants = &d.grants;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&ports, &t, file(&t, (o, "alice"), "/", "f", 1, 1)).await;
    let g = available(&ports, &t, file(&t, (o, "alice"), "/", "g", 1, 2)).await;
    assert!(grants.list_grants(&s, f.id).await.unwrap().is_empty());

    let bob = grants
        .put_grant(
            &s,
            grant(f.id, "user:bob", Access::Read, Some(500)),
            record(),
        )
        .await
        .unwrap();
    assert_eq!(bob.tenant_id, t.id);
    assert_eq!(bob.file_id, f.id);
    assert_eq!(bob.subject.to_string(), "user:bob");
    assert_eq!(bob.access, Access::Read);
    assert_eq!(bob.expires_at, Some(at(500)));
    assert_eq!(bob.created_by.as_str(), "alice");
    // The file's read carries its grants whole, an expiry included.
    assert_eq!(d.files.get_file(&s, f.id).await.unwrap().grants, vec![bob]);
    let viewers = grants
        .put_grant(
            &s,
            grant(f.id, "role:viewer", Access::Write, None),
            record(),
        )
        .await
        .unwrap();
    // The same subject again replaces its grant.
    let bob2 = grants
        .put_grant(&s, grant(f.id, "user:bob", Access::Manage, None), record())
        .await
        .unwrap();
    assert_eq!(bob2.access, Access::Manage);
    assert_eq!(bob2.expires_at, None);
    let listed = grants.list_grants(&s, f.id).await.unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed.contains(&viewers));
    assert!(listed.contains(&bob2));
    // ... and in the listing's order, oldest first.
    assert_eq!(d.files.get_file(&s, f.id).await.unwrap().grants, listed);
    assert!(grants.list_grants(&s, g.id).await.unwrap().is_empty());

    assert_kind(
        grants.delete_grant(&s, g.id, bob2.id, record()).await,
        MetadataErrorKind::NotFound,
        "grant on another file",
    );
    grants
        .delete_grant(&s, f.id, bob2.id, record())
        .await
        .unwrap();
    assert_eq!(grants.list_grants(&s, f.id).await.unwrap(), vec![viewers]);
    assert_kind(
        grants.delete_grant(&s, f.id, bob2.id, record()).await,
        MetadataErrorKind::NotFound,
        "delete twice",
    );
    assert_kind(
        grants
            .put_grant(
                &s,
                grant(FileId::new_v7(), "user:bob", Access::Read, None),
                record(),
            )
            .await,
        MetadataErrorKind::NotFound,
        "grant on unknown file",
    );
    assert_kind(
        grants.list_grants(&s, FileId::new_v7()).await,
        MetadataErrorKind::NotFound,
        "list on unknown file",
    );
}

/// A file's read lists its grants oldest first, as `list_grants` does,
/// whatever order they were made or named in (here the reverse of both).
pub async fn a_file_read_lists_its_grants_oldest_first(ports: MetadataPorts) {
    let t = tenant(&ports, "acme").await;
    let d = data(&ports, &t).await;
    let o = user(&ports, &t, "alice", &[Role::Editor]).await;
    let s = scope(&t);
    let f = available(&ports, &t, file(&t, (o, "alice"), "/", "f", 1, 1)).await;
    let mut made = Vec::new();
    for (to, secs) in [("role:viewer", 300), ("user:bob", 200), ("user:zed", 100)] {
        let mut new = grant(f.id, to, Access::Read, None);
        new.created_at = at(secs);
        made.push(d.grants.put_grant(&s, new, record()).await.unwrap());
    }
    made.reverse();
    assert_eq!(d.grants.list_grants(&s, f.id).await.unwrap(), made);
    assert_eq!(d.files.get_file(&s, f.id).await.unwrap().grants, made);
}
