//! Rendering askama templates into responses.
use askama::Template;
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderName, HeaderValue};
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

/// `value` encoded for a query string or a path segment (`application/x-www-form-urlencoded`).
pub fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
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

#[derive(Template)]
#[template(path = "form_post.html")]
struct FormPost<'a> {
    action: &'a str,
    fields: &'a [(&'static str, String)],
}

/// A page that posts `fields` to `action` on another site at once (its script submits the
/// form): OAuth's form post response mode, SAML's HTTP-POST binding. Its policy lets the form go
/// to any address of `action`'s scheme, not only its origin: Chromium holds the redirects that
/// follow a form submission to the page's `form-action`, and a client or SP commonly sends the
/// browser on to another host of its own (the action itself is never the request's choice).
pub fn post_to(action: &url::Url, fields: &[(&'static str, String)]) -> Response {
    let page = FormPost {
        action: action.as_str(),
        fields,
    };
    let Ok(body) = page.render() else {
        return PageError::Internal("form_post template".into()).into_response();
    };
    let mut response = Html(body).into_response();
    let policy = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; form-action {}:; frame-ancestors 'none'; base-uri 'none'",
        action.scheme()
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

#[derive(Template)]
#[template(path = "continue.html")]
struct ContinuePage<'a> {
    location: &'a str,
}

/// The `Refresh` header: a navigation the page starts itself (HTML, "shared declarative refresh
/// steps"), the same as `<meta http-equiv="refresh">`.
const REFRESH: HeaderName = HeaderName::from_static("refresh");

/// The answer to a person's form POST. A redirect becomes a same-origin page that moves on by
/// itself (`Refresh: 0`), keeping its cookies; anything else is returned as it is.
///
/// Why: Chromium applies the page's `form-action` to every redirect that follows a form
/// submission, so a login or consent POST answered with a 303 that leads (perhaps after more
/// redirects) to a client, a product or an upstream IdP on another origin is blocked by
/// `form-action 'self'`. A navigation the answering page starts is not a form submission, so
/// the policy stays `form-action 'self'` on every page.
pub fn after_form(response: Response) -> Response {
    moving_on(response, 0, |location| ContinuePage { location }.render())
}

/// A page in place of the redirect `response` (its cookies kept), made by `page` from the
/// redirect's location, which it moves on to by itself after `delay` seconds (`Refresh`).
/// Anything but a redirect is returned as it is.
pub fn moving_on(
    response: Response,
    delay: u32,
    page: impl FnOnce(&str) -> askama::Result<String>,
) -> Response {
    if !response.status().is_redirection() {
        return response;
    }
    let Some(location) = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
    else {
        return response;
    };
    let refresh = format!("{delay};url={location}");
    let (Ok(body), Ok(refresh)) = (page(location), HeaderValue::from_str(&refresh)) else {
        return PageError::Internal("the page that moves on".into()).into_response();
    };
    let mut page = Html(body).into_response();
    page.headers_mut().insert(REFRESH, refresh);
    for cookie in response.headers().get_all(SET_COOKIE) {
        page.headers_mut().append(SET_COOKIE, cookie.clone());
    }
    page
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
