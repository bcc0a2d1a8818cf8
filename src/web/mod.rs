//! Pages for people (login, account, errors), the stylesheet, health checks, and the layers every
//! response passes through.
mod account;
mod client_addr;
pub mod cookies;
mod csrf;
pub mod error;
mod login;
mod middleware;
mod pages;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, post};

use crate::state::AppState;
pub use error::PageError;
pub use middleware::ClientAddr;

/// Forms are small; anything larger is refused before it is read.
pub const FORM_BODY_LIMIT: usize = 16 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/sso/v2/login", get(login::show).post(login::submit))
        .route("/sso/v2/logout", post(login::logout))
        .route("/account", get(account::show))
        .route("/static/idbridge.css", get(stylesheet))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .fallback(|| async { PageError::NotFound })
        .layer(DefaultBodyLimit::max(FORM_BODY_LIMIT))
        .layer(axum::middleware::from_fn(middleware::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::request_log,
        ))
        .with_state(state)
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../templates/idbridge.css"),
    )
}

/// Ready when the database answers.
async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
