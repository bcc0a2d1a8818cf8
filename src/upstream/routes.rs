//! The HTTP side of upstream logins. OpenID Connect: `GET /oidc/{connection}/login` sends the
//! browser to the provider, `GET /oidc/{connection}/callback` takes it back. SAML:
//! `GET /saml/{connection}/login` sends an AuthnRequest, the IdP POSTs to
//! `/saml/{connection}/acs`, which (a cross-site POST carries no `SameSite=Lax` cookie) stores the
//! verified result and sends the browser to `/saml/{connection}/resume`, where its cookie shows
//! whether it is the browser that started the login.
use axum::extract::DefaultBodyLimit;
use axum::extract::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use super::{LoginRequest, OidcConnector, SamlConnector, UpstreamConnector, UpstreamError};
use crate::config::MAX_SAML_RESPONSE_BYTES;
use crate::crypto;
use crate::http::pages::{local_path, see_other};
use crate::http::{ClientAddr, PageError, cookies};
use crate::limits;
use crate::provider::{self, AuthorizationError};
use crate::state::AppState;
use crate::store::Notification;
use crate::store::UpstreamProfile;
use crate::store::tables::{saml_assertion, upstream_login, user};
use crate::web::{new_session, replace_session};

/// How long a person may take at the provider.
const UPSTREAM_LOGIN_TTL: i64 = 600;

/// Marks the browser that started an upstream login, so that a callback (with its `state`)
/// carried to another browser signs no one in there.
const BROWSER_COOKIE: &str = "idbridge_upstream";

/// The largest body the ACS reads: room for the largest `SAMLResponse` a connection may accept
/// even when every character of it is percent-encoded (three bytes each), and for a RelayState.
/// Each connection's own `max_response_bytes` is checked within it.
const ACS_BODY_LIMIT: usize = 3 * MAX_SAML_RESPONSE_BYTES + 8 * 1024;

/// How long a SAML result waits for its browser at the resume step.
const RESUME_TTL: i64 = 120;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oidc/{connection}/login", get(oidc_login))
        .route("/oidc/{connection}/callback", get(oidc_callback))
        .route("/saml/{connection}/metadata", get(saml_metadata))
        .route("/saml/{connection}/login", get(saml_login))
        .route(
            "/saml/{connection}/acs",
            post(saml_acs).layer(DefaultBodyLimit::max(ACS_BODY_LIMIT)),
        )
        .route("/saml/{connection}/resume", get(saml_resume))
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
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let connector = oidc_connector(&state, &connection)?;
    limits::admit_pending(&state, client).await?;
    let return_to = local_path(query.return_to.as_deref());
    let request = LoginRequest {
        return_to: &return_to,
        force: query.force.is_some(),
        login_hint: query.login_hint.as_deref(),
    };
    let outbound = connector
        .authorization_url(&callback_url(&state, connector), &request)
        .await?;
    go_upstream(
        &state,
        &headers,
        connector.id(),
        return_to,
        Outgoing {
            url: &outbound.url,
            state: &outbound.state,
            nonce: Some(outbound.nonce),
            pkce_verifier: Some(outbound.pkce_verifier),
            request_id: None,
        },
    )
    .await
}

/// What a protocol keeps of a login it sends to the upstream provider.
struct Outgoing<'a> {
    /// Where the browser goes.
    url: &'a str,
    /// The value that comes back with the answer: OIDC `state`, SAML RelayState.
    state: &'a str,
    nonce: Option<String>,
    pkce_verifier: Option<String>,
    request_id: Option<String>,
}

