//! What can go wrong when a product token is asked for, and the one place where that becomes
//! HTTP: an HTML error page for a browser (`GET /sso/jwt/{product}`), JSON for a backend
//! (`POST /api/v1/products/{product}/login-url`). Nothing is signed when an error is returned,
//! and the browser is never redirected anywhere on an error.
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::api_auth::{self, ApiAuthError, json_error, unreadable_body};
use crate::http::PageError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ProductError {
    #[error("no such product")]
    UnknownProduct,
    #[error("no such user")]
    UnknownUser,
    #[error("the user is disabled")]
    UserDisabled,
    /// The request names a destination or parameter this product does not accept; the text
    /// is shown to the caller.
    #[error("{0}")]
    BadRequest(&'static str),
    /// A workspace token names its user by email address, and this user has none.
    #[error("the user has no email address, which this product signs people in by")]
    NoEmail,
    #[error("cannot sign the token: {0}")]
    Sign(#[from] jsonwebtoken::errors::Error),
    #[error("cannot build the login URL: {0}")]
    Url(#[from] url::ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ProductError> for PageError {
    fn from(error: ProductError) -> PageError {
        match error {
            ProductError::UnknownProduct => PageError::NotFound,
            ProductError::BadRequest(message) => PageError::BadRequest(message),
            ProductError::NoEmail => PageError::BadRequest(
                "This application signs people in by their email address, and your account has \
                 none yet. Ask whoever sent you here to add your email address, then try again.",
            ),
            ProductError::Store(e) => PageError::Store(e),
            ProductError::UserDisabled => PageError::Store(StoreError::UserDisabled),
            other => PageError::Internal(other.to_string()),
        }
    }
}

/// An error of the login-URL API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] ApiAuthError),
    #[error(transparent)]
    Product(#[from] ProductError),
    #[error("body not understood: {0}")]
    Body(#[from] JsonRejection),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Auth(auth) => auth.into_response(),
            ApiError::Body(rejection) => {
                let (status, message) = unreadable_body(
                    rejection.status(),
                    "the body must be a JSON object with user_id or internal_customer and the \
                     destination's fields",
                );
                json_error(status, "invalid_request", message, &rejection)
            }
            ApiError::Product(error) => {
                let (status, code, message) = match &error {
                    ProductError::UnknownProduct => {
                        (StatusCode::NOT_FOUND, "not_found", "no such product")
                    }
                    ProductError::UnknownUser => {
                        (StatusCode::NOT_FOUND, "not_found", "no such user")
                    }
                    ProductError::UserDisabled => (
                        StatusCode::FORBIDDEN,
                        "user_disabled",
                        "the user is disabled",
                    ),
                    ProductError::BadRequest(message) => {
                        (StatusCode::BAD_REQUEST, "invalid_request", *message)
                    }
                    ProductError::NoEmail => (
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "no_email",
                        "the user has no email address, which this product signs people in by",
                    ),
                    ProductError::Store(e) if e.is_unavailable() => api_auth::UNAVAILABLE,
                    ProductError::Sign(_) | ProductError::Url(_) | ProductError::Store(_) => (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        "internal error",
                    ),
                };
                json_error(status, code, message, &error)
            }
        }
    }
}
