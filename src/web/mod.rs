//! Pages for people (login, account, branding files), the browser's idbridge session, the
//! stylesheet and health checks. The plumbing under them is in [`crate::http`].
mod account;
mod login;
mod upstream;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::http::pages;
use crate::state::AppState;
pub use login::login_page;
pub use upstream::sign_in;

/// The pages' routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/account") }))
        .route("/sso/v2/login", get(login::show).post(login::submit))
        .route("/account", get(account::show))
        .route("/account/sessions/end", post(account::end_session))
        .route("/account/consents/revoke", post(account::revoke_consent))
        .route("/account/products/forget", post(account::forget_product))
        .route(
            "/branding/{entity}/{file}",
            get(crate::branding::branding_file),
        )
        .route("/static/idbridge.css", get(stylesheet))
        .route("/static/form_post.js", get(form_post_script))
        .route("/static/frontchannel.js", get(frontchannel_script))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .merge(upstream::router())
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

async fn frontchannel_script() -> Response {
    pages::asset(
        "text/javascript; charset=utf-8",
        include_str!("../../templates/frontchannel.js"),
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
