//! The isolation matrix: tenant B can neither see, change nor download
//! anything of tenant A, on every route that names a file or a grant; and
//! inside a tenant, roles and grants open exactly what they say.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::journey::in_both_modes;
use crate::support::*;

in_both_modes!(
    other_tenants_get_404_everywhere,
    roles_and_grants_open_exactly_what_they_say
);

/// Every route naming a file (`{id}`) or grant (`{grant_id}`), with a body
/// that would change something if it were let through.
const ROUTES: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/v1/files/{id}", None),
    (
        "PATCH",
        "/api/v1/files/{id}",
        Some(r#"{"filename":"stolen.pdf","visibility":"tenant"}"#),
    ),
    ("DELETE", "/api/v1/files/{id}", None),
    ("DELETE", "/api/v1/files/{id}?permanent=true", None),
    ("POST", "/api/v1/files/{id}/complete", None),
    (
        "POST",
        "/api/v1/files/{id}/parts",
        Some(r#"{"part_numbers":[1]}"#),
    ),
    ("GET", "/api/v1/files/{id}/parts", None),
    ("POST", "/api/v1/files/{id}/restore", None),
    ("GET", "/api/v1/files/{id}/download", None),
    ("GET", "/api/v1/files/{id}/download?redirect=false", None),
    ("GET", "/api/v1/files/{id}/content", None),
    ("GET", "/api/v1/files/{id}/permissions", None),
    (
        "POST",
        "/api/v1/files/{id}/permissions",
        Some(r#"{"subject":"user:mallory","access":"manage"}"#),
    ),
    ("DELETE", "/api/v1/files/{id}/permissions/{grant_id}", None),
    ("GET", "/api/v1/files/{id}/links", None),
    (
        "POST",
        "/api/v1/files/{id}/links",
        Some(r#"{"expires_at":"{soon}"}"#),
    ),
    ("DELETE", "/api/v1/files/{id}/links/{link_id}", None),
    (
        "PUT",
        "/api/v1/files/{id}/retention",
        Some(r#"{"mode":"compliance","retain_until":"2099-01-01T00:00:00Z"}"#),
    ),
    (
        "DELETE",
        "/api/v1/files/{id}/retention?bypass_governance=true",
        None,
    ),
    (
        "POST",
        "/api/v1/files/{id}/legal-holds",
        Some(r#"{"reason":"freeze"}"#),
    ),
    ("GET", "/api/v1/files/{id}/legal-holds", None),
    ("POST", "/api/v1/files/{id}/versions", Some(r#"{"size":9}"#)),
    ("GET", "/api/v1/files/{id}/versions", None),
    (
        "GET",
        "/api/v1/files/{id}/versions/{version}/download",
        None,
    ),
    ("GET", "/api/v1/files/{id}/versions/{version}/content", None),
    (
        "POST",
        "/api/v1/files/{id}/versions/{version}/restore",
        None,
    ),
    ("GET", "/api/v1/upload-requests/{request_id}", None),
    ("DELETE", "/api/v1/upload-requests/{request_id}", None),
];

#[test]
fn the_matrix_covers_every_file_route_of_the_api() {
    use utoipa::OpenApi as _;
    let doc = serde_json::to_value(coffer_server::http::ApiDoc::openapi()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.starts_with("/api/v1/files/{id}")
            && !path.starts_with("/api/v1/upload-requests/{id}")
        {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    let covered: BTreeSet<_> = ROUTES
        .iter()
        .map(|(m, p, _)| {
            let path = p.split('?').next().unwrap().replace("{request_id}", "{id}");
            ((*m).to_owned(), path)
        })
        .collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    assert!(
        missing.is_empty(),
        "routes missing from the isolation matrix: {missing:?}"
    );
}

async fn other_tenants_get_404_everywhere(mode: Mode) {
    let server = TestServer::start(mode).await;
    let a = server.tenant(json!({})).await;
    let b = server.tenant(json!({})).await;
    let alice = server.token(Some(&a), "alice", &["admin"]).await;
    // Same subject, other tenant, full admin: still sees nothing of A.
    let mallory = server.token(Some(&b), "alice", &["admin"]).await;
    let file = upload(
        &server,
        &alice,
        "secret.pdf",
        PDF,
        json!({ "visibility": "tenant" }),
    )
    .await;
    let id = file["id"].as_str().unwrap();
    let grant = ok_json(
        server
            .req(
                Method::POST,
                &format!("/api/v1/files/{id}/permissions"),
                &alice,
            )
            .json(&json!({ "subject": "user:bob", "access": "read" }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let grant_id = grant["id"].as_str().unwrap();
    let soon = (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let link = ok_json(
        server
            .req(Method::POST, &format!("/api/v1/files/{id}/links"), &alice)
            .json(&json!({ "expires_at": soon }))
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let link_id = link["id"].as_str().unwrap();
    let request = ok_json(
        server
            .req(Method::POST, "/api/v1/upload-requests", &alice)
            .json(
                &json!({ "path": "/inbox", "expires_at": soon, "max_files": 3, "max_size": 1000 }),
            )
            .send()
            .await
            .unwrap(),
        StatusCode::CREATED,
    )
    .await;
    let request_id = request["id"].as_str().unwrap();
    upload(&server, &mallory, "b-own.pdf", PDF, json!({})).await;

    for (method, template, body) in ROUTES {
        let path = template
            .replace("{id}", id)
            .replace("{grant_id}", grant_id)
            .replace("{link_id}", link_id)
            .replace("{request_id}", request_id)
            .replace("{version}", "1");
        let mut request = server.req(
            Method::from_bytes(method.as_bytes()).unwrap(),
            &path,
            &mallory,
        );
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.replace("{soon}", &soon));
        }
        let response = request.send().await.unwrap();
        problem(response, StatusCode::NOT_FOUND, "not_found").await;
    }

    // Nothing changed for A.
    let after = ok_json(
        server
            .req(Method::GET, &format!("/api/v1/files/{id}"), &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(after, file);
    let grants = ok_json(
        server
            .req(
                Method::GET,
                &format!("/api/v1/files/{id}/permissions"),
                &alice,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(grants["items"].as_array().unwrap().len(), 1);
    let links = ok_json(
        server
            .req(Method::GET, &format!("/api/v1/files/{id}/links"), &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    let links = links["items"].as_array().unwrap();
    assert_eq!(links.len(), 1, "no link was added: {links:?}");
    assert_eq!(links[0]["state"], "active", "nor revoked");
    let requests = |token: &str| {
        server
            .req(Method::GET, "/api/v1/upload-requests", token)
            .send()
    };
    let a_requests = ok_json(requests(&alice).await.unwrap(), StatusCode::OK).await;
    assert_eq!(a_requests["items"][0]["state"], "open", "not closed by B");
    let b_requests = ok_json(requests(&mallory).await.unwrap(), StatusCode::OK).await;
    assert_eq!(
        b_requests["items"],
        json!([]),
        "B lists none of A's requests"
    );
    let content = server
        .req(Method::GET, &format!("/api/v1/files/{id}/content"), &alice)
        .send()
        .await
        .unwrap();
    assert_eq!(content.bytes().await.unwrap().as_ref(), PDF);

    // Listings never cross.
    let names = |page: Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["filename"].as_str().unwrap().to_owned())
            .collect()
    };
    let a_page = ok_json(
        server
            .req(Method::GET, "/api/v1/files", &alice)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(a_page), vec!["secret.pdf"]);
    let b_page = ok_json(
        server
            .req(Method::GET, "/api/v1/files", &mallory)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(names(b_page), vec!["b-own.pdf"]);
}

async fn roles_and_grants_open_exactly_what_they_say(mode: Mode) {
    let server = TestServer::start(mode).await;
    let t = server.tenant(json!({})).await;
    let alice = server.token(Some(&t), "alice", &["editor"]).await;
    let eddie = server.token(Some(&t), "eddie", &["editor"]).await;
    let vic = server.token(Some(&t), "vic", &["viewer"]).await;
    let shared = upload(
        &server,
        &alice,
        "shared.pdf",
        PDF,
        json!({ "visibility": "tenant" }),
    )
    .await;
    let private = upload(&server, &alice, "private.pdf", PDF, json!({})).await;
    let (shared, private) = (
        shared["id"].as_str().unwrap(),
        private["id"].as_str().unwrap(),
    );
    let status = |token: &str, method: Method, path: String, body: Option<Value>| {
        let mut request = server.req(method, &path, token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { request.send().await.unwrap().status() }
    };
    let rename = || Some(json!({ "filename": format!("r-{}.pdf", uuid::Uuid::new_v4().simple()) }));

    // A viewer reads what is visible, writes nothing, creates nothing.
    assert_eq!(
        status(&vic, Method::GET, format!("/api/v1/files/{shared}"), None).await,
        StatusCode::OK
    );
    assert_eq!(
        status(
            &vic,
            Method::PATCH,
            format!("/api/v1/files/{shared}"),
            rename()
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(&vic, Method::GET, format!("/api/v1/files/{private}"), None).await,
        StatusCode::FORBIDDEN
    );
    let create = json!({ "filename": "v.pdf", "size": 1 });
    assert_eq!(
        status(&vic, Method::POST, "/api/v1/files".into(), Some(create)).await,
        StatusCode::FORBIDDEN
    );
    // Another editor can read the shared file but not manage or change it.
    assert_eq!(
        status(
            &eddie,
            Method::GET,
            format!("/api/v1/files/{shared}/download?redirect=false"),
            None
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(
            &eddie,
            Method::PATCH,
            format!("/api/v1/files/{shared}"),
            rename()
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            &eddie,
            Method::DELETE,
            format!("/api/v1/files/{shared}"),
            None
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        status(
            &eddie,
            Method::GET,
            format!("/api/v1/files/{shared}/permissions"),
            None
        )
        .await,
        StatusCode::FORBIDDEN
    );

    // Grants: read opens reading, write opens changing, neither opens managing.
    let grant = |access: &str| {
        server
            .req(
                Method::POST,
                &format!("/api/v1/files/{private}/permissions"),
                &alice,
            )
            .json(&json!({ "subject": "user:vic", "access": access }))
            .send()
    };
    ok_json(grant("read").await.unwrap(), StatusCode::CREATED).await;
    assert_eq!(
        status(&vic, Method::GET, format!("/api/v1/files/{private}"), None).await,
        StatusCode::OK
    );
    assert_eq!(
        status(
            &vic,
            Method::PATCH,
            format!("/api/v1/files/{private}"),
            rename()
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let write = ok_json(grant("write").await.unwrap(), StatusCode::CREATED).await;
    let grants = ok_json(
        server
            .req(
                Method::GET,
                &format!("/api/v1/files/{private}/permissions"),
                &alice,
            )
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        grants["items"].as_array().unwrap().len(),
        1,
        "a grant to the same subject is replaced"
    );
    assert_eq!(
        status(
            &vic,
            Method::PATCH,
            format!("/api/v1/files/{private}"),
            rename()
        )
        .await,
        StatusCode::OK
    );
    assert_eq!(
        status(
            &vic,
            Method::DELETE,
            format!("/api/v1/files/{private}"),
            None
        )
        .await,
        StatusCode::FORBIDDEN
    );
    let listed = ok_json(
        server
            .req(Method::GET, "/api/v1/files", &vic)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        2,
        "vic lists the shared and the granted file"
    );
    let gid = write["id"].as_str().unwrap();
    let revoke = server
        .req(
            Method::DELETE,
            &format!("/api/v1/files/{private}/permissions/{gid}"),
            &alice,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        status(&vic, Method::GET, format!("/api/v1/files/{private}"), None).await,
        StatusCode::FORBIDDEN
    );
}
