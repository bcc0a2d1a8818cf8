//! `GET /account`: who is signed in and what they are attached to (SPEC section 9).
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::error::PageError;
use super::pages::{render, see_other};
use super::{csrf, current_session};
use crate::state::AppState;
use crate::store::Attachment;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    csrf: String,
    user_id: String,
    name: String,
    email: String,
    attached_to: Vec<Attachment>,
    signed_in_at: String,
    expires_at: String,
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(see_other("/sso/v2/login?return_to=%2Faccount", &[]));
    };
    let entity_ids = state.store.attached_entity_ids(&session.user.id).await?;
    let (csrf, csrf_cookie) = csrf::issue(&state, &headers);
    let page = AccountPage {
        csrf,
        user_id: session.user.id,
        name: session.user.name,
        email: session.user.email,
        attached_to: state.hierarchy.attachments(&entity_ids),
        signed_in_at: utc(session.auth_time),
        expires_at: utc(session.expires_at),
    };
    render(&page, &csrf_cookie.into_iter().collect::<Vec<_>>())
}

/// `2026-11-23 10:54 UTC` from Unix seconds.
fn utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(super::utc(1_795_431_240), "2026-11-23 10:54 UTC");
        assert_eq!(super::utc(951_782_400), "2000-02-29 00:00 UTC");
    }
}
