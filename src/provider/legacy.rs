//! The old `/authentication/v1/*` paths: `308 Permanent Redirect` to their `/sso/v2` successors,
//! query string kept (a 308 also keeps the method and body), with a `Deprecation` header (RFC
//! 9745: when they were deprecated) and, when the operator has set `server.legacy_sunset`, a
//! `Sunset` header (RFC 8594: when they go away).
use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::config::LEGACY_DEPRECATED_AT;
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
            any(
                move |State(state): State<AppState>, RawQuery(query): RawQuery| async move {
                    moved(new, query, state.server().legacy_sunset)
                },
            ),
        )
    })
}

fn moved(new: &str, query: Option<String>, sunset: Option<i64>) -> Response {
    let location = match query {
        Some(query) => format!("{new}?{query}"),
        None => new.to_string(),
    };
    let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&format!("@{LEGACY_DEPRECATED_AT}")) {
        headers.insert("deprecation", value);
    }
    if let Some(value) = sunset
        .and_then(|at| chrono::DateTime::from_timestamp(at, 0))
        .and_then(|at| HeaderValue::from_str(&http_date(at)).ok())
    {
        headers.insert("sunset", value);
    }
    response
}

/// An HTTP-date (RFC 9110 section 5.6.7), as `Sunset` takes it.
fn http_date(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn http_dates_read_as_rfc_9110_writes_them() {
        let at = chrono::DateTime::from_timestamp(1_814_313_600, 0).unwrap();
        assert_eq!(super::http_date(at), "Wed, 30 Jun 2027 00:00:00 GMT");
    }
}
