//! The question a person is asked before a token about them first goes to a product's host.
//! Any site can link a signed-in browser to `/sso/jwt/{product}` with any tenant of a wildcard
//! domain, and neither the login page nor the browser's `Sec-Fetch-Site` (a link from a mail
//! app reads `none`; the page that moves on after a login reads `same-origin`) tells whether the
//! person meant to go there; so the person says yes once per host, and it is remembered.
use askama::Template;
use axum::http::HeaderMap;
use axum::response::Response;

use super::request::Destination;
use crate::http::{PageError, csrf, pages};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "product_confirm.html")]
struct ConfirmPage<'a> {
    destination: &'a str,
    user_email: &'a str,
    /// This same request's path and query: the form posts it back.
    action: &'a str,
    csrf: String,
}

/// "Continue to {host} as {email}?", with a CSRF-protected form that posts the request back.
pub fn page(
    state: &AppState,
    headers: &HeaderMap,
    destination: &Destination,
    user_email: &str,
    action: &str,
) -> Result<Response, PageError> {
    let (csrf, csrf_cookie) = csrf::issue(state, headers);
    let page = ConfirmPage {
        destination: destination.host(),
        user_email,
        action,
        csrf,
    };
    pages::render(&page, &csrf_cookie.into_iter().collect::<Vec<_>>())
}
