//! What the admin API refuses, and the one place where that becomes HTTP: JSON
//! `{"error": code, "message": text}` with the status, and `field` where one field is at fault.
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::api_auth::{self, ApiAuthError};
use crate::config::Problem;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Auth(#[from] ApiAuthError),
    /// A field of the request (a JSON path into the body, or a query parameter) is not valid.
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
    /// The change breaks rules of the config file: each problem names its field, by its JSON
    /// path in the body, or by its section and id (`connections["acme"].entity`) when the change
    /// breaks another declaration.
    #[error("{}", problems_text(.0))]
    Rules(Vec<Problem>),
    #[error("{resource} {id:?} cannot go: {what}")]
    InUse {
        resource: &'static str,
        id: String,
        what: String,
    },
    #[error("the body is larger than this endpoint accepts")]
    TooLarge,
    #[error("the body must be a JSON object (Content-Type: application/json)")]
    NotJson,
    #[error("no {resource} {id:?}")]
    NotFound { resource: &'static str, id: String },
    #[error(
        "{resource} {id:?} is declared in the config file: change it there, and restart or reload"
    )]
    ManagedByConfig { resource: &'static str, id: String },
    #[error("this credential may give only the scopes it holds, and not {scope}")]
    ScopeNotHeld { scope: String },
    #[error("{resource} {id:?} exists already")]
    Exists { resource: &'static str, id: String },
    #[error("{resource} {id:?} changed since it was read (If-Match does not match its ETag)")]
    Stale { resource: &'static str, id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("too many admin requests with this credential; try again in {retry_after} s")]
    TooFrequent { retry_after: u64 },
    #[error("internal error: {0}")]
    Internal(String),
}

impl AdminError {
    pub fn invalid(field: impl Into<String>, problem: impl Into<String>) -> AdminError {
        AdminError::Invalid {
            field: field.into(),
            problem: problem.into(),
        }
    }

    /// Whether this is the operator's request refused (audited as such), rather than one that
    /// never got in or a failure of idbridge's own.
    pub fn is_refusal(&self) -> bool {
        !matches!(
            self,
            AdminError::Auth(_)
                | AdminError::TooFrequent { .. }
                | AdminError::Store(_)
                | AdminError::Internal(_)
        )
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AdminError::Auth(auth) => {
                let (status, code, _) = auth.answer();
                (status, code)
            }
            AdminError::Invalid { .. } | AdminError::Rules(_) | AdminError::NotJson => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            AdminError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            AdminError::ScopeNotHeld { .. } => (StatusCode::FORBIDDEN, "forbidden"),
            AdminError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            AdminError::ManagedByConfig { .. } => (StatusCode::CONFLICT, "managed_by_config"),
            AdminError::Exists { .. } => (StatusCode::CONFLICT, "exists"),
            AdminError::InUse { .. } => (StatusCode::CONFLICT, "in_use"),
            AdminError::Stale { .. } => (StatusCode::PRECONDITION_FAILED, "precondition_failed"),
            AdminError::TooFrequent { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
            AdminError::Store(e) if e.is_unavailable() => {
                let (status, code, _) = api_auth::UNAVAILABLE;
                (status, code)
            }
            AdminError::Store(_) | AdminError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "server_error")
            }
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        api_auth::log_failure(status, &self);
        let message = match &self {
            AdminError::Auth(auth) => auth.answer().2.to_string(),
            AdminError::Store(e) if e.is_unavailable() => api_auth::UNAVAILABLE.2.to_string(),
            AdminError::Store(_) | AdminError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        };
        let mut body = json!({ "error": code, "message": message });
        match &self {
            AdminError::Invalid { field, .. } => body["field"] = json!(field),
            AdminError::Rules(problems) => {
                body["field"] = json!(problems.first().map(|p| &p.path));
                body["problems"] = problems
                    .iter()
                    .map(|p| json!({ "field": p.path, "problem": p.message }))
                    .collect();
            }
            _ => {}
        }
        let mut response = (status, Json(body)).into_response();
        match &self {
            AdminError::Auth(auth) => auth.add_headers(&mut response),
            AdminError::TooFrequent { retry_after } => {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
            }
            _ => {}
        }
        response
    }
}

/// `field: problem; field: problem`.
fn problems_text(problems: &[Problem]) -> String {
    let each: Vec<String> = problems.iter().map(Problem::to_string).collect();
    each.join("; ")
}
