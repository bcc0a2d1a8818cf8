//! Pages for people (login, account, errors), the stylesheet, health checks, and the layers every
//! response passes through.
mod account;
pub mod branding;
mod client_addr;
pub mod cookies;
pub mod csrf;
mod demo_client;
pub mod error;
mod login;
mod middleware;
pub mod pages;
mod session;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::state::AppState;
pub use client_addr::address_key;
pub use error::PageError;
pub use login::{login_page, signed_out};
pub use middleware::ClientAddr;
pub use session::{current_session, current_session_and_consent, new_session, replace_session};

/// Forms are small; anything larger is refused before it is read.
pub const FORM_BODY_LIMIT: usize = 16 * 1024;

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/sso/v2/login", get(login::show).post(login::submit))
        .route("/account", get(account::show))
        .route("/account/sessions/end", post(account::end_session))
        .route("/account/consents/revoke", post(account::revoke_consent))
        .route("/demo", get(demo_client::home))
        .route("/demo/start", get(demo_client::start))
        .route("/demo/callback", get(demo_client::callback))
        .route("/branding/{entity}/{file}", get(branding::branding_file))
        .route("/static/idbridge.css", get(stylesheet))
        .route("/static/form_post.js", get(form_post_script))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
}

/// Wraps all routes in the layers every response passes through.
pub fn with_layers(routes: Router<AppState>, state: AppState) -> Router {
    routes
        .fallback(|| async { PageError::NotFound })
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::request_log,
        ))
        .with_state(state)
}

async fn stylesheet() -> Response {
    pages::asset(
        "text/css; charset=utf-8",
        include_str!("../../templates/idbridge.css"),
    )
}

async fn form_post_script() -> Response {
    pages::asset(
        "text/javascript; charset=utf-8",
        include_str!("../../templates/form_post.js"),
    )
}

/// Ready when the database answers.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "not ready: the database is unreachable or its writer stopped",
            )
        }
    }
}
