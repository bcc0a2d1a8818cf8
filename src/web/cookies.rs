//! Reading and writing cookies. Every cookie idbridge sets is `HttpOnly` and `SameSite=Lax`, and
//! `Secure` when the issuer is https (SPEC section 11).
use axum::http::HeaderMap;
use axum::http::header::COOKIE;

pub const SESSION: &str = "idbridge_session";
pub const CSRF: &str = "idbridge_csrf";
pub const FLASH: &str = "idbridge_flash";

/// The value of the first cookie called `name` in the request.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value; `max_age` 0 deletes the cookie.
pub fn set(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
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
        assert_eq!(get(&headers, SESSION), Some("tok"));
        assert_eq!(get(&headers, CSRF), None);
    }

    #[test]
    fn secure_only_when_asked() {
        assert!(set(SESSION, "v", "/", 60, true).ends_with("; Secure"));
        assert!(!set(SESSION, "v", "/", 60, false).contains("Secure"));
    }
}
