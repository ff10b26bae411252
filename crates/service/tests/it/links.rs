//! Share links over mocked ports: what the public side reads, counts and
//! records, and in which order — the download's count and audit record
//! exist before its URL does; a dead or paused link, a wrong password
//! reach nothing further.

use std::sync::{Arc, Mutex};

use coffer_domain::{
    FileStatus, LinkDead, LinkPassword, PasswordAttempts, Role, ShareLink, Tenant, TenantStatus,
};
use coffer_ports::{FoundLink, NewShareLink};
use coffer_service::{CreateLink, LinkRefusal, PasswordProblem, RequestMeta};
use mockall::Sequence;

use crate::support::*;

fn visitor() -> RequestMeta {
    RequestMeta {
        request_id: Some("req-1".into()),
        client_addr: Some("198.51.100.7".into()),
    }
}

/// A link made through `create_link` (by alice, on `file`), and what the
/// store was given for it: the real Argon2 hash when there is a password.
async fn made(
    tenant: &Tenant,
    file: &coffer_domain::FileRecord,
    password: Option<&str>,
) -> (String, NewShareLink) {
    let mut fx = LinksFx::default();
    serves_file(&mut fx.files, file);
    let order = Arc::new(Mutex::new(Vec::new()));
    let log = order.clone();
    fx.events
        .expect_record_journal()
        .times(1)
        .withf(|_, journal| {
            journal.audit.action == "link.created"
                && journal
                    .event
                    .as_ref()
                    .is_some_and(|e| e.kind == "link.created")
        })
        .returning(move |_, _| {
            log.lock().unwrap().push("recorded");
            Ok(())
        });
    let log = order.clone();
    let kept: Arc<Mutex<Option<NewShareLink>>> = Arc::default();
    let keep = kept.clone();
    fx.links
        .expect_create_link()
        .times(1)
        .returning(move |new| {
            log.lock().unwrap().push("created");
            *keep.lock().unwrap() = Some(new);
            Ok(())
        });
    let created = fx
        .build()
        .create_link(
            &caller(tenant, "alice", &[Role::Editor]),
            file.id,
            CreateLink {
                expires_at: now() + time::Duration::hours(1),
                password: password.map(|p| LinkPassword::new(p).unwrap()),
                max_downloads: Some(3),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        *order.lock().unwrap(),
        ["recorded", "created"],
        "on record and announced before the link exists"
    );
    let new = kept.lock().unwrap().take().unwrap();
    assert_eq!(
        new.digest,
        created.token.digest(),
        "only the digest is kept"
    );
    assert_eq!(new.link, created.link);
    (created.token.as_str().to_owned(), new)
}

fn found(new: &NewShareLink, attempts: PasswordAttempts) -> FoundLink {
    FoundLink {
        link: new.link.clone(),
        password_hash: new.password_hash.clone(),
        attempts,
    }
}

fn finds(fx: &mut LinksFx, found: FoundLink) {
    fx.links
        .expect_find_link()
        .returning(move |_| Ok(Some(found.clone())));
}

fn knows_tenant(fx: &mut LinksFx, tenant: &Tenant) {
    let tenant = tenant.clone();
    fx.registry
        .expect_get_tenant()
        .returning(move |_| Ok(tenant.clone()));
}

#[tokio::test]
async fn a_download_is_counted_and_on_record_before_its_url_exists() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let (token, new) = made(&t, &f, None).await;
    let mut fx = LinksFx::default();
    finds(&mut fx, found(&new, PasswordAttempts::default()));
    knows_tenant(&mut fx, &t);
    serves_file(&mut fx.files, &f);
    let mut order = Sequence::new();
    let counted = ShareLink {
        downloads: 1,
        ..new.link.clone()
    };
    fx.links
        .expect_count_download()
        .times(1)
        .in_sequence(&mut order)
        .returning(move |_, _| Ok(Some(counted.clone())));
    let actor = format!("link:{}", new.link.id);
    fx.audit
        .expect_append_audit()
        .times(1)
        .in_sequence(&mut order)
        .withf(move |_, entry| {
            entry.action == "link.downloaded"
                && entry.actor.as_str() == actor
                && entry.detail["downloads"] == 1
                && entry.client_addr.as_deref() == Some("198.51.100.7")
        })
        .returning(|_, _| Ok(()));
    fx.store
        .expect_presign_get()
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(presigned("GET")));
    let url = fx.build().download(&token, None, &visitor()).await.unwrap();
    assert_eq!(url.method, "GET");
}

