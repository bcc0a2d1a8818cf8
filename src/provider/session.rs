//! The session tracker (SPEC section 4): `oasm.js`, which a product embeds, polls
//! `/sso/v2/session` to learn when the idbridge session has ended. The status answers with
//! credentials only to origins of registered redirect URIs, and it never carries a token.
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;
use crate::web::{PageError, current_session, pages};

pub async fn script() -> Response {
    pages::asset(
        "text/javascript; charset=utf-8",
        include_str!("../../templates/oasm.js"),
    )
}

pub async fn status(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let session = current_session(&state, &headers).await?;
    let body = json!({
        "active": session.is_some(),
        "expires_at": session.map(|s| s.expires_at),
    });
    let mut response = Json(body).into_response();
    let out = response.headers_mut();
    out.insert(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
        && state.clients.has_origin(origin)
        && let Ok(value) = HeaderValue::from_str(origin)
    {
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        out.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}
