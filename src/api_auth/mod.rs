//! HTTP Basic authentication of the server-to-server APIs (SPEC section 7) against the
//! `[[api_credentials]]`, whose passwords are argon2id hashes. An unknown username costs the same
//! argon2 work and gets the same answer as a wrong password. A credential that verified is
//! remembered for a minute ([`VerifiedCache`]), so a busy backend does not pay argon2 on every
//! call. Failures are counted per client address (SPEC section 11), not per username, so that
//! nobody can lock a backend out by failing in its name.
mod basic;
mod cache;

use axum::Json;
use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub use basic::{ApiCredential, basic_pair};
pub use cache::VerifiedCache;

use crate::password::PasswordError;
use crate::password_check::{ADDRESS_RULE, Checked, PasswordChecker};
use crate::store::StoreError;
use crate::vocabulary::addresses::address_key;

#[derive(Debug, thiserror::Error)]
pub enum ApiAuthError {
    #[error("no HTTP Basic credentials")]
    Missing,
    #[error("wrong API username or password")]
    Invalid,
    #[error("too many failed API logins from this address; blocked until {until}")]
    Throttled { until: i64, now: i64 },
    #[error("API credential {username:?} lacks scope {scope}")]
    MissingScope {
        username: String,
        scope: &'static str,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Password(#[from] PasswordError),
}

/// Checks the request's HTTP Basic credentials, sent from `client` (the address resolved through
/// trusted proxies), and that they hold `required_scope` (one of [`crate::config::API_SCOPES`]).
pub async fn authenticate(
    cache: &VerifiedCache,
    checker: PasswordChecker<'_>,
    now: i64,
    headers: &HeaderMap,
    client: IpAddr,
    required_scope: &'static str,
) -> Result<ApiCredential, ApiAuthError> {
    let (username, password) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(basic_pair)
        .ok_or(ApiAuthError::Missing)?;
    let credential = match cache.get(&username, &password, now) {
        Some(credential) => credential,
        None => {
            let _turn = cache.turn(&username, &password).await;
            match cache.get(&username, &password, now) {
                Some(credential) => credential,
                None => {
                    let credential = verify(checker, &username, &password, client, now).await?;
                    cache.insert(&username, &password, &credential, now);
                    credential
                }
            }
        }
    };
    if !credential.scopes.iter().any(|s| s == required_scope) {
        return Err(ApiAuthError::MissingScope {
            username: credential.username,
            scope: required_scope,
        });
    }
    Ok(credential)
}

/// Verifies a password against the stored argon2id hash, or against the dummy hash when no
/// credential has that username, so that both take the same time; the attempt counts against the
/// client address (its /64 for IPv6), and is not checked at all once that has failed too often.
async fn verify(
    checker: PasswordChecker<'_>,
    username: &str,
    password: &str,
    client: IpAddr,
    now: i64,
) -> Result<ApiCredential, ApiAuthError> {
    let address_key = address_key("api-address", client);
    let keys = [(address_key.as_str(), ADDRESS_RULE)];
    let stored = checker.store.find_api_credential(username).await?;
    let stored_hash = stored.as_ref().map(|c| c.password_hash.clone());
    // Checked before the match: an unknown username does the same work and counts the same.
    match checker
        .check::<ApiAuthError>(&keys, stored_hash, password, now)
        .await?
    {
        Checked::Correct => {
            let stored = stored.ok_or_else(|| {
                StoreError::Corrupt("a password matched without a credential".into())
            })?;
            Ok(ApiCredential {
                username: stored.username,
                scopes: stored.scopes.split_whitespace().map(String::from).collect(),
            })
        }
        Checked::Wrong => Err(ApiAuthError::Invalid),
        Checked::Throttled { until } => Err(ApiAuthError::Throttled { until, now }),
    }
}

impl ApiAuthError {
    /// The status of this failure's answer, its `error` code and the text for the caller.
    pub fn answer(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiAuthError::Missing | ApiAuthError::Invalid => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "HTTP Basic credentials of an API credential are required",
            ),
            ApiAuthError::Throttled { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "too many failed logins from this address; try again later",
            ),
            ApiAuthError::MissingScope { .. } => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "this API credential is not allowed to use this API",
            ),
            ApiAuthError::Password(PasswordError::Busy(_)) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many password checks at once; try again in a moment",
            ),
            ApiAuthError::Store(e) if e.is_unavailable() => UNAVAILABLE,
            ApiAuthError::Store(_) | ApiAuthError::Password(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            ),
        }
    }

    /// Adds the header that goes with this failure's answer, whatever its body: the Basic
    /// challenge of a 401 (RFC 7617), the `Retry-After` of a 429.
    pub fn add_headers(&self, response: &mut Response) {
        let extra = match self {
            ApiAuthError::Missing | ApiAuthError::Invalid => Some((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"idbridge\", charset=\"UTF-8\""),
            )),
            ApiAuthError::Throttled { until, now } => {
                Some((header::RETRY_AFTER, HeaderValue::from((until - now).max(1))))
            }
            ApiAuthError::Password(PasswordError::Busy(wait)) => Some((
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
            )),
            _ => None,
        };
        if let Some((name, value)) = extra {
            response.headers_mut().insert(name, value);
        }
    }
}

impl IntoResponse for ApiAuthError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.answer();
        let mut response = json_error(status, code, message, &self);
        self.add_headers(&mut response);
        response
    }
}

/// The answer's status, `error` code and text when the database is out of reach.
pub const UNAVAILABLE: (StatusCode, &str, &str) = (
    StatusCode::SERVICE_UNAVAILABLE,
    "temporarily_unavailable",
    "the service is briefly unavailable; try again in a moment",
);

/// The JSON error answer of the server-to-server APIs, `{"error": code, "message": text}`, with
/// its log line.
pub fn json_error(
    status: StatusCode,
    code: &'static str,
    message: &str,
    cause: &dyn std::error::Error,
) -> Response {
    log_failure(status, cause);
    (status, Json(json!({"error": code, "message": message}))).into_response()
}

/// The status and message of an API request whose body could not be read: 413 when it is over
/// the endpoint's limit (`rejected` is the extractor's status), else 400 with what was expected.
pub fn unreadable_body(rejected: StatusCode, expected: &'static str) -> (StatusCode, &'static str) {
    if rejected == StatusCode::PAYLOAD_TOO_LARGE {
        (rejected, "the body is larger than this endpoint accepts")
    } else {
        (StatusCode::BAD_REQUEST, expected)
    }
}

/// The log line of a failed API request: the cause at `error` level for a 5xx, at `info`
/// otherwise.
pub fn log_failure(status: StatusCode, cause: &dyn std::error::Error) {
    if status.is_server_error() {
        tracing::error!(error = %cause, "API request failed");
    } else {
        tracing::info!(error = %cause, "API request refused");
    }
}
