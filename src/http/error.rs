//! Errors shown to a person as an HTML page: a plain explanation and the right status, never
//! internals (those go to the log); and those of the one endpoint a provider calls server to
//! server ([`BackChannelError`], JSON).
use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::password::PasswordError;
use crate::store::StoreError;
use crate::upstream::UpstreamError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("the form could not be read: {0}")]
    BadForm(#[from] FormRejection),
    #[error("the CSRF token is missing or wrong")]
    Csrf,
    #[error("no such page")]
    NotFound,
    /// A request a domain refused with its own explanation, which is shown as it is (a
    /// product's destination rules).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    #[error("the authorization request could not be read")]
    UnreadableAuthorization,
    #[error("the authorization names no registered client")]
    UnknownClient,
    #[error("the authorization's redirect_uri is not registered")]
    UnregisteredRedirectUri,
    #[error("the pending authorization is unknown, expired or finished")]
    AuthorizationExpired,
    #[error("the pending authorization belongs to another browser")]
    AuthorizationOfAnotherBrowser,
    #[error("the pending authorization was finished by another request")]
    AuthorizationFinished,
    #[error("the consent form carries no decision")]
    NoConsentDecision,
    #[error("the logout names an unknown client_id")]
    LogoutUnknownClient,
    #[error("the logout's client_id is not the id_token_hint's audience")]
    LogoutClientMismatch,
    #[error("a post_logout_redirect_uri without a client")]
    LogoutRedirectWithoutClient,
    #[error("the post_logout_redirect_uri is not registered")]
    LogoutRedirectUnregistered,
    #[error("the post_logout_redirect_uri does not parse")]
    LogoutRedirectUnreadable,
    #[error("the id_token_hint is not an ID token of this issuer")]
    ForeignIdTokenHint,
    #[error("the demo callback carries no code")]
    DemoCallbackWithoutCode,
    #[error("the session URL is unknown, was opened before, or has expired")]
    SessionUrlUnusable,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Busy(PasswordError),
    #[error("too many pending logins from one address")]
    TooManyRequests,
    #[error("too many pending logins")]
    PendingFull,
    #[error("the application's settings (its metadata) have not been read yet")]
    ApplicationUnavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

/// A sentence with the advice every dead end of a sign-in gives.
macro_rules! start_again {
    ($sentence:literal) => {
        concat!($sentence, " Go back to the application and start again.")
    };
}

/// The answer to a request refused for the reason `message` explains.
fn bad_request(message: &'static str) -> (StatusCode, &'static str, &'static str) {
    (StatusCode::BAD_REQUEST, "Request not valid", message)
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub title: &'a str,
    pub message: &'a str,
}

impl PageError {
    fn status_and_text(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            PageError::BadForm(rejection)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                (
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "Form too large",
                    "The form you sent is larger than this page accepts.",
                )
            }
            PageError::BadForm(_) => (
                StatusCode::BAD_REQUEST,
                "Form not understood",
                "The form you sent could not be read. Go back, reload the page and try again.",
            ),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ),
            PageError::BadRequest(message) => bad_request(message),
            PageError::UnreadableAuthorization => {
                bad_request("The sign-in request could not be read.")
            }
            PageError::UnknownClient => {
                bad_request("The application that sent you here is not registered with idbridge.")
            }
            PageError::UnregisteredRedirectUri => bad_request(
                "The application sent a return address that is not registered with idbridge, so \
                 you were not sent back to it.",
            ),
            PageError::AuthorizationExpired => bad_request(start_again!(
                "This sign-in request has expired or was already completed."
            )),
            PageError::AuthorizationOfAnotherBrowser => bad_request(start_again!(
                "This sign-in request was started in another browser."
            )),
            PageError::AuthorizationFinished => {
                bad_request("This sign-in request was already completed.")
            }
            PageError::NoConsentDecision => bad_request("Choose Allow or Deny."),
            PageError::LogoutUnknownClient => {
                bad_request("The application named in this request is not registered.")
            }
            PageError::LogoutClientMismatch => {
                bad_request("client_id does not match the id_token_hint.")
            }
            PageError::LogoutRedirectWithoutClient => bad_request(
                "A return address was given without naming the application it belongs to.",
            ),
            PageError::LogoutRedirectUnregistered => bad_request(
                "The application asked to return to an address that is not registered, so you \
                 were not sent there.",
            ),
            PageError::LogoutRedirectUnreadable => bad_request("Bad return address."),
            PageError::ForeignIdTokenHint => {
                bad_request("The id_token_hint is not an ID token issued here.")
            }
            PageError::DemoCallbackWithoutCode => bad_request("The callback carries no code."),
            PageError::SessionUrlUnusable => bad_request(
                "This sign-in link cannot be used: it was used before, it has expired, or it is \
                 incomplete. Ask for a new link where you got this one.",
            ),
            PageError::TooManyRequests => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-in attempts",
                "Too many sign-ins were started from your network in the last minute. Please wait a minute and try again.",
            ),
            PageError::PendingFull => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in is busy",
                "Too many sign-ins are under way right now. Please try again in a few minutes.",
            ),
            PageError::ApplicationUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Application unavailable",
                "The settings of the application you came from could not be read yet. Please try again in a few minutes.",
            ),
            PageError::NotFound => (
                StatusCode::NOT_FOUND,
                "Page not found",
                "There is nothing at this address.",
            ),
            PageError::Upstream(UpstreamError::Unreachable { .. }) => (
                StatusCode::BAD_GATEWAY,
                "Sign-in unavailable",
                "Your organisation's sign-in service could not be reached. Please try again in a few minutes.",
            ),
            PageError::Upstream(UpstreamError::Invalid { .. }) => (
                StatusCode::BAD_GATEWAY,
                "Sign-in failed",
                "The answer from your organisation's sign-in service could not be verified, so you were not signed in. Please try again; if it keeps happening, contact your administrator.",
            ),
            PageError::Upstream(UpstreamError::Rejected { .. }) => (
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                "The answer from your organisation's sign-in service could not be verified, so you were not signed in. Please try again; if it keeps happening, contact your administrator.",
            ),
            PageError::Upstream(UpstreamError::Denied { .. }) => (
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "Your organisation's sign-in service did not sign you in. If you think this is a mistake, contact your administrator.",
            ),
            PageError::Upstream(UpstreamError::TooManyResponses { .. }) => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-ins",
                "Too many sign-in answers came from your network in the last minute. Please wait a minute and try again.",
            ),
            PageError::Upstream(UpstreamError::Busy { .. }) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in busy",
                "This service is busy checking other sign-ins. Please try again in a moment.",
            ),
            PageError::Upstream(UpstreamError::ForeignDomain { .. }) => (
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "This account of your organisation may not sign in here. Sign in with an address of your organisation's own domain, or contact your administrator.",
            ),
            PageError::Upstream(UpstreamError::UnverifiedEmail { .. }) => (
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "Your organisation's sign-in service did not confirm that this email address is yours, so you were not signed in. Confirm the address there, or contact your administrator.",
            ),
            PageError::Upstream(UpstreamError::NoEntity { .. }) => (
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "Your organisation's sign-in service did not say which part of your organisation you belong to, so you were not signed in. Contact your administrator.",
            ),
            PageError::Upstream(UpstreamError::ClaimedDomain { .. }) => (
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "People with an address of this domain sign in through their own organisation's sign-in service, not this one. Sign in there, or contact your administrator.",
            ),
            PageError::Upstream(UpstreamError::HeldAddress { .. }) => (
                StatusCode::FORBIDDEN,
                "Sign-in refused",
                "This email address belongs to an account that signs in another way, so you were not signed in with it here. Sign in the way you usually do, or contact your administrator.",
            ),
            PageError::Upstream(UpstreamError::InvalidAnswer { .. }) => {
                bad_request(start_again!("This sign-in answer is not valid."))
            }
            PageError::Upstream(UpstreamError::NoSamlResponse { .. }) => {
                bad_request("This sign-in answer has no SAMLResponse.")
            }
            PageError::Upstream(UpstreamError::UnknownAnswer { .. }) => bad_request(start_again!(
                "This sign-in answer is unknown, has expired or was already used."
            )),
            PageError::Upstream(UpstreamError::AnotherBrowser { .. }) => bad_request(start_again!(
                "This sign-in answer was meant for another browser."
            )),
            PageError::Upstream(UpstreamError::AccountGone { .. }) => {
                bad_request(start_again!("This account no longer exists."))
            }
            PageError::Upstream(
                UpstreamError::LogoutRefused { .. } | UpstreamError::LogoutReplayed { .. },
            ) => bad_request("This sign-out notice is not valid."),
            PageError::Busy(_)
            | PageError::Upstream(UpstreamError::Password(PasswordError::Busy(_))) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Too busy",
                "Too many people are signing in right now. Please try again in a moment.",
            ),
            PageError::Store(StoreError::UserDisabled)
            | PageError::Upstream(UpstreamError::Store(StoreError::UserDisabled)) => (
                StatusCode::FORBIDDEN,
                "Account disabled",
                "This account has been disabled, so you were not signed in. Contact your administrator.",
            ),
            PageError::Store(e) | PageError::Upstream(UpstreamError::Store(e))
                if e.is_unavailable() =>
            {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Temporarily unavailable",
                    "This service cannot answer right now. Please try again in a moment.",
                )
            }
            PageError::Store(_)
            | PageError::Internal(_)
            | PageError::Upstream(
                UpstreamError::Corrupt { .. }
                | UpstreamError::InvalidCredentials
                | UpstreamError::Throttled { .. }
                | UpstreamError::Store(_)
                | UpstreamError::Password(_),
            ) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Something went wrong on our side. Please try again in a moment.",
            ),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let (status, title, message) = self.status_and_text();
        log_answer(status, &self);
        let body = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| message.to_string());
        (status, axum::response::Html(body)).into_response()
    }
}

