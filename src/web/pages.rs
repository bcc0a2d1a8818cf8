//! Rendering askama templates into responses.
use askama::Template;
use axum::http::header::SET_COOKIE;
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::error::PageError;

/// A rendered page, with any cookies to set.
pub fn render(template: &impl Template, cookies: &[String]) -> Result<Response, PageError> {
    let body = template
        .render()
        .map_err(|e| PageError::Internal(format!("template: {e}")))?;
    let mut response = Html(body).into_response();
    append_cookies(&mut response, cookies);
    Ok(response)
}

/// A file built into the binary (stylesheet, scripts), cached by browsers for an hour.
pub fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, content_type),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A `303 See Other` to a path on this site, with any cookies to set.
pub fn see_other(location: &str, cookies: &[String]) -> Response {
    let mut response = Redirect::to(location).into_response();
    append_cookies(&mut response, cookies);
    response
}

fn append_cookies(response: &mut Response, cookies: &[String]) {
    for cookie in cookies {
        if let Ok(value) = cookie.parse() {
            response.headers_mut().append(SET_COOKIE, value);
        }
    }
}

/// Whether a redirect target is only a path on the same site: one leading `/`, no `//` or `/\`
/// (which browsers read as another host), no backslash or control characters.
pub fn is_local_path(path: &str) -> bool {
    path.starts_with('/')
        && !path.starts_with("//")
        && !path.chars().any(|c| c.is_control() || c == '\\')
}

/// A `return_to` for this site's pages: kept when it is a local path, else `/account`.
pub fn local_path(candidate: Option<&str>) -> String {
    match candidate {
        Some(path) if is_local_path(path) => path.to_string(),
        _ => "/account".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_kept() {
        assert_eq!(local_path(Some("/account?x=1")), "/account?x=1");
        for hostile in [
            "//evil.com",
            "/\\evil.com",
            "https://evil.com",
            "evil",
            "/a\r\nb",
            "/a\\b",
        ] {
            assert_eq!(local_path(Some(hostile)), "/account", "{hostile}");
        }
        assert_eq!(local_path(None), "/account");
    }
}
