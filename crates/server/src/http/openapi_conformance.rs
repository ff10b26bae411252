//! What the handlers' annotations cannot say on their own, applied to the
//! generated document: every error answer is `application/problem+json`,
//! every operation declares the statuses every request can meet (no token,
//! a malformed id or body, a rate limit, a dependency down), and the
//! streamed upload is the `multipart/form-data` body of `POST /api/v1/files`
//! rather than a path key of its own.

use utoipa::Modify;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{OneOfBuilder, Schema};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, ResponseBuilder};

/// Where the streamed upload is annotated (a path key per operation is all
/// utoipa's annotations allow) before it is folded into `POST /api/v1/files`.
pub const FORM_UPLOAD_PATH: &str = "/api/v1/files#multipart";

const PROBLEM_JSON: &str = "application/problem+json";

pub struct Conformance;

impl Modify for Conformance {
    fn modify(&self, openapi: &mut OpenApi) {
        fold_form_upload(openapi);
        for (path, item) in &mut openapi.paths.paths {
            for op in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                declare_common_errors(op, path);
                problems_as_problem_json(op);
            }
        }
    }
}

/// Move the form upload's request body and responses into the JSON
/// initiation's operation: one `POST /api/v1/files`, two request types,
/// `201` with either answer.
fn fold_form_upload(openapi: &mut OpenApi) {
    let Some(form) = openapi
        .paths
        .paths
        .remove(FORM_UPLOAD_PATH)
        .and_then(|item| item.post)
    else {
        return;
    };
    let Some(op) = openapi
        .paths
        .paths
        .get_mut("/api/v1/files")
        .and_then(|item| item.post.as_mut())
    else {
        return;
    };
    if let (Some(RefOr::T(body)), Some(RefOr::T(form_body))) =
        (op.request_body.as_mut(), form.request_body)
    {
        body.content.extend(form_body.content);
        body.description = Some(
            "JSON: initiate a direct upload (the bytes go to the store). \
             multipart/form-data: stream the file through Coffer (fields first, the `file` part last)."
                .to_owned(),
        );
    }
    let either = Schema::OneOf(
        OneOfBuilder::new()
            .item(Ref::from_schema_name("InitiatedDto"))
            .item(Ref::from_schema_name("FileDto"))
            .build(),
    );
    if let Some(RefOr::T(created)) = op.responses.responses.get_mut("201") {
        created.description =
            "The initiated upload (JSON request) or the stored file (form request)".to_owned();
        created.content.insert(
            "application/json".to_owned(),
            RefOr::T(Content::new(Some(either))),
        );
    }
    for (status, response) in form.responses.responses {
        op.responses.responses.entry(status).or_insert(response);
    }
}

/// The statuses any request of this kind can meet, beyond what its handler
/// names: 400 (a path id or body that does not parse), 401 (bearer routes),
/// 404 (an id unknown or another tenant's), 413/415 (a body too large or
/// not JSON), 429 (rate limits) and 503 (a dependency down, a timeout).
fn declare_common_errors(op: &mut Operation, path: &str) {
    let has_id = path.contains('{');
    let bearer = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = op.request_body.is_some();
    let has_query = op
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query));
    // The routes of a tenant's own data answer for its lifecycle; the
    // platform's (tenants, platform metrics) do not.
    let of_a_tenant =
        bearer && !path.starts_with("/api/v1/tenants") && !path.starts_with("/api/v1/platform");
    let mut add = |status: &str, when: &str| {
        op.responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| {
                RefOr::T(
                    ResponseBuilder::new()
                        .description(when)
                        .content(
                            PROBLEM_JSON,
                            Content::new(Some(Ref::from_schema_name("Problem"))),
                        )
                        .build(),
                )
            });
    };
    if has_id || has_body || has_query {
        add("400", "The path id, the query or the body does not parse");
    }
    if bearer {
        add("401", "No token, or a token that is refused");
        add("403", "The caller's role or grants do not allow it");
    }
    if of_a_tenant {
        add("402", "The tenant is suspended");
        add("410", "The tenant is cancelled");
    }
    if has_id {
        add("404", "Unknown, or another tenant's");
    }
    if has_body {
        add("413", "The body is too large");
        add("415", "The body is not JSON");
    }
    if has_body || has_query {
        add("422", "The body or query parses but a value is refused");
    }
    add("429", "Too many requests (Retry-After)");
    add(
        "503",
        "A dependency is down, or the request did not finish in time (Retry-After)",
    );
}

/// Error answers as the server sends them: `application/problem+json`.
fn problems_as_problem_json(op: &mut Operation) {
    for (status, response) in &mut op.responses.responses {
        let is_error = status.starts_with('4') || status.starts_with('5');
        if let (true, RefOr::T(response)) = (is_error, response)
            && let Some(content) = response.content.shift_remove("application/json")
        {
            response.content.insert(PROBLEM_JSON.to_owned(), content);
        }
    }
}

#[cfg(test)]
mod tests {
    use utoipa::OpenApi as _;

    use super::*;
    use crate::http::ApiDoc;

    fn document() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap_or_default()
    }

    #[test]
    fn no_path_key_carries_a_fragment_and_the_form_upload_is_a_post_body() {
        let doc = document();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        assert!(paths.keys().all(|p| !p.contains('#')), "{:?}", paths.keys());
        let body = &doc["paths"]["/api/v1/files"]["post"]["requestBody"]["content"];
        assert!(body["application/json"].is_object(), "{body}");
        assert!(body["multipart/form-data"].is_object(), "{body}");
        let created = &doc["paths"]["/api/v1/files"]["post"]["responses"]["201"];
        assert_eq!(
            created["content"]["application/json"]["schema"]["oneOf"]
                .as_array()
                .map(Vec::len),
            Some(2),
            "{created}"
        );
    }

    #[test]
    fn every_error_answer_is_problem_json_and_every_status_a_request_can_meet_is_declared() {
        let doc = document();
        let paths = doc["paths"].as_object().cloned().unwrap_or_default();
        let mut operations = 0;
        for (path, item) in &paths {
            for (method, op) in item.as_object().cloned().unwrap_or_default() {
                operations += 1;
                let responses = op["responses"].as_object().cloned().unwrap_or_default();
                for (status, response) in &responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let content = response["content"].as_object().cloned().unwrap_or_default();
                        assert!(
                            content.keys().all(|c| c == PROBLEM_JSON) && !content.is_empty(),
                            "{method} {path} {status}: {content:?}"
                        );
                    }
                }
                if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                    assert!(responses.contains_key("401"), "{method} {path}");
                    assert!(responses.contains_key("403"), "{method} {path}");
                    if path.starts_with("/api/v1/files") {
                        assert!(responses.contains_key("402"), "{method} {path}");
                        assert!(responses.contains_key("410"), "{method} {path}");
                    }
                }
                if op["requestBody"].is_object() {
                    assert!(responses.contains_key("422"), "{method} {path}");
                }
                let queried = op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
                if queried {
                    assert!(responses.contains_key("400"), "{method} {path}");
                    assert!(responses.contains_key("422"), "{method} {path}");
                }
                if path.contains('{') {
                    assert!(responses.contains_key("404"), "{method} {path}");
                }
                assert!(responses.contains_key("429"), "{method} {path}");
            }
        }
        assert!(operations > 30, "{operations}");
    }
}
