//! [`coffer_ports::ShareLinks`]: links are found by their token's digest
//! only, listed and revoked within their own tenant and file, and their
//! downloads and wrong passwords are counted atomically.

use std::sync::Arc;

use coffer_domain::{
    FileId, LINK_PASSWORD_ATTEMPTS, LINK_PASSWORD_WINDOW, LinkToken, PasswordAttempts, ShareLink,
    ShareLinkId, TenantId,
};
use coffer_ports::{MetadataErrorKind, MetadataPorts, NewShareLink, ShareLinks};

use super::fixtures::{assert_kind, at, subject, tenant};

/// The cases of [`coffer_ports::ShareLinks`] (see [`crate::metadata_contract!`]).
#[macro_export]
macro_rules! share_links_contract {
    ($factory:expr) => {
        $crate::__metadata_cases!($factory; share_links;
            links_are_found_by_digest_and_listed_and_revoked_in_their_tenant,
            the_last_download_goes_to_one_of_many_racing,
            dead_links_count_no_download,
            wrong_passwords_are_counted_in_windows,
        );
    };
}

fn new_link(
    tenant: TenantId,
    file: FileId,
    seed: u8,
    max_downloads: Option<u32>,
) -> (LinkToken, NewShareLink) {
    let token = LinkToken::from_random([seed; 32]);
    let link = ShareLink {
        id: ShareLinkId::new_random(),
        tenant_id: tenant,
        file_id: file,
        expires_at: at(1_000),
        max_downloads,
        downloads: 0,
        password_protected: seed.is_multiple_of(2),
        revoked_at: None,
        created_by: subject("alice"),
        created_at: at(i64::from(seed)),
    };
    let new = NewShareLink {
        digest: token.digest(),
        password_hash: link
            .password_protected
            .then(|| "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        link,
    };
    (token, new)
}

pub async fn links_are_found_by_digest_and_listed_and_revoked_in_their_tenant(
    ports: MetadataPorts,
) {
    let (acme, globex) = (tenant(&ports, "acme").await, tenant(&ports, "globex").await);
    let links = &ports.links;
    let (file, other_file) = (FileId::new_v7(), FileId::new_v7());
    let (first_token, first) = new_link(acme.id, file, 2, Some(3));
    let (_, second) = new_link(acme.id, file, 3, None);
    let (_, elsewhere) = new_link(acme.id, other_file, 5, None);
    for new in [&first, &second, &elsewhere] {
        links.create_link(new.clone()).await.unwrap();
    }
    assert_kind(
        links.create_link(first.clone()).await,
        MetadataErrorKind::Conflict,
        "the same link twice",
    );
    let (_, mut same_digest) = new_link(acme.id, file, 2, None);
    same_digest.link.id = ShareLinkId::new_random();
    assert_kind(
        links.create_link(same_digest).await,
        MetadataErrorKind::Conflict,
        "another link with a taken digest",
    );

    let found = links
        .find_link(first_token.digest())
        .await
        .unwrap()
        .expect("found by its digest");
    assert_eq!(found.link, first.link);
    assert_eq!(found.password_hash, first.password_hash);
    assert_eq!(found.attempts, PasswordAttempts::default());
    assert!(found.link.password_protected);
    assert_eq!(
        links
            .find_link(LinkToken::from_random([9; 32]).digest())
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        links.links_of_file(acme.id, file).await.unwrap(),
        vec![first.link.clone(), second.link.clone()],
        "a file's links, oldest first"
    );
    assert!(
        links
            .links_of_file(globex.id, file)
            .await
            .unwrap()
            .is_empty(),
        "another tenant lists none of them"
    );

    assert_kind(
        links
            .revoke_link(globex.id, file, first.link.id, at(10))
            .await,
        MetadataErrorKind::NotFound,
        "another tenant revoking",
    );
    assert_kind(
        links
            .revoke_link(acme.id, other_file, first.link.id, at(10))
            .await,
        MetadataErrorKind::NotFound,
        "revoking through another file",
    );
    let revoked = links
        .revoke_link(acme.id, file, first.link.id, at(10))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(at(10)));
    let again = links
        .revoke_link(acme.id, file, first.link.id, at(20))
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(at(10)),
        "the first revocation stands"
    );
    let found = links
        .find_link(first_token.digest())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.link.revoked_at, Some(at(10)));
}

pub async fn the_last_download_goes_to_one_of_many_racing(ports: MetadataPorts) {
    let acme = tenant(&ports, "acme").await;
    let links: Arc<dyn ShareLinks> = ports.links.clone();
    let (_, new) = new_link(acme.id, FileId::new_v7(), 1, Some(3));
    let id = new.link.id;
    links.create_link(new).await.unwrap();
    let racers = (0..12).map(|_| {
        let links = links.clone();
        tokio::spawn(async move { links.count_download(id, at(100)).await.unwrap() })
    });
    let mut counted = Vec::new();
    for racer in racers {
        if let Some(link) = racer.await.unwrap() {
            counted.push(link.downloads);
        }
    }
    counted.sort_unstable();
    assert_eq!(counted, vec![1, 2, 3], "three downloads, each counted once");
}

pub async fn dead_links_count_no_download(ports: MetadataPorts) {
    let acme = tenant(&ports, "acme").await;
    let links = &ports.links;
    let file = FileId::new_v7();
    let (_, new) = new_link(acme.id, file, 1, None);
    let id = new.link.id;
    links.create_link(new).await.unwrap();
    assert_eq!(
        links.count_download(id, at(1_000)).await.unwrap(),
        None,
        "at its expiry"
    );
    let counted = links.count_download(id, at(999)).await.unwrap().unwrap();
    assert_eq!(counted.downloads, 1);
    links.revoke_link(acme.id, file, id, at(500)).await.unwrap();
    assert_eq!(
        links.count_download(id, at(501)).await.unwrap(),
        None,
        "once revoked"
    );
    assert_eq!(
        links
            .count_download(ShareLinkId::new_random(), at(1))
            .await
            .unwrap(),
        None,
        "an unknown link"
    );
}

pub async fn wrong_passwords_are_counted_in_windows(ports: MetadataPorts) {
    let acme = tenant(&ports, "acme").await;
    let links = &ports.links;
    let (token, new) = new_link(acme.id, FileId::new_v7(), 2, None);
    let id = new.link.id;
    links.create_link(new).await.unwrap();
    let mut expected = PasswordAttempts::default();
    for i in 0..LINK_PASSWORD_ATTEMPTS {
        let now = at(100 + i64::from(i));
        expected = expected.after_failure(now);
        assert_eq!(links.note_wrong_password(id, now).await.unwrap(), expected);
    }
    let found = links.find_link(token.digest()).await.unwrap().unwrap();
    assert_eq!(found.attempts, expected);
    assert!(found.attempts.locked_until(at(110)).is_some());

    let later = at(100) + LINK_PASSWORD_WINDOW;
    let fresh = links.note_wrong_password(id, later).await.unwrap();
    assert_eq!(
        fresh,
        PasswordAttempts {
            failures: 1,
            window_started_at: Some(later)
        },
        "a failure after the window starts another"
    );
    assert_kind(
        links
            .note_wrong_password(ShareLinkId::new_random(), later)
            .await,
        MetadataErrorKind::NotFound,
        "an unknown link",
    );
}
