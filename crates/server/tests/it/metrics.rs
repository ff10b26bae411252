//! Issue 21, finding 2: `/metrics` labels are bounded. A path no route
//! matches is `endpoint="unmatched"` and a method outside RFC 9110's set is
//! `method="OTHER"`, however many distinct ones arrive; routes keep their
//! pattern.

use reqwest::{Method, StatusCode};

use crate::support::{Mode, TestServer};

#[actix_web::test]
async fn unmatched_paths_and_unknown_methods_fold_into_fixed_labels() {
    let server = TestServer::start(Mode::Embedded).await;
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let long = "x".repeat(4096);
    for i in 0..200 {
        // Inside the API's scope too, where a prefix matched.
        let scope = if i % 2 == 0 { "" } else { "/api/v1" };
        let path = format!("{scope}/probe-{tag}-{i}/{long}");
        let response = server.http.get(server.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
    for (i, method) in ["PROBE", "BREW", "PROPFIND", "X-TAG"].iter().enumerate() {
        let method = Method::from_bytes(format!("{method}{i}{}", &tag[..8]).as_bytes()).unwrap();
        for path in ["/api/v1/files", &format!("/probe-{tag}-method")] {
            let response = server
                .http
                .request(method.clone(), server.url(path))
                .send()
                .await
                .unwrap();
            assert!(response.status().is_client_error(), "{method} {path}");
        }
    }
    // A known route, for its label.
    let health = server
        .http
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert!(health.status().is_success());

    let metrics = server.prometheus().await;
    assert!(metrics.len() < 200_000, "{} bytes", metrics.len());
    assert!(!metrics.contains(&tag), "{metrics}");
    assert!(!metrics.contains("PROBE"), "{metrics}");
    assert!(
        metrics.contains(r#"endpoint="unmatched",method="GET",status="404""#),
        "{metrics}"
    );
    assert!(metrics.contains(r#"method="OTHER""#), "{metrics}");
    assert!(metrics.contains(r#"endpoint="/healthz""#), "{metrics}");
}
