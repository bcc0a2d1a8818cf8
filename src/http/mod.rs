//! HTTP plumbing under every page and API: accepting connections, cookies, CSRF tokens, the error
//! page, the layers every request and response passes through (timeout, security headers, the
//! request log, the client address), and the building of responses (templates, redirects, the page that moves on after a form). It knows no
//! page and no feature; what it needs of the running server it asks through [`Site`], which
//! `AppState` provides (docs/architecture.md, "Layers").
mod client_addr;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod listen;
mod middleware;
pub mod pages;
mod site;

use axum::Router;
use axum::extract::DefaultBodyLimit;

pub use error::{BackChannelError, PageError};
pub use middleware::{ClientAddr, policy_with_frames};
pub use site::Site;

/// Forms are small; anything larger is refused before it is read.
pub const FORM_BODY_LIMIT: usize = 16 * 1024;

/// Wraps all routes in the layers every response passes through.
pub fn with_layers<S: Site>(routes: Router<S>, site: S) -> Router {
    routes
        .fallback(|| async { PageError::NotFound })
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            site.clone(),
            middleware::request_timeout::<S>,
        ))
        .layer(axum::middleware::from_fn(middleware::common_headers))
        .layer(axum::middleware::from_fn_with_state(
            site.clone(),
            middleware::request_log::<S>,
        ))
        .with_state(site)
}
