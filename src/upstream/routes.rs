//! The HTTP side of upstream logins: `GET /oidc/{connection}/login` sends the browser to the
//! provider, `GET /oidc/{connection}/callback` takes it back.
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde::Deserialize;

use super::{LoginRequest, OidcConnector, UpstreamConnector, UpstreamError};
use crate::crypto;
use crate::notifications::Notification;
use crate::provider::{self, AuthorizationError};
use crate::state::AppState;
use crate::store::tables::upstream_login;
use crate::web::pages::{local_path, see_other};
use crate::web::{ClientAddr, PageError, cookies, start_session};

/// How long a person may take at the provider.
const UPSTREAM_LOGIN_TTL: i64 = 600;

/// Marks the browser that started an upstream login, so that a callback (with its `state`)
/// carried to another browser signs no one in there.
const BROWSER_COOKIE: &str = "idbridge_upstream";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oidc/{connection}/login", get(oidc_login))
        .route("/oidc/{connection}/callback", get(oidc_callback))
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    force: Option<String>,
    login_hint: Option<String>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
}

fn oidc_connector<'a>(state: &'a AppState, id: &str) -> Result<&'a OidcConnector, PageError> {
    state.connectors.oidc(id).ok_or(PageError::NotFound)
}

fn callback_url(state: &AppState, connector: &OidcConnector) -> String {
    format!(
        "{}/oidc/{}/callback",
        state.config.server.issuer,
        connector.id()
    )
}

async fn oidc_login(
    State(state): State<AppState>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let connector = oidc_connector(&state, &connection)?;
    let return_to = local_path(query.return_to.as_deref());
    let request = LoginRequest {
        return_to: &return_to,
        force: query.force.is_some(),
        login_hint: query.login_hint.as_deref(),
    };
    let outbound = connector
        .authorization_url(&callback_url(&state, connector), &request)
        .await?;
    let browser = cookies::get(&state, &headers, BROWSER_COOKIE)
        .map(str::to_string)
        .unwrap_or_else(crypto::random_token);
    state
        .store
        .create_upstream_login(upstream_login::Model {
            state_hash: crypto::sha256_hex(&outbound.state),
            connection_id: connector.id().to_string(),
            browser_hash: crypto::sha256_hex(&browser),
            nonce: Some(outbound.nonce),
            pkce_verifier: Some(outbound.pkce_verifier),
            pending_id: provider::resumed_by(&return_to).map(str::to_string),
            return_to,
            expires_at: state.clock.now() + UPSTREAM_LOGIN_TTL,
        })
        .await?;
    let cookie = cookies::set(&state, BROWSER_COOKIE, &browser, Some(UPSTREAM_LOGIN_TTL));
    Ok(see_other(&outbound.url, &[cookie]))
}

async fn oidc_callback(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Result<Response, PageError> {
    let connector = oidc_connector(&state, &connection)?;
    let now = state.clock.now();
    let upstream_state = query
        .state
        .filter(|s| !s.is_empty())
        .ok_or(PageError::BadRequest(
            "This sign-in answer is not valid. Go back to the application and start again.",
        ))?;
    let login = state
        .store
        .take_upstream_login(connector.id(), &crypto::sha256_hex(&upstream_state), now)
        .await?
        .ok_or(PageError::BadRequest(
            "This sign-in answer is unknown, has expired or was already used. Go back to the application and start again.",
        ))?;
    let browser = cookies::get(&state, &headers, BROWSER_COOKIE).map(crypto::sha256_hex);
    if browser.is_none_or(|hash| !crypto::constant_time_eq(&hash, &login.browser_hash)) {
        return Err(PageError::BadRequest(
            "This sign-in answer was meant for another browser. Go back to the application and start again.",
        ));
    }
    if let Some(error) = query.error {
        return refused(&state, &headers, connector, &login, &error).await;
    }
    let code = query
        .code
        .filter(|c| !c.is_empty())
        .ok_or(PageError::BadRequest(
            "This sign-in answer is not valid. Go back to the application and start again.",
        ))?;
    let (Some(nonce), Some(verifier)) = (&login.nonce, &login.pkce_verifier) else {
        return Err(PageError::Internal(
            "OIDC login without nonce or verifier".into(),
        ));
    };
    let profile = connector
        .complete(
            &callback_url(&state, connector),
            &code,
            nonce,
            verifier,
            now,
        )
        .await?;
    let user = state
        .store
        .upsert_upstream_user(
            &profile,
            &format!("u-{}", crypto::random_token()),
            &state.config,
            now,
        )
        .await?;
    let signed_in = Notification::user_login(&user, connector.id());
    let cookie = start_session(&state, &headers, &signed_in, &client.to_string()).await?;
    tracing::info!(user = %user.id, connection = %connector.id(), "signed in upstream");
    let clear = cookies::set(&state, BROWSER_COOKIE, "", Some(0));
    Ok(see_other(&login.return_to, &[cookie, clear]))
}

/// The provider answered `error=`: the waiting client hears it as an authorization error, a
/// person without one gets a page that says so.
async fn refused(
    state: &AppState,
    headers: &HeaderMap,
    connector: &OidcConnector,
    login: &upstream_login::Model,
    error: &str,
) -> Result<Response, PageError> {
    let code = downstream_error(error);
    let denied = UpstreamError::Denied {
        connection: connector.id().to_string(),
        code: code.to_string(),
    };
    tracing::info!(error = %denied, "upstream login refused");
    match &login.pending_id {
        Some(pending_id) => {
            let error = AuthorizationError::new(
                code,
                format!("{} did not sign the user in", connector.name()),
            );
            provider::fail_for_browser(state, headers, pending_id, error).await
        }
        None => Err(denied.into()),
    }
}

/// The authorization error a client is told for a provider's `error`: the codes OAuth and OIDC
/// define for an authorization response pass through, anything else is `access_denied`.
fn downstream_error(upstream: &str) -> &'static str {
    [
        "access_denied",
        "temporarily_unavailable",
        "server_error",
        "login_required",
        "consent_required",
        "interaction_required",
        "account_selection_required",
    ]
    .into_iter()
    .find(|known| *known == upstream)
    .unwrap_or("access_denied")
}