/// Remembers a login on its way to `connection`'s provider, bound to this browser, and sends the
/// browser there. The caller has admitted it under the limits on pending logins first.
async fn go_upstream(
    state: &AppState,
    headers: &HeaderMap,
    connection: &str,
    return_to: String,
    outgoing: Outgoing<'_>,
) -> Result<Response, PageError> {
    let browser = browser_mark(state, headers);
    state
        .store
        .create_upstream_login(upstream_login::Model {
            state_hash: crypto::sha256_hex(outgoing.state),
            connection_id: connection.to_string(),
            browser_hash: crypto::sha256_hex(&browser),
            nonce: outgoing.nonce,
            pkce_verifier: outgoing.pkce_verifier,
            request_id: outgoing.request_id,
            user_id: None,
            pending_id: provider::resumed_by(&return_to).map(str::to_string),
            return_to,
            expires_at: state.clock.now() + UPSTREAM_LOGIN_TTL,
        })
        .await?;
    let cookie = cookies::set(state, BROWSER_COOKIE, &browser, Some(UPSTREAM_LOGIN_TTL));
    Ok(see_other(outgoing.url, &[cookie]))
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
    let login = take_login(&state, connector.id(), query.state.as_deref(), false).await?;
    check_browser(&state, &headers, &login)?;
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
    state.connectors.check_email(connector, &profile.email)?;
    let (user, session_token) = state
        .store
        .sign_in_upstream(
            &profile,
            &format!("u-{}", crypto::random_token()),
            new_session(
                &state,
                &headers,
                &client.to_string(),
                login.pending_id.as_deref(),
            ),
            &state.config,
        )
        .await?;
    finish(
        &state,
        &headers,
        &session_token,
        &user,
        connector.id(),
        &login.return_to,
    )
    .await
}

/// Takes, once, the login a `state`, RelayState or resume token names (see
/// [`crate::store::Store::take_upstream_login`]).
async fn take_login(
    state: &AppState,
    connection: &str,
    token: Option<&str>,
    answered: bool,
) -> Result<upstream_login::Model, PageError> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or(PageError::BadRequest(
            "This sign-in answer is not valid. Go back to the application and start again.",
        ))?;
    state
        .store
        .take_upstream_login(
            connection,
            &crypto::sha256_hex(token),
            answered,
            state.clock.now(),
        )
        .await?
        .ok_or(PageError::BadRequest(
            "This sign-in answer is unknown, has expired or was already used. Go back to the application and start again.",
        ))
}

/// The browser's upstream-login mark: the one it has, or a new one.
fn browser_mark(state: &AppState, headers: &HeaderMap) -> String {
    cookies::get(state, headers, BROWSER_COOKIE)
        .map(str::to_string)
        .unwrap_or_else(crypto::random_token)
}

/// Refuses a login carried to a browser other than the one that started it.
fn check_browser(
    state: &AppState,
    headers: &HeaderMap,
    login: &upstream_login::Model,
) -> Result<(), PageError> {
    let browser = cookies::get(state, headers, BROWSER_COOKIE).map(crypto::sha256_hex);
    if browser.is_none_or(|hash| !crypto::constant_time_eq(&hash, &login.browser_hash)) {
        return Err(PageError::BadRequest(
            "This sign-in answer was meant for another browser. Go back to the application and start again.",
        ));
    }
    Ok(())
}

/// Gives the browser the session just started for someone an upstream provider signed in (see
/// [`replace_session`]), and sends it on.
async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    session_token: &str,
    user: &user::Model,
    connection: &str,
    return_to: &str,
) -> Result<Response, PageError> {
    let cookie = replace_session(state, headers, session_token).await?;
    tracing::info!(user = %user.id, %connection, "signed in upstream");
    let clear = cookies::set(state, BROWSER_COOKIE, "", Some(0));
    Ok(see_other(return_to, &[cookie, clear]))
}

fn saml_connector(state: &AppState, id: &str) -> Result<std::sync::Arc<SamlConnector>, PageError> {
    state.connectors.saml(id).ok_or(PageError::NotFound)
}

async fn saml_metadata(
    State(state): State<AppState>,
    Path(connection): Path<String>,
) -> Result<Response, PageError> {
    let connector = saml_connector(&state, &connection)?;
    Ok((
        [(CONTENT_TYPE, "application/samlmetadata+xml")],
        connector.metadata(),
    )
        .into_response())
}

