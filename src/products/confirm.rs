//! The question a person is asked before a token about them goes to a product on another site's
//! say-so. Any site can link a signed-in browser to `/sso/jwt/{product}` with any tenant of a
//! wildcard domain; without this, the token would reach that tenant without a click. A request
//! that the browser says came from this site, or from the person (address bar, bookmark), goes
//! straight through.
use askama::Template;
use axum::http::{HeaderMap, header};
use axum::response::Response;

use super::request::Destination;
use crate::http::{PageError, csrf, pages, policy_with_form_action};
use crate::state::AppState;

/// Whether the browser says the request came from this origin or from the person
/// (`Sec-Fetch-Site: same-origin` or `none`). A request without the header (an old browser, or
/// something else) is treated as coming from another site.
pub fn initiated_here(headers: &HeaderMap) -> bool {
    matches!(
        headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()),
        Some("same-origin" | "none")
    )
}

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
/// The page's policy lets that post be redirected to the product (and nowhere else).
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
    let mut response = pages::render(&page, &csrf_cookie.into_iter().collect::<Vec<_>>())?;
    let origin = destination.login_url().origin().ascii_serialization();
    if let Some(policy) = policy_with_form_action(&origin) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy);
    }
    Ok(response)
}
