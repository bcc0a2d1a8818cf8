//! Errors shown to a person as an HTML page: a plain explanation and the right status, never
//! internals (those go to the log).
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
    #[error("bad request: {0}")]
    BadRequest(&'static str),
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
    #[error("internal error: {0}")]
    Internal(String),
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
            PageError::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, "Request not valid", message)
            }
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
            PageError::Upstream(UpstreamError::InvalidAnswer { .. }) => (
                StatusCode::BAD_REQUEST,
                "Request not valid",
                "This sign-in answer is not valid. Go back to the application and start again.",
            ),
            PageError::Upstream(UpstreamError::NoSamlResponse { .. }) => (
                StatusCode::BAD_REQUEST,
                "Request not valid",
                "This sign-in answer has no SAMLResponse.",
            ),
            PageError::Upstream(UpstreamError::UnknownAnswer { .. }) => (
                StatusCode::BAD_REQUEST,
                "Request not valid",
                "This sign-in answer is unknown, has expired or was already used. Go back to the application and start again.",
            ),
            PageError::Upstream(UpstreamError::AnotherBrowser { .. }) => (
                StatusCode::BAD_REQUEST,
                "Request not valid",
                "This sign-in answer was meant for another browser. Go back to the application and start again.",
            ),
            PageError::Upstream(UpstreamError::AccountGone { .. }) => (
                StatusCode::BAD_REQUEST,
                "Request not valid",
                "This account no longer exists. Go back to the application and start again.",
            ),
            PageError::Busy(_)
            | PageError::Upstream(UpstreamError::Password(PasswordError::Busy(_))) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "Too busy",
                "Too many people are signing in right now. Please try again in a moment.",
            ),
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
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(error = %self, "request refused");
        }
        let body = ErrorPage { title, message }
            .render()
            .unwrap_or_else(|_| message.to_string());
        (status, axum::response::Html(body)).into_response()
    }
}
