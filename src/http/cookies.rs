//! Reading and writing cookies. Every cookie idbridge sets is `HttpOnly`, `SameSite=Lax` and
//! `Path=/`; when the issuer is https it is also `Secure` and its name carries the `__Host-`
//! prefix, so that no sibling subdomain can plant one (a planted session or CSRF seed would
//! otherwise be taken for ours). SPEC section 11.
use std::borrow::Cow;

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

use super::Site;

pub const SESSION: &str = "idbridge_session";
pub const CSRF: &str = "idbridge_csrf";
pub const FLASH: &str = "idbridge_flash";

/// The name a cookie is sent under.
fn name(site: &impl Site, base: &str) -> Cow<'static, str> {
    if site.secure_cookies() {
        Cow::Owned(format!("__Host-{base}"))
    } else {
        Cow::Owned(base.to_string())
    }
}

/// The value of the first cookie called `base` (with its prefix, when secure) in the request.
pub fn get<'a>(site: &impl Site, headers: &'a HeaderMap, base: &str) -> Option<&'a str> {
    let wanted = name(site, base);
    find(headers, &wanted)
}

fn find<'a>(headers: &'a HeaderMap, wanted: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == wanted)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value. `max_age` 0 deletes the cookie; `None` makes it last as long as the
/// browser session.
pub fn set(site: &impl Site, base: &str, value: &str, max_age: Option<i64>) -> String {
    let secure = site.secure_cookies();
    let max_age = max_age
        .map(|age| format!("; Max-Age={age}"))
        .unwrap_or_default();
    format!(
        "{}={value}; Path=/{max_age}; HttpOnly; SameSite=Lax{}",
        name(site, base),
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn reads_the_named_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; idbridge_session=tok; b=2"),
        );
        assert_eq!(find(&headers, SESSION), Some("tok"));
        assert_eq!(find(&headers, "__Host-idbridge_session"), None);
        assert_eq!(find(&headers, CSRF), None);
    }
}