#[tokio::test]
async fn a_wrong_password_is_counted_and_recorded_and_opens_nothing() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let (token, new) = made(&t, &f, Some("correct horse")).await;
    assert!(
        new.password_hash
            .as_deref()
            .unwrap()
            .starts_with("$argon2id$"),
        "an Argon2id PHC string, never the password"
    );
    let mut fx = LinksFx::default();
    finds(&mut fx, found(&new, PasswordAttempts::default()));
    knows_tenant(&mut fx, &t);
    serves_file(&mut fx.files, &f);
    fx.links
        .expect_note_wrong_password()
        .times(1)
        .returning(|_, at| {
            Ok(PasswordAttempts {
                failures: 1,
                window_started_at: Some(at),
            })
        });
    fx.audit
        .expect_append_audit()
        .times(1)
        .withf(|_, entry| entry.action == "link.password_refused")
        .returning(|_, _| Ok(()));
    // No count_download, no presign: either would fail the test.
    let refused = fx
        .build()
        .download(&token, Some("wrong horse"), &visitor())
        .await
        .unwrap_err();
    match refused {
        LinkRefusal::Password { problem, link } => {
            assert_eq!(problem, PasswordProblem::Wrong { attempts_left: 4 });
            assert_eq!(link.filename, f.filename, "the page is shown again");
        }
        other => panic!("expected a password refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn the_right_password_downloads() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let (token, new) = made(&t, &f, Some("correct horse")).await;
    let mut fx = LinksFx::default();
    finds(&mut fx, found(&new, PasswordAttempts::default()));
    knows_tenant(&mut fx, &t);
    serves_file(&mut fx.files, &f);
    audit_ok(&mut fx.audit);
    let link = new.link.clone();
    fx.links
        .expect_count_download()
        .times(1)
        .returning(move |_, _| Ok(Some(link.clone())));
    fx.store
        .expect_presign_get()
        .times(1)
        .returning(|_| Ok(presigned("GET")));
    let app = fx.build();
    app.download(&token, Some("correct horse"), &visitor())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_paused_link_checks_no_password_at_all() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let (token, new) = made(&t, &f, Some("correct horse")).await;
    let mut fx = LinksFx::default();
    let paused = PasswordAttempts {
        failures: 5,
        window_started_at: Some(now() - time::Duration::minutes(1)),
    };
    finds(&mut fx, found(&new, paused));
    knows_tenant(&mut fx, &t);
    serves_file(&mut fx.files, &f);
    let refused = fx
        .build()
        .download(&token, Some("correct horse"), &visitor())
        .await
        .unwrap_err();
    assert_eq!(
        refused,
        LinkRefusal::Locked {
            until: now() + time::Duration::minutes(14)
        }
    );
}

#[tokio::test]
async fn a_dead_link_or_an_inactive_tenant_reads_nothing_further() {
    let t = tenant(TenantStatus::Active);
    let f = file(&t, "alice", FileStatus::Available);
    let (token, new) = made(&t, &f, None).await;

    let mut revoked = found(&new, PasswordAttempts::default());
    revoked.link.revoked_at = Some(now());
    let mut fx = LinksFx::default();
    finds(&mut fx, revoked);
    // No tenant, file, audit or store expectation: reaching one panics.
    assert_eq!(
        fx.build().open_link(&token, &visitor()).await.unwrap_err(),
        LinkRefusal::Dead(LinkDead::Revoked)
    );

    let mut fx = LinksFx::default();
    finds(&mut fx, found(&new, PasswordAttempts::default()));
    knows_tenant(&mut fx, &tenant(TenantStatus::Suspended));
    assert_eq!(
        fx.build().open_link(&token, &visitor()).await.unwrap_err(),
        LinkRefusal::Unavailable,
        "a suspended tenant's file is not read"
    );

    let fx = LinksFx::default();
    assert_eq!(
        fx.build()
            .open_link("not-a-token", &visitor())
            .await
            .unwrap_err(),
        LinkRefusal::Unknown,
        "a malformed token is not even looked up"
    );
}
