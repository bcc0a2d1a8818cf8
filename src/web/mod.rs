//! Pages for people (login, account, branding files), the browser's idbridge session, the
//! stylesheet and health checks. The plumbing under them is in [`crate::http`].
mod account;
mod login;
mod upstream;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use crate::crypto;
use crate::http::{PageError, pages};
use crate::metrics::Readings;
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
        .route("/metrics", get(metrics))
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

/// The metrics in the Prometheus text format, for a scraper that sends `server.metrics_token` as
/// a bearer token; not served (404) when no token is configured. The webhook backlog is read
/// from the database at each scrape.
async fn metrics(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, PageError> {
    let Some(token) = &state.server().metrics_token else {
        return Err(PageError::NotFound);
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !crypto::constant_time_eq(presented, token.expose()) {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "the metrics need server.metrics_token as a bearer token\n",
        )
            .into_response());
    }
    let backlog = state.store.outbox_backlog().await?;
    let pools: Vec<_> = state
        .store
        .pool_use()
        .into_iter()
        .map(|pool| (pool.name, pool.size, pool.idle))
        .collect();
    let now = state.clock.now();
    let text = state.metrics.render(&Readings {
        waiting: backlog.waiting,
        oldest_age: backlog.oldest_created_at.map_or(0, |at| (now - at).max(0)),
        pools: &pools,
        writer_queue: state.store.writer_queue(),
    });
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
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