/// Logs an error answered with `status`: a failure of ours as an error, with its cause; a
/// refused request as information.
fn log_answer(status: StatusCode, error: &dyn std::fmt::Display) {
    if status.is_server_error() {
        tracing::error!(error = %error, "request failed");
    } else {
        tracing::info!(error = %error, "request refused");
    }
}

/// An error of the endpoint where a provider tells idbridge, server to server, that its session
/// has ended (`/{kind}/{connection}/backchannel-logout`, OpenID Connect Back-Channel Logout 1.0
/// section 2.8): one a page would show, answered as JSON shaped as RFC 6749 section 5.2, never
/// cached. The provider retries what is not a 200, so only a token that will never be taken is
/// a 4xx.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BackChannelError(#[from] pub PageError);

impl BackChannelError {
    /// The status, the RFC error code and its description.
    fn status_and_code(&self) -> (StatusCode, &'static str, String) {
        let refused = |status, description: &str| (status, "invalid_request", description.into());
        match &self.0 {
            PageError::BadForm(rejection)
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                refused(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the request body is too large",
                )
            }
            PageError::BadForm(_) => refused(
                StatusCode::BAD_REQUEST,
                "a form with a logout_token is expected",
            ),
            PageError::NotFound => refused(
                StatusCode::NOT_FOUND,
                "no connection takes back-channel logouts at this address",
            ),
            PageError::Upstream(UpstreamError::LogoutRefused { detail, .. }) => refused(
                StatusCode::BAD_REQUEST,
                &format!("the logout token was refused: {detail}"),
            ),
            PageError::Upstream(UpstreamError::LogoutReplayed { .. }) => {
                refused(StatusCode::BAD_REQUEST, "the logout token was used before")
            }
            // The provider's own discovery or keys could not be read: worth its retry.
            PageError::Upstream(
                UpstreamError::Unreachable { .. } | UpstreamError::Invalid { .. },
            ) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the provider's keys could not be read".into(),
            ),
            PageError::Store(e) | PageError::Upstream(UpstreamError::Store(e))
                if e.is_unavailable() =>
            {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the service is briefly unavailable".into(),
                )
            }
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error".into(),
            ),
        }
    }
}

