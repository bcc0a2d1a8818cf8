//! One-time session URLs (SPEC section 7). A trusted backend asks
//! `POST /urlgenerator/generateusersessionurl` for a URL that signs its customer in; the browser
//! that opens `GET /surl/{token}` sees a page with one button, and its `POST /surl/{token}` gets
//! the customer's profile created or updated, an idbridge session, and a redirect to the target.
//! The URL is sent by email and mail gateways fetch links, so the GET changes nothing. The
//! handlers only read the request and answer:
//! [`target`] reads and checks the `TargetUrl`, the store spends the URL and applies the profile,
//! [`error`] turns failures into HTTP.
pub mod error;
pub mod target;

use askama::Template;
use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{Extension, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::crypto;
use crate::http::csrf;
use crate::http::pages::{after_form, render, see_other};
use crate::http::{ClientAddr, PageError};
use crate::session::{new_session, session_cookie};
use crate::state::AppState;
use crate::store::{AuditEvent, StoreError, UserSource};
use error::{GenerateError, OpenError};

/// The API scope that may ask for session URLs.
pub const SESSION_URLS_SCOPE: &str = "session_urls";

/// The connection id of session URLs: the `connection` of their logins'
/// `UserLoginNotification`, and the `source` of the users they create, as an upstream
/// connection's id is for its users. No configured connection may have this id.
pub const SESSION_URL_CONNECTION: &str = UserSource::SESSION_URL;

/// How long a session URL can be opened after it was made: 72 hours.
pub const SESSION_URL_TTL: i64 = 72 * 3600;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/urlgenerator/generateusersessionurl", post(generate))
        .route("/surl/{token}", get(show).post(open))
}

#[derive(Deserialize)]
struct GenerateRequest {
    #[serde(rename = "TargetUrl")]
    target_url: String,
}

/// `POST /urlgenerator/generateusersessionurl` with HTTP Basic credentials holding scope
/// `session_urls` and `{"TargetUrl": ...}`; answers `{"Url": ".../surl/<token>", "ResultMessage":
/// "OK"}`. Only the SHA-256 of the token is stored.
async fn generate(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    body: Result<Json<GenerateRequest>, JsonRejection>,
) -> Result<Response, GenerateError> {
    let credential = crate::api_auth::authenticate(
        &state.api_auth,
        state.password_checker(),
        state.clock.now(),
        &headers,
        client,
        SESSION_URLS_SCOPE,
    )
    .await?;
    let Json(request) = body?;
    let directory = state.directory();
    let data = target::read(
        &request.target_url,
        &directory.clients,
        &directory.config.products,
    )?;
    let token = crypto::random_token();
    let now = state.clock.now();
    state
        .store
        .create_session_url(
            &crypto::sha256_hex(&token),
            &data,
            now,
            now + SESSION_URL_TTL,
        )
        .await?;
    tracing::info!(credential = %credential.username, "session URL issued");
    let url = format!("{}/surl/{token}", state.server().issuer);
    Ok(Json(json!({"Url": url, "ResultMessage": "OK"})).into_response())
}

#[derive(Template)]
#[template(path = "session_url.html")]
struct SessionUrlPage<'a> {
    token: &'a str,
    csrf: String,
}

#[derive(Deserialize)]
struct SessionUrlForm {
    #[serde(default)]
    csrf: String,
}

/// `GET /surl/{token}`: a page with one button that posts to the same URL, or the error page when
/// the URL cannot be used. Spends nothing: mail gateways and link previews fetch links in emails
/// (SPEC section 7).
async fn show(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let usable = state
        .store
        .session_url_usable(&crypto::sha256_hex(&token), state.clock.now())
        .await
        .map_err(OpenError::from)?;
    if !usable {
        return Err(OpenError::Unusable.into());
    }
    let (csrf, csrf_cookie) = csrf::issue(&state, &headers);
    render(
        &SessionUrlPage {
            token: &token,
            csrf,
        },
        &csrf_cookie.into_iter().collect::<Vec<_>>(),
    )
}

/// `POST /surl/{token}`, from the page of [`show`]: spends the URL, creates or updates the
/// customer's profile, starts a session for its user and sends the browser to the target.
///
/// The form carries a CSRF token although the path holds a secret: whoever holds a link for
/// their own profile could otherwise post it from their site and so sign a visitor's browser in
/// as themselves, without a click (login CSRF).
async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    form: Result<Form<SessionUrlForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    csrf::verify(&state, &headers, &form.csrf)?;
    let opened = state
        .store
        .open_session_url(
            &crypto::sha256_hex(&token),
            &format!("u-{}", crypto::random_token()),
            new_session(&state, &headers, client, None),
            &state.config(),
        )
        .await;
    if let Err(StoreError::UserDisabled) = &opened {
        let event = AuditEvent::refused_login(UserSource::SESSION_URL, "disabled", None, client);
        state.store.record_audit(&event, state.clock.now()).await?;
    }
    let opened = opened
        .map_err(OpenError::from)?
        .ok_or(OpenError::Unusable)?;
    let cookie = session_cookie(&state, &opened.session_token);
    tracing::info!(user = %opened.user.id, profile = ?opened.change, "signed in by session URL");
    Ok(after_form(see_other(&opened.target_url, &[cookie])))
}
