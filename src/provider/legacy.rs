//! The old `/authentication/v1/*` paths: `308 Permanent Redirect` to their `/sso/v2` successors,
//! query string kept (a 308 also keeps the method and body), with a `Deprecation` header.
use axum::Router;
use axum::extract::RawQuery;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::state::AppState;

const MOVED: &[(&str, &str)] = &[
    ("/authentication/v1/authenticate", "/sso/v2/authorize"),
    ("/authentication/v1/tokens", "/sso/v2/token"),
    ("/authentication/v1/users", "/sso/v2/userinfo"),
    ("/authentication/v1/logout", "/sso/v2/logout"),
    (
        "/authentication/v1/sessionTracker/oasm.js",
        "/sso/sessionTracker/oasm.js",
    ),
];

pub fn router() -> Router<AppState> {
    MOVED.iter().fold(Router::new(), |router, (old, new)| {
        router.route(
            old,
            any(move |RawQuery(query): RawQuery| async move { moved(new, query) }),
        )
    })
}

fn moved(new: &str, query: Option<String>) -> Response {
    let location = match query {
        Some(query) => format!("{new}?{query}"),
        None => new.to_string(),
    };
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert("deprecation", HeaderValue::from_static("true"));
    response
}
