//! The one mapping from use-case errors to HTTP: RFC 9457 problem+json with
//! a stable `code`, and `WWW-Authenticate` on 401.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use coffer_api::Problem;
use coffer_domain::ErrorCode;
use coffer_service::{ErrorKind, ServiceError};

/// An error as the API answers it.
#[derive(Debug)]
pub struct ApiError(pub ServiceError);

impl ApiError {
    pub fn new(kind: ErrorKind, code: ErrorCode, detail: impl Into<String>) -> Self {
        Self(ServiceError::new(kind, code, detail))
    }

    /// A request the server cannot parse (400).
    pub fn malformed(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self::new(ErrorKind::Malformed, code, detail)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        Self(err)
    }
}

pub fn status_of(err: &ServiceError) -> StatusCode {
    match err.kind {
        ErrorKind::Malformed => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Conflict => StatusCode::CONFLICT,
        ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::RangeNotSatisfiable => StatusCode::RANGE_NOT_SATISFIABLE,
        ErrorKind::TenantSuspended => StatusCode::PAYMENT_REQUIRED,
        ErrorKind::TenantCancelled => StatusCode::GONE,
        ErrorKind::Unsupported => StatusCode::NOT_IMPLEMENTED,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The problem document for `code` at `status`.
fn problem(status: StatusCode, code: &str, detail: &str, field: Option<&str>) -> Problem {
    Problem {
        kind: "about:blank".to_owned(),
        title: status.canonical_reason().unwrap_or("Error").to_owned(),
        status: status.as_u16(),
        detail: detail.to_owned(),
        code: code.to_owned(),
        field: field.map(str::to_owned),
    }
}

/// The problem `err` answers with at `status`.
pub fn problem_of(status: StatusCode, err: &ServiceError) -> Problem {
    problem(status, err.code.as_str(), &err.detail, err.field)
}

/// `code` is a string, not an [`ErrorCode`], because `/storage` answers with
/// the local-disk store's own S3-style codes (`coffer-fs`).
pub fn problem_response(
    status: StatusCode,
    code: &str,
    detail: &str,
    field: Option<&'static str>,
) -> HttpResponse {
    let problem = problem(status, code, detail, field);
    let mut response = HttpResponse::build(status);
    response.content_type("application/problem+json");
    if status == StatusCode::UNAUTHORIZED {
        let challenge = if code == ErrorCode::MissingToken.as_str() {
            "Bearer realm=\"coffer\"".to_owned()
        } else {
            // `invalid_token` here is RFC 6750's error attribute, not a Coffer code.
            format!(
                "Bearer realm=\"coffer\", error=\"invalid_token\", error_description=\"{}\"",
                code
            )
        };
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response.insert_header((header::WWW_AUTHENTICATE, value));
        }
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.insert_header((header::RETRY_AFTER, "5"));
    }
    response.json(problem)
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        status_of(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if status.is_server_error() {
            tracing::warn!(code = self.0.code.as_str(), detail = %self.0.detail, "request failed");
        }
        problem_response(status, self.0.code.as_str(), &self.0.detail, self.0.field)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use coffer_domain::ErrorCode;

    /// The codes in docs/api.md's error table, each with the status row it
    /// is listed under: the last cell of every `| <status> | … |` row.
    fn documented_codes() -> Vec<(u16, String)> {
        let mut codes = Vec::new();
        for line in include_str!("../../../../docs/api.md").lines() {
            let cells: Vec<&str> = line.trim().trim_matches('|').split('|').collect();
            let (Some(first), Some(last)) = (cells.first(), cells.last()) else {
                continue;
            };
            let Ok(status) = first.trim().parse::<u16>() else {
                continue;
            };
            for (i, quoted) in last.split('`').enumerate() {
                if i % 2 == 1 {
                    codes.push((status, quoted.to_owned()));
                }
            }
        }
        codes
    }

    #[test]
    fn the_docs_error_table_lists_exactly_the_error_codes() {
        let documented = documented_codes();
        assert!(
            !documented.is_empty(),
            "no error table found in docs/api.md"
        );
        let mut seen: BTreeMap<&str, u16> = BTreeMap::new();
        for (status, code) in &documented {
            assert!(
                ErrorCode::ALL.iter().any(|c| c.as_str() == code),
                "docs/api.md lists `{code}` under {status}, but ErrorCode has no such code"
            );
            if let Some(before) = seen.insert(code, *status) {
                panic!("docs/api.md lists `{code}` twice (under {before} and {status})");
            }
        }
        for code in ErrorCode::ALL {
            assert!(
                seen.contains_key(code.as_str()),
                "ErrorCode::{code:?} (`{code}`) is missing from the error table in docs/api.md"
            );
        }
    }
}
