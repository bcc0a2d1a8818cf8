//! What can go wrong with a session URL, and the one place where that becomes HTTP: JSON
//! `{"ResultMessage": ...}` for the backend that asks for a URL, an HTML error page for the
//! browser that opens one. Nothing is stored or changed when an error is returned.
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::target::TargetError;
use crate::api_auth::{self, ApiAuthError};
use crate::http::PageError;
use crate::store::StoreError;

/// An error of `POST /urlgenerator/generateusersessionurl`.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error(transparent)]
    Auth(#[from] ApiAuthError),
    #[error("body not understood: {0}")]
    Body(#[from] JsonRejection),
    #[error(transparent)]
    Target(#[from] TargetError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl IntoResponse for GenerateError {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            GenerateError::Auth(auth) => {
                let (status, _, message) = auth.answer();
                (status, message.to_string())
            }
            GenerateError::Body(rejection) => {
                let (status, message) = api_auth::unreadable_body(
                    rejection.status(),
                    "the body must be a JSON object with a TargetUrl string",
                );
                (status, message.to_string())
            }
            GenerateError::Target(refused) => (StatusCode::BAD_REQUEST, refused.to_string()),
            GenerateError::Store(e) if e.is_unavailable() => {
                let (status, _, message) = api_auth::UNAVAILABLE;
                (status, message.to_string())
            }
            GenerateError::Store(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error".to_string(),
            ),
        };
        api_auth::log_failure(status, &self);
        let mut response = (status, Json(json!({"ResultMessage": message}))).into_response();
        if let GenerateError::Auth(auth) = &self {
            auth.add_headers(&mut response);
        }
        response
    }
}

/// An error of opening a session URL: `GET` or `POST /surl/{token}`.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("the session URL is unknown, was opened before, or has expired")]
    Unusable,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<OpenError> for PageError {
    fn from(error: OpenError) -> PageError {
        match error {
            OpenError::Unusable => PageError::SessionUrlUnusable,
            OpenError::Store(e) => PageError::Store(e),
        }
    }
}