impl IntoResponse for BackChannelError {
    fn into_response(self) -> Response {
        let (status, code, description) = self.status_and_code();
        log_answer(status, &self);
        let body = serde_json::json!({"error": code, "error_description": description});
        (
            status,
            [(axum::http::header::CACHE_CONTROL, "no-store")],
            axum::Json(body),
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts put together from parts read exactly as the single sentences they replaced.
    #[test]
    fn composed_texts_read_as_before() {
        for (error, sentence) in [
            (
                PageError::AuthorizationExpired,
                "This sign-in request has expired or was already completed. Go back to the application and start again.",
            ),
            (
                PageError::AuthorizationOfAnotherBrowser,
                "This sign-in request was started in another browser. Go back to the application and start again.",
            ),
            (
                PageError::UnregisteredRedirectUri,
                "The application sent a return address that is not registered with idbridge, so you were not sent back to it.",
            ),
            (
                PageError::LogoutRedirectUnregistered,
                "The application asked to return to an address that is not registered, so you were not sent there.",
            ),
            (
                PageError::SessionUrlUnusable,
                "This sign-in link cannot be used: it was used before, it has expired, or it is incomplete. Ask for a new link where you got this one.",
            ),
        ] {
            assert_eq!(error.status_and_text().2, sentence);
        }
    }
}
