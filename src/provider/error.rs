//! Errors of the OpenID provider's endpoints, as RFC 6749 section 5.2 and RFC 6750 section 3 put
//! them on the wire. Their `Display` is the RFC error code.
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::keys::KeyError;
use crate::store::StoreError;

/// The error codes of OAuth 2.0 and OpenID Connect that idbridge sends: RFC 6749 sections 4.1.2.1
/// and 5.2, RFC 6750 section 3.1, OIDC Core 3.1.2.6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidToken,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnsupportedResponseType,
    InvalidScope,
    AccessDenied,
    LoginRequired,
    ConsentRequired,
    InteractionRequired,
    AccountSelectionRequired,
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The code as the wire carries it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::AccountSelectionRequired => "account_selection_required",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// The code a client is told when an upstream provider answered a login with `upstream`:
    /// the codes an authorization response may carry pass through, anything else is
    /// `access_denied`.
    pub fn passed_on_from(upstream: &str) -> ErrorCode {
        [
            ErrorCode::AccessDenied,
            ErrorCode::TemporarilyUnavailable,
            ErrorCode::ServerError,
            ErrorCode::LoginRequired,
            ErrorCode::ConsentRequired,
            ErrorCode::InteractionRequired,
            ErrorCode::AccountSelectionRequired,
        ]
        .into_iter()
        .find(|known| known.as_str() == upstream)
        .unwrap_or(ErrorCode::AccessDenied)
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error answered as JSON by the token, revocation and introspection endpoints.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.code())]
pub enum OAuthError {
    InvalidRequest(String),
    InvalidClient,
    InvalidGrant(String),
    UnauthorizedClient(String),
    UnsupportedGrantType,
    InvalidScope(String),
    /// The body is over the endpoint's limit.
    TooLarge,
    /// Over the address's or the client's rate (`limits::ClientRates`); may try again after
    /// the given time.
    TooManyRequests(Duration),
    Server(String),
    Store(StoreError),
}

impl OAuthError {
    pub fn code(&self) -> ErrorCode {
        match self {
            OAuthError::InvalidRequest(_) | OAuthError::TooLarge => ErrorCode::InvalidRequest,
            OAuthError::InvalidClient => ErrorCode::InvalidClient,
            OAuthError::InvalidGrant(_) => ErrorCode::InvalidGrant,
            OAuthError::UnauthorizedClient(_) => ErrorCode::UnauthorizedClient,
            OAuthError::UnsupportedGrantType => ErrorCode::UnsupportedGrantType,
            OAuthError::InvalidScope(_) => ErrorCode::InvalidScope,
            OAuthError::TooManyRequests(_) => ErrorCode::TemporarilyUnavailable,
            OAuthError::Store(e) if e.is_unavailable() => ErrorCode::TemporarilyUnavailable,
            OAuthError::Server(_) | OAuthError::Store(_) => ErrorCode::ServerError,
        }
    }
}

impl From<FormRejection> for OAuthError {
    fn from(rejection: FormRejection) -> OAuthError {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            OAuthError::TooLarge
        } else {
            OAuthError::InvalidRequest(rejection.body_text())
        }
    }
}

impl From<StoreError> for OAuthError {
    fn from(error: StoreError) -> OAuthError {
        OAuthError::Store(error)
    }
}

impl From<KeyError> for OAuthError {
    fn from(error: KeyError) -> OAuthError {
        match error {
            KeyError::Store(e) => OAuthError::Store(e),
            other => OAuthError::Server(other.to_string()),
        }
    }
}

/// The description of an answer that the database being out of reach made impossible.
const UNAVAILABLE: &str = "the service is briefly unavailable; try again in a moment";

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, description) = match &self {
            OAuthError::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                "client authentication failed".to_string(),
            ),
            OAuthError::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "the body is larger than this endpoint accepts".to_string(),
            ),
            OAuthError::TooManyRequests(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many requests; try again later".to_string(),
            ),
            OAuthError::Store(cause) if cause.is_unavailable() => {
                tracing::error!(error = %cause, "token endpoint failed");
                (StatusCode::SERVICE_UNAVAILABLE, UNAVAILABLE.to_string())
            }
            OAuthError::Store(cause) => internal_error(cause),
            OAuthError::Server(cause) => internal_error(cause),
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
            Json(json!({"error": self.code().as_str(), "error_description": description})),
        )
            .into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let OAuthError::TooManyRequests(wait) = self {
            // Whole seconds, rounded up: "0" would invite an immediate retry.
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"idbridge\""),
            );
        }
        response
    }
}

/// The 500 answer's status and description, with its cause logged.
fn internal_error(cause: &dyn std::fmt::Display) -> (StatusCode, String) {
    tracing::error!(error = %cause, "token endpoint failed");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error".to_string(),
    )
}

/// An error of a resource request with a bearer token (RFC 6750 section 3).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.code())]
pub enum BearerError {
    Missing,
    InvalidToken,
    Store(StoreError),
}

impl BearerError {
    pub fn code(&self) -> ErrorCode {
        match self {
            BearerError::Missing => ErrorCode::InvalidRequest,
            BearerError::InvalidToken => ErrorCode::InvalidToken,
            BearerError::Store(e) if e.is_unavailable() => ErrorCode::TemporarilyUnavailable,
            BearerError::Store(_) => ErrorCode::ServerError,
        }
    }
}

impl From<StoreError> for BearerError {
    fn from(error: StoreError) -> BearerError {
        BearerError::Store(error)
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let challenge = match &self {
            BearerError::Missing => "Bearer realm=\"idbridge\"".to_string(),
            BearerError::InvalidToken => "Bearer realm=\"idbridge\", error=\"invalid_token\", \
                 error_description=\"the access token is unknown, expired or revoked\""
                .to_string(),
            BearerError::Store(cause) => return server_failure(self.code(), cause),
        };
        let mut response = (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": self.code().as_str()})),
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

/// The answer of a resource request that failed on our side: 503 when the database is out of
/// reach (`temporarily_unavailable`), 500 otherwise; the cause goes to the log only.
fn server_failure(code: ErrorCode, cause: &StoreError) -> Response {
    tracing::error!(error = %cause, "userinfo failed");
    let status = match code {
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({"error": code.as_str()}))).into_response()
}

/// An error of an authorization request that may be sent back to the client, because its
/// redirect URI has been checked against the registered ones (OIDC Core 3.1.2.6).
#[derive(Debug, Clone)]
pub struct AuthorizationError {
    pub code: ErrorCode,
    pub description: String,
}

impl AuthorizationError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> AuthorizationError {
        AuthorizationError {
            code,
            description: description.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_show_their_rfc_code() {
        assert_eq!(OAuthError::InvalidClient.to_string(), "invalid_client");
        assert_eq!(OAuthError::Server("x".into()).to_string(), "server_error");
        assert_eq!(BearerError::Missing.to_string(), "invalid_request");
        assert_eq!(BearerError::InvalidToken.to_string(), "invalid_token");
        assert_eq!(
            ErrorCode::passed_on_from("interaction_required"),
            ErrorCode::InteractionRequired
        );
        assert_eq!(
            ErrorCode::passed_on_from("invalid_client"),
            ErrorCode::AccessDenied
        );
    }
}