async fn saml_login(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let connector = saml_connector(&state, &connection)?;
    limits::admit_pending(&state, client).await?;
    let return_to = local_path(query.return_to.as_deref());
    let now = state.clock.now();
    // xs:ID must start with a letter.
    let request_id = format!("id-{}", crypto::random_token());
    let relay_state = crypto::random_token();
    let url = connector.authn_request_url(&request_id, &relay_state, query.force.is_some(), now)?;
    go_upstream(
        &state,
        &headers,
        connector.id(),
        return_to,
        Outgoing {
            url: &url,
            state: &relay_state,
            nonce: None,
            pkce_verifier: None,
            request_id: Some(request_id),
        },
    )
    .await
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    saml_response: Option<String>,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The IdP's POST (HTTP-POST binding). Nothing is stored unless the response verifies; the
/// person is signed in at the resume step, in the browser that started the login. Posts are
/// limited per address and wait a bounded time for a verification turn (see
/// [`super::saml_limits`]); one refused for either changes nothing.
async fn saml_acs(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(connection): Path<String>,
    form: Result<Form<AcsForm>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let connector = saml_connector(&state, &connection)?;
    let now = state.clock.now();
    let limits = state.connectors.saml_limits();
    if !limits.count_post(client, now) {
        return Err(UpstreamError::TooManyResponses {
            connection: connector.id().to_string(),
        }
        .into());
    }
    let Form(form) = form?;
    let saml_response =
        form.saml_response
            .filter(|r| !r.is_empty())
            .ok_or(PageError::BadRequest(
                "This sign-in answer has no SAMLResponse.",
            ))?;
    // Taken before the login, so that a post refused as busy leaves its login to a retry.
    let turn = limits.turn().await.ok_or_else(|| UpstreamError::Busy {
        connection: connector.id().to_string(),
    })?;
    // A response to none of our requests is taken as IdP-initiated, where that is allowed.
    let solicited =
        match take_login(&state, connector.id(), form.relay_state.as_deref(), false).await {
            Ok(login) => Some(login),
            Err(PageError::BadRequest(_)) if connector.allows_idp_initiated() => None,
            Err(refused) => return Err(refused),
        };
    let request_id = solicited
        .as_ref()
        .and_then(|login| login.request_id.clone());
    let verifying = connector.clone();
    // The turn goes with the work: it ends when the verification does, even if this request is
    // dropped first.
    let verified = tokio::task::spawn_blocking(move || {
        let verified = verifying.verify(&saml_response, request_id.as_deref(), now);
        drop(turn);
        verified
    })
    .await
    .map_err(|e| PageError::Internal(format!("SAML verification task: {e}")))?;
    let identity = verified?;
    state
        .connectors
        .check_email(connector.as_ref(), &identity.email)?;
    let resume = crypto::random_token();
    let (browser_hash, return_to, pending_id) = match solicited {
        Some(login) => (login.browser_hash, login.return_to, login.pending_id),
        // IdP-initiated: no browser started it, so any browser may resume it.
        None => (String::new(), "/account".to_string(), None),
    };
    let accepted = state
        .store
        .accept_saml_assertion(
            saml_assertion::Model {
                connection_id: connector.id().to_string(),
                assertion_id: identity.assertion_id,
                expires_at: identity.expires_at,
            },
            &UpstreamProfile {
                connection_id: connector.id().to_string(),
                subject: identity.name_id,
                email: identity.email,
                name: identity.name,
                entity_id: connector.entity().to_string(),
            },
            &format!("u-{}", crypto::random_token()),
            upstream_login::Model {
                state_hash: crypto::sha256_hex(&resume),
                connection_id: connector.id().to_string(),
                browser_hash,
                nonce: None,
                pkce_verifier: None,
                request_id: None,
                user_id: None,
                return_to,
                pending_id,
                expires_at: now + RESUME_TTL,
            },
            &state.config,
            now,
        )
        .await?;
    if !accepted {
        return Err(connector.rejected("the assertion was used before").into());
    }
    Ok(see_other(
        &format!("/saml/{}/resume?token={resume}", connector.id()),
        &[],
    ))
}

#[derive(Deserialize)]
struct ResumeQuery {
    token: Option<String>,
}

async fn saml_resume(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(connection): Path<String>,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, PageError> {
    let connector = saml_connector(&state, &connection)?;
    let login = take_login(&state, connector.id(), query.token.as_deref(), true).await?;
    if !login.browser_hash.is_empty() {
        check_browser(&state, &headers, &login)?;
    }
    let Some(user_id) = &login.user_id else {
        return Err(PageError::Internal(
            "answered SAML login without user".into(),
        ));
    };
    // The user was written at the ACS; a user deleted since (by a config sync) cannot sign in.
    let user = state
        .store
        .find_user(user_id)
        .await?
        .ok_or(PageError::BadRequest(
            "This account no longer exists. Go back to the application and start again.",
        ))?;
    let session_token = state
        .store
        .create_session(
            &Notification::user_login(&user, connector.id()),
            new_session(
                &state,
                &headers,
                &client.to_string(),
                login.pending_id.as_deref(),
            ),
            &state.config,
        )
        .await?;
    finish(
        &state,
        &headers,
        &session_token,
        &user,
        connector.id(),
        &login.return_to,
    )
    .await
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
