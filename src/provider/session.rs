//! The session tracker (SPEC section 4): `oasm.js`, which a product embeds, polls
//! `/sso/v2/session` to learn when the idbridge session has ended. It never carries a token.
//!
//! A product on another site cannot count on idbridge's cookie reaching this endpoint: the
//! session cookie is `SameSite=Lax` (it guards every form and flow here), and browsers block
//! third-party cookies more and more. So the tracker names the session by its public `sid` (the
//! ID token's claim), which needs no cookie at all; without a `sid` it asks with the browser's
//! cookies, which works for products on the same site as idbridge. docs/provider.md has the
//! trade-off.
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use crate::http::{PageError, pages};
use crate::session::current_session;
use crate::state::AppState;

pub async fn script() -> Response {
    pages::asset(
        "text/javascript; charset=utf-8",
        include_str!("../../templates/oasm.js"),
    )
}

#[derive(Debug, Deserialize)]
pub struct StatusQuery {
    /// The `sid` claim of the product's ID token.
    sid: Option<String>,
}

pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<StatusQuery>,
) -> Result<Response, PageError> {
    let by_sid = query.sid.is_some();
    let session = match query.sid {
        Some(sid) => {
            state
                .store
                .find_session_by_sid(&sid, state.clock.now())
                .await?
        }
        None => current_session(&state, &headers).await?,
    };
    let body = json!({
        "active": session.is_some(),
        "expires_at": session.map(|s| s.expires_at),
    });
    let mut response = Json(body).into_response();
    let out = response.headers_mut();
    out.insert(header::VARY, HeaderValue::from_static("Origin"));
    // Only the exact origins of registered redirect URIs may read the answer; a cookie-based
    // read (no `sid`) is the only one that needs credentials.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && state.directory().clients.has_origin(origin)
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        if !by_sid {
            out.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
    Ok(response)
}
