//! `GET /account` (SPEC section 9): the signed-in user's profile, attached entities, active
//! sessions (each can be signed out), remembered consents (each can be withdrawn) and the product
//! hosts the user said yes to (each can be forgotten).
use askama::Template;
use axum::extract::{FromRequest, Request, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::config::Attachment;
use crate::crypto;
use crate::http::pages::{render, see_other};
use crate::http::{ClientAddr, PageError};
use crate::http::{cookies, csrf};
use crate::session::current_session;
use crate::state::AppState;
use crate::store::{Actor, Initiator, Profile, SessionInfo};
use crate::vocabulary::scope::{self, Scopes};

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
    /// The rest of the profile, where known: label and value.
    profile: Vec<(&'static str, String)>,
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
        profile: profile_facts(&user.profile),
        attached_to: state.config().hierarchy.attachments(&entity_ids),
        user_id: user.id,
        name: user.name,
        email: user.email,
        sessions,
        consents,
        products,
    };
    render(&page, &csrf_cookie.into_iter().collect::<Vec<_>>())
}

/// A form of the account page as posted: its CSRF token and its own fields.
#[derive(Deserialize)]
struct AccountForm<F> {
    #[serde(default)]
    csrf: String,
    #[serde(flatten)]
    fields: F,
}

/// A form posted from the account page, its CSRF token checked, with the session of whoever
/// posted it. Signed out, the browser is sent to sign in instead.
pub struct AccountPost<F> {
    session: SessionInfo,
    fields: F,
}

impl<F: DeserializeOwned + Send> FromRequest<AppState> for AccountPost<F> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let headers = request.headers().clone();
        let refused = |error: PageError| error.into_response();
        let Form(form) = Form::<AccountForm<F>>::from_request(request, state)
            .await
            .map_err(|rejection| refused(rejection.into()))?;
        csrf::verify(state, &headers, &form.csrf).map_err(refused)?;
        match current_session(state, &headers).await {
            Ok(Some(session)) => Ok(AccountPost {
                session,
                fields: form.fields,
            }),
            Ok(None) => Err(see_other(LOGIN_FOR_ACCOUNT, &[])),
            Err(error) => Err(refused(error.into())),
        }
    }
}

/// Back to the account page, which shows what the form changed.
fn back_to_account() -> Result<Response, PageError> {
    Ok(see_other("/account", &[]))
}

#[derive(Deserialize)]
pub struct EndSessionFields {
    #[serde(default)]
    session: String,
}

pub async fn end_session(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    AccountPost { session, fields }: AccountPost<EndSessionFields>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let by = Initiator {
        actor: Actor::Person,
        client_addr: Some(client),
    };
    state
        .store
        .end_session_of(&session.user.id, &fields.session, &by, &state.config(), now)
        .await?;
    back_to_account()
}

#[derive(Deserialize)]
pub struct RevokeConsentFields {
    #[serde(default)]
    client_id: String,
}

/// Withdraws a consent; the client's tokens for this user go with it. One already withdrawn (a
/// second tab) is no error: the account page shows it gone either way.
pub async fn revoke_consent(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    AccountPost { session, fields }: AccountPost<RevokeConsentFields>,
) -> Result<Response, PageError> {
    let by = Initiator {
        actor: Actor::Person,
        client_addr: Some(client),
    };
    state
        .store
        .withdraw_consent(&session.user.id, &fields.client_id, &by, state.clock.now())
        .await?;
    back_to_account()
}

#[derive(Deserialize)]
pub struct ForgetProductFields {
    #[serde(default)]
    product: String,
    #[serde(default)]
    host: String,
}

/// Forgets the user's yes to a product host: the next sign-in there asks again.
pub async fn forget_product(
    State(state): State<AppState>,
    AccountPost { session, fields }: AccountPost<ForgetProductFields>,
) -> Result<Response, PageError> {
    state
        .store
        .forget_product_confirmation(&session.user.id, &fields.product, &fields.host)
        .await?;
    back_to_account()
}

/// What the page shows of the profile beyond name and email: the parts idbridge knows.
fn profile_facts(profile: &Profile) -> Vec<(&'static str, String)> {
    let address = &profile.address;
    let address = [
        &address.street_address,
        &address.postal_code,
        &address.locality,
        &address.country,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect::<Vec<_>>()
    .join(", ");
    [
        ("First name", profile.given_name.clone()),
        ("Last name", profile.family_name.clone()),
        ("Language", profile.locale.clone()),
        ("Address", Some(address).filter(|a| !a.is_empty())),
    ]
    .into_iter()
    .filter_map(|(label, value)| Some((label, value?)))
    .collect()
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
