//! HTTP Basic credentials (RFC 7617): reading them from the header, and what a verified one
//! holds. Shared by the API authentication here and by the token endpoint's `client_secret_basic`.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// An API credential whose password was verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiCredential {
    pub username: String,
    pub scopes: Vec<String>,
}

/// The user-id and password of an `Authorization: Basic` header (RFC 7617): base64 of
/// `user-id:password`, split at the first colon.
pub fn basic_pair(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_headers() {
        let header = format!("Basic {}", STANDARD.encode("backend:p:ss+w%20rd"));
        assert_eq!(
            basic_pair(&header),
            Some(("backend".into(), "p:ss+w%20rd".into()))
        );
        let lower = format!("basic {}", STANDARD.encode("a:b"));
        assert_eq!(basic_pair(&lower), Some(("a".into(), "b".into())));
        assert_eq!(basic_pair("Bearer abc"), None);
        assert_eq!(basic_pair("Basic !!!"), None);
        assert_eq!(
            basic_pair(&format!("Basic {}", STANDARD.encode("no-colon"))),
            None
        );
    }
}
