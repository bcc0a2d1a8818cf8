//! `GET /account` (SPEC section 9): the signed-in user's profile, attached entities, active
//! sessions (each can be signed out), remembered consents (each can be withdrawn) and the product
//! hosts the user said yes to (each can be forgotten).
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;

use crate::crypto;
use crate::http::PageError;
use crate::http::pages::{render, see_other};
use crate::http::{cookies, csrf};
use crate::provider::scope::{self, Scopes};
use crate::session::current_session;
use crate::state::AppState;
use crate::store::{Attachment, SessionInfo};

const LOGIN_FOR_ACCOUNT: &str = "/sso/v2/login?return_to=%2Faccount";

struct SessionRow {
    id: String,
    this_browser: bool,
    signed_in_at: String,
    from: String,
    device: String,
}

struct ConsentRow {
    client_id: String,
    items: Vec<&'static str>,
    granted_at: String,
}

struct ProductRow {
    product_id: String,
    host: String,
    confirmed_at: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    csrf: String,
    user_id: String,
    name: String,
    email: String,
    attached_to: Vec<Attachment>,
    sessions: Vec<SessionRow>,
    consents: Vec<ConsentRow>,
    products: Vec<ProductRow>,
}

pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let Some(session) = current_session(&state, &headers).await? else {
        return Ok(see_other(LOGIN_FOR_ACCOUNT, &[]));
    };
    let user = session.user;
    let entity_ids = state.store.attached_entity_ids(&user.id).await?;
    let this_browser = cookies::get(&state, &headers, cookies::SESSION).map(crypto::sha256_hex);
    let sessions = state
        .store
        .sessions_of(&user.id, state.clock.now())
        .await?
        .into_iter()
        .map(|s| SessionRow {
            this_browser: this_browser.as_deref() == Some(s.id_hash.as_str()),
            id: s.id_hash,
            signed_in_at: utc(s.auth_time),
            from: s.client_addr,
            device: if s.user_agent.is_empty() {
                "Unknown device".into()
            } else {
                s.user_agent
            },
        })
        .collect();
    let consents = state
        .store
        .consents_of(&user.id)
        .await?
        .into_iter()
        .map(|c| ConsentRow {
            items: Scopes::parse(&c.scope)
                .iter()
                .filter_map(scope::describe)
                .collect(),
            client_id: c.client_id,
            granted_at: utc(c.granted_at),
        })
        .collect();
    let products = state
        .store
        .product_confirmations_of(&user.id)
        .await?
        .into_iter()
        .map(|p| ProductRow {
            product_id: p.product_id,
            host: p.host,
            confirmed_at: utc(p.confirmed_at),
        })
        .collect();
    let (csrf, csrf_cookie) = csrf::issue(&state, &headers);
    let page = AccountPage {
        csrf,
        attached_to: state.hierarchy.attachments(&entity_ids),
        user_id: user.id,
        name: user.name,
        email: user.email,
        sessions,
        consents,
        products,
    };
    render(&page, &csrf_cookie.into_iter().collect::<Vec<_>>())
}

/// The session of whoever posts a form of the account page, its CSRF token checked; `None` when
/// signed out.
async fn poster(
    state: &AppState,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Option<SessionInfo>, PageError> {
    csrf::verify(state, headers, csrf)?;
    Ok(current_session(state, headers).await?)
}

#[derive(Deserialize)]
pub struct EndSessionForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    session: String,
}

pub async fn end_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<EndSessionForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let Some(session) = poster(&state, &headers, &form.csrf).await? else {
        return Ok(see_other(LOGIN_FOR_ACCOUNT, &[]));
    };
    state
        .store
        .end_session_of(
            &session.user.id,
            &form.session,
            &state.config,
            state.clock.now(),
        )
        .await?;
    Ok(see_other("/account", &[]))
}

#[derive(Deserialize)]
pub struct RevokeConsentForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    client_id: String,
}

/// Withdraws a consent; the client's tokens for this user go with it.
pub async fn revoke_consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<RevokeConsentForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let Some(session) = poster(&state, &headers, &form.csrf).await? else {
        return Ok(see_other(LOGIN_FOR_ACCOUNT, &[]));
    };
    let user_id = &session.user.id;
    state.store.revoke_consent(user_id, &form.client_id).await?;
    state
        .store
        .revoke_grants_of(user_id, &form.client_id, state.clock.now())
        .await?;
    Ok(see_other("/account", &[]))
}

#[derive(Deserialize)]
pub struct ForgetProductForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    host: String,
}

/// Forgets the user's yes to a product host: the next sign-in there asks again.
pub async fn forget_product(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<ForgetProductForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let Some(session) = poster(&state, &headers, &form.csrf).await? else {
        return Ok(see_other(LOGIN_FOR_ACCOUNT, &[]));
    };
    state
        .store
        .forget_product_confirmation(&session.user.id, &form.product, &form.host)
        .await?;
    Ok(see_other("/account", &[]))
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
