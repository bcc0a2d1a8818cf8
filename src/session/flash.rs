//! What the login page says after a redirect: the outcome of the last failed POST, or that the
//! browser was signed out. It travels in a short-lived cookie, so reloading the page never
//! re-sends a password.
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::http::cookies;
use crate::http::pages::see_other;
use crate::state::AppState;

/// The login page of local accounts, which shows the flash.
pub const LOGIN_PATH: &str = "/sso/v2/login";

/// What the last POST left for the next page view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flash {
    EmailMissing,
    PasswordMissing,
    Credentials,
    Throttled { minutes: i64 },
    SignedOut,
}

impl Flash {
    pub fn encode(&self, email: &str) -> String {
        let kind = match self {
            Flash::EmailMissing => "email_missing".to_string(),
            Flash::PasswordMissing => "password_missing".to_string(),
            Flash::Credentials => "credentials".to_string(),
            Flash::Throttled { minutes } => format!("throttled_{minutes}"),
            Flash::SignedOut => "signed_out".to_string(),
        };
        format!("{kind}.{}", URL_SAFE_NO_PAD.encode(email))
    }

    pub fn decode(value: &str) -> Option<(Flash, String)> {
        let (kind, email) = value.split_once('.')?;
        let email = String::from_utf8(URL_SAFE_NO_PAD.decode(email).ok()?).ok()?;
        let flash = match kind {
            "email_missing" => Flash::EmailMissing,
            "password_missing" => Flash::PasswordMissing,
            "credentials" => Flash::Credentials,
            "signed_out" => Flash::SignedOut,
            other => Flash::Throttled {
                minutes: other.strip_prefix("throttled_")?.parse().ok()?,
            },
        };
        Some((flash, email))
    }
}

/// The answer once a browser is signed out: back to the login page, which says so.
pub fn signed_out(state: &AppState, clear_session_cookie: String) -> Response {
    let flash = cookies::set(
        state,
        cookies::FLASH,
        &Flash::SignedOut.encode(""),
        Some(60),
    );
    see_other(LOGIN_PATH, &[clear_session_cookie, flash])
}

pub fn clear_flash(state: &AppState) -> String {
    cookies::set(state, cookies::FLASH, "", Some(0))
}

#[cfg(test)]
mod tests {
    use super::Flash;

    #[test]
    fn flash_round_trip() {
        for flash in [
            Flash::EmailMissing,
            Flash::PasswordMissing,
            Flash::Credentials,
            Flash::Throttled { minutes: 14 },
            Flash::SignedOut,
        ] {
            let encoded = flash.encode("a.b@example.com");
            assert_eq!(
                Flash::decode(&encoded),
                Some((flash, "a.b@example.com".into()))
            );
        }
        assert_eq!(Flash::decode("throttled_x.YQ"), None);
        assert_eq!(Flash::decode("nonsense"), None);
    }
}
