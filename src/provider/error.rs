//! Errors of the OpenID provider's endpoints, as RFC 6749 section 5.2 and RFC 6750 section 3 put
//! them on the wire. Their `Display` is the RFC error code.
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::keys::KeyError;
use crate::store::StoreError;

/// An error answered as JSON by the token, revocation and introspection endpoints.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request")]
    InvalidRequest(String),
    #[error("invalid_client")]
    InvalidClient,
    #[error("invalid_grant")]
    InvalidGrant(String),
    #[error("unauthorized_client")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("invalid_scope")]
    InvalidScope(String),
    #[error("server_error")]
    Server(String),
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> OAuthError {
        OAuthError::Server(error.to_string())
    }
}

impl From<KeyError> for OAuthError {
    fn from(error: KeyError) -> OAuthError {
        OAuthError::Server(error.to_string())
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, description) = match &self {
            OAuthError::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "client authentication failed".to_string(),
            ),
            OAuthError::Server(cause) => {
                tracing::error!(error = %cause, "token endpoint failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error".to_string(),
                )
            }
            OAuthError::UnsupportedGrantType => (
                StatusCode::BAD_REQUEST,
                "grant_type is not supported".to_string(),
            ),
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::UnauthorizedClient(d)
            | OAuthError::InvalidScope(d) => (StatusCode::BAD_REQUEST, d.clone()),
        };
        if !status.is_server_error() {
            tracing::info!(error = %self, description, "oauth request refused");
        }
        let mut response = (
            status,
            Json(json!({"error": self.to_string(), "error_description": description})),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"idbridge\""),
            );
        }
        response
    }
}

/// An error of a resource request with a bearer token (RFC 6750 section 3).
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("invalid_request")]
    Missing,
    #[error("invalid_token")]
    InvalidToken,
    #[error("server_error")]
    Server(String),
}

impl From<StoreError> for BearerError {
    fn from(error: StoreError) -> BearerError {
        BearerError::Server(error.to_string())
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let challenge = match &self {
            BearerError::Missing => "Bearer realm=\"idbridge\"".to_string(),
            BearerError::InvalidToken => "Bearer realm=\"idbridge\", error=\"invalid_token\", \
                 error_description=\"the access token is unknown, expired or revoked\""
                .to_string(),
            BearerError::Server(cause) => {
                tracing::error!(error = %cause, "userinfo failed");
                return (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({"error": "server_error"})),
                )
                    .into_response();
            }
        };
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": self.to_string()})),
        )
            .into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// An error of an authorization request that may be sent back to the client, because its
/// redirect URI has been checked against the registered ones (OIDC Core 3.1.2.6).
#[derive(Debug, Clone)]
pub struct AuthorizationError {
    pub code: &'static str,
    pub description: String,
}

impl AuthorizationError {
    pub fn new(code: &'static str, description: impl Into<String>) -> AuthorizationError {
        AuthorizationError {
            code,
            description: description.into(),
        }
    }
}
