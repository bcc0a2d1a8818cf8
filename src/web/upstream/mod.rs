//! The HTTP side of every login, written once for all connectors:
//! - `GET /{kind}/{connection}/login` asks the connector where to send the browser, keeps what
//!   the answer is checked against (hashed `state`, nonce, verifier, request ID, the pending
//!   authorization) bound to this browser by a cookie, and sends it there;
//! - `GET /{kind}/{connection}/callback` (answers the browser brings, OIDC) takes the kept login
//!   once, checks the browser, has the connector complete it, and starts the session;
//! - `POST /{kind}/{connection}/acs` (answers posted cross-site, which bring no `SameSite=Lax`
//!   cookie, SAML) has the connector complete it, keeps the verified user, and sends the browser
//!   to `GET /{kind}/{connection}/resume`, where its cookie shows whether it started the login;
//! - `GET /{kind}/{connection}/metadata`: what the provider's administrator imports, if any;
//! - single logout with the provider: [`logout`].
//!
//! A login made for a pending authorization goes on with it; a provider's refusal the browser
//! brings back is told to the waiting client. Local accounts answer through their own form
//! (`web::login`), which signs in with [`sign_in`]. The connectors themselves are in `upstream`.
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;

use crate::config::MAX_SAML_RESPONSE_BYTES;
use crate::crypto;
use crate::http::pages::{local_path, see_other};
use crate::http::{ClientAddr, PageError, cookies};
use crate::provider::{AuthorizationError, ErrorCode, fail_resumed};
use crate::session::{new_session, session_cookie};
use crate::state::AppState;

mod logout;
use crate::store::{AuditEvent, NewSession, Notification, StoreError, User};
use crate::store::{KeptLogin, OutgoingLogin, Spent};
use crate::upstream::{
    Admission, Answer, AnswerRoute, Connector, Context, Continuation, Identity, LoginRequest,
    Resume, UpstreamError,
};

/// How long a person may take at the provider.
const UPSTREAM_LOGIN_TTL: i64 = 600;

/// Marks the browser that started an upstream login, so that a callback (with its `state`)
/// carried to another browser signs no one in there.
const BROWSER_COOKIE: &str = "idbridge_upstream";

/// The largest body the ACS reads: room for the largest `SAMLResponse` a connection may accept
/// even when every character of it is percent-encoded (three bytes each), and for a RelayState.
/// Each connection's own `max_response_bytes` is checked within it.
const ACS_BODY_LIMIT: usize = 3 * MAX_SAML_RESPONSE_BYTES + 8 * 1024;

/// How long a posted answer waits for its browser at the resume step.
const RESUME_TTL: i64 = 120;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{kind}/{connection}/login", get(login))
        .route("/{kind}/{connection}/callback", get(callback))
        .route(
            "/{kind}/{connection}/acs",
            post(acs).layer(DefaultBodyLimit::max(ACS_BODY_LIMIT)),
        )
        .route("/{kind}/{connection}/resume", get(resume))
        .route("/{kind}/{connection}/metadata", get(metadata))
        .merge(logout::router())
}

/// The connector `connection` of `kind`, if its answers come back as `wanted` says.
fn connector(
    state: &AppState,
    (kind, connection): &(String, String),
    wanted: impl Fn(AnswerRoute) -> bool,
) -> Result<Arc<dyn Connector>, PageError> {
    state
        .connector(connection)
        .filter(|connector| connector.kind() == kind && wanted(connector.answer_route()))
        .ok_or(PageError::NotFound)
}

fn is_upstream(route: AnswerRoute) -> bool {
    route != AnswerRoute::Form
}

fn is_cross_site(route: AnswerRoute) -> bool {
    matches!(route, AnswerRoute::CrossSitePost { .. })
}

/// Has `connector` verify an answer (see [`Connector::complete`]) sent from `client`, counts the
/// outcome in the metrics, and records a refusal in the audit trail.
async fn verified(
    state: &AppState,
    client: IpAddr,
    connector: &dyn Connector,
    answer: &Answer,
    kept: Option<&KeptLogin>,
    admission: Admission,
) -> Result<Identity, PageError> {
    let context = Context {
        passwords: state.password_checker(),
    };
    let identity = connector.complete(answer, kept, &context, admission).await;
    let outcome = identity
        .as_ref()
        .map_or_else(UpstreamError::outcome, |_| "verified");
    state.metrics.login(connector.id(), outcome);
    if let Err(error) = &identity
        && error.is_audited()
    {
        let event = AuditEvent::refused_login(connector.id(), outcome, None, client);
        state.store.record_audit(&event, state.clock.now()).await?;
    }
    Ok(identity?)
}

#[derive(Deserialize)]
struct LoginQuery {
    return_to: Option<String>,
    force: Option<String>,
    login_hint: Option<String>,
}

/// Remembers a login on its way to the connector's provider, bound to this browser, and sends
/// the browser there; admitted under the limits on pending logins first.
async fn login(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    Query(query): Query<LoginQuery>,
) -> Result<Response, PageError> {
    let connector = &*connector(&state, &path, is_upstream)?;
    state.admit_pending(client).await?;
    let return_to = local_path(query.return_to.as_deref());
    let continuation = Continuation::from_return_to(return_to.clone());
    let request = LoginRequest {
        continuation: &continuation,
        force: query.force.is_some(),
        login_hint: query.login_hint.as_deref(),
    };
    let now = state.clock.now();
    let outgoing = connector.begin(&request, now).await?;
    let browser = cookies::get(&state, &headers, BROWSER_COOKIE)
        .map(str::to_string)
        .unwrap_or_else(crypto::random_token);
    state
        .store
        .create_upstream_login(OutgoingLogin {
            state_hash: crypto::sha256_hex(&outgoing.state),
            connection_id: connector.id().to_string(),
            browser_hash: crypto::sha256_hex(&browser),
            nonce: outgoing.nonce,
            pkce_verifier: outgoing.pkce_verifier,
            request_id: outgoing.request_id,
            pending_id: continuation.resume().map(|resume| resume.id().to_string()),
            return_to,
            expires_at: now + UPSTREAM_LOGIN_TTL,
        })
        .await?;
    let cookie = cookies::set(&state, BROWSER_COOKIE, &browser, Some(UPSTREAM_LOGIN_TTL));
    Ok(see_other(&outgoing.url, &[cookie]))
}

/// An answer the browser brings back itself: signed in here, at once.
async fn callback(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let connector = &*connector(&state, &path, |route| route == AnswerRoute::Callback)?;
    let now = state.clock.now();
    connector.count_sender(client)?;
    let answer = Answer {
        params,
        query: None,
        client,
        now,
    };
    let admission = connector.admit(&answer).await?;
    let login = take_login(&state, connector, answer.param("state"), false).await?;
    check_browser(&state, &headers, &login)?;
    let continuation =
        Continuation::from_kept(login.sent.pending_id.clone(), login.sent.return_to.clone());
    let identity = match verified(&state, client, connector, &answer, Some(&login), admission).await
    {
        Err(PageError::Upstream(UpstreamError::Denied { code, .. })) => {
            return refused(&state, &headers, connector, &continuation, &code).await;
        }
        other => other?,
    };
    finish(&state, &headers, client, connector, identity, &continuation).await
}

/// The IdP's POST (HTTP-POST binding). Nothing is stored unless the answer verifies; the person
/// is signed in at the resume step, in the browser that started the login. The connector admits
/// posts first (see [`Connector::admit`]); one it refuses changes nothing.
async fn acs(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(path): Path<(String, String)>,
    form: Result<Form<HashMap<String, String>>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let connector = &*connector(&state, &path, is_cross_site)?;
    let now = state.clock.now();
    connector.count_sender(client)?;
    let Form(params) = form?;
    let answer = Answer {
        params,
        query: None,
        client,
        now,
    };
    let admission = connector.admit(&answer).await?;
    let unsolicited = connector.answer_route() == AnswerRoute::CrossSitePost { unsolicited: true };
    // An answer to none of our requests is taken as unsolicited, where that is allowed. The
    // login it answers is taken only with the verified answer (`accept_answer`): a forged post
    // with a RelayState seen in a URL cannot spend the person's login.
    let solicited = match find_login(&state, connector, answer.param("RelayState")).await {
        Ok(login) => Some(login),
        Err(PageError::Upstream(
            UpstreamError::InvalidAnswer { .. } | UpstreamError::UnknownAnswer { .. },
        )) if unsolicited => None,
        Err(refused) => return Err(refused),
    };
    let identity = verified(
        &state,
        client,
        connector,
        &answer,
        solicited.as_ref(),
        admission,
    )
    .await?;
    let Identity::Vouched { profile, one_time } = identity else {
        return Err(PageError::Internal("a posted answer for an account".into()));
    };
    admit_email(&state, connector, &profile.email).await?;
    let resume = crypto::random_token();
    let taken = solicited
        .as_ref()
        .map(|login| login.sent.state_hash.clone());
    let (browser_hash, return_to, pending_id) = match solicited {
        Some(login) => (
            login.sent.browser_hash,
            login.sent.return_to,
            login.sent.pending_id,
        ),
        // Unsolicited: no browser started it, so any browser may resume it.
        None => (String::new(), "/account".to_string(), None),
    };
    let accepted = state
        .store
        .accept_answer(
            Spent {
                login: taken.as_deref(),
                one_time,
            },
            &profile,
            &new_user_id(),
            OutgoingLogin {
                state_hash: crypto::sha256_hex(&resume),
                connection_id: connector.id().to_string(),
                browser_hash,
                nonce: None,
                pkce_verifier: None,
                request_id: None,
                return_to,
                pending_id,
                expires_at: now + RESUME_TTL,
            },
            &state.config(),
            now,
        )
        .await?;
    if !accepted {
        return Err(UpstreamError::Rejected {
            connection: connector.id().to_string(),
            detail: "the assertion was used before".into(),
        }
        .into());
    }
    Ok(see_other(
        &format!(
            "/{}/{}/resume?token={resume}",
            connector.kind(),
            connector.id()
        ),
        &[],
    ))
}

#[derive(Deserialize)]
struct ResumeQuery {
    token: Option<String>,
}

/// The browser of a posted answer arrives: signed in, if it is the one that started the login.
async fn resume(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(path): Path<(String, String)>,
    headers: HeaderMap,
    Query(query): Query<ResumeQuery>,
) -> Result<Response, PageError> {
    let connector = &*connector(&state, &path, is_cross_site)?;
    let login = take_login(&state, connector, query.token.as_deref(), true).await?;
    if !login.sent.browser_hash.is_empty() {
        check_browser(&state, &headers, &login)?;
    }
    let Some(user_id) = &login.user_id else {
        return Err(PageError::Internal("answered login without user".into()));
    };
    // The user was written at the ACS; a user deleted since (by a config sync) cannot sign in.
    let user = state
        .store
        .find_user(user_id)
        .await?
        .ok_or_else(|| UpstreamError::AccountGone {
            connection: connector.id().to_string(),
        })?;
    let identity = Identity::Answered {
        user,
        upstream: login.upstream,
    };
    let continuation = Continuation::from_kept(login.sent.pending_id, login.sent.return_to);
    finish(&state, &headers, client, connector, identity, &continuation).await
}

async fn metadata(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
) -> Result<Response, PageError> {
    let document = connector(&state, &path, is_upstream)?
        .metadata()
        .ok_or(PageError::NotFound)?;
    Ok(([(CONTENT_TYPE, "application/samlmetadata+xml")], document).into_response())
}

/// Signs in the person a connector's own form proved (local accounts), and sends the browser on
/// to `continuation`. A wrong password or a throttled account comes back as
/// [`UpstreamError::InvalidCredentials`] or [`UpstreamError::Throttled`] for the form to show.
pub async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
    connector: &dyn Connector,
    answer: &Answer,
    continuation: &Continuation,
) -> Result<Response, PageError> {
    let identity = verified(state, client, connector, answer, None, None).await?;
    let cookie = start_session(state, headers, client, connector, identity, continuation).await?;
    Ok(see_other(&continuation.path(), &[cookie]))
}

/// Starts a session for who `identity` names (a provider's user is created or updated first, in
/// the same transaction), made by a login for the pending authorization `continuation` resumes,
/// if any; the `Set-Cookie` that gives it to the browser (see [`session_cookie`]).
async fn start_session(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
    connector: &dyn Connector,
    identity: Identity,
    continuation: &Continuation,
) -> Result<String, PageError> {
    let pending_id = continuation.resume().map(Resume::id);
    let browser = new_session(state, headers, client, pending_id);
    let known_id = match &identity {
        Identity::Account(user) | Identity::Answered { user, .. } => Some(user.id.clone()),
        Identity::Vouched { .. } => None,
    };
    let signed_in = match identity {
        Identity::Account(user) => known_user(state, connector, user, browser).await,
        Identity::Answered { user, upstream } => {
            let browser = NewSession {
                upstream: upstream.as_ref(),
                ..browser
            };
            known_user(state, connector, user, browser).await
        }
        Identity::Vouched { profile, .. } => {
            admit_email(state, connector, &profile.email).await?;
            state
                .store
                .sign_in_upstream(&profile, &new_user_id(), browser, &state.config())
                .await
                .map_err(PageError::from)
        }
    };
    if let Err(PageError::Store(StoreError::UserDisabled)) = &signed_in {
        let event =
            AuditEvent::refused_login(connector.id(), "disabled", known_id.as_deref(), client);
        state.store.record_audit(&event, state.clock.now()).await?;
    }
    let (user, token) = signed_in?;
    let cookie = session_cookie(state, &token);
    tracing::info!(user = %user.id, connection = %connector.id(), "signed in");
    Ok(cookie)
}

/// A session for a user idbridge already keeps, announced as a login at `connector`.
async fn known_user(
    state: &AppState,
    connector: &dyn Connector,
    user: User,
    browser: NewSession<'_>,
) -> Result<(User, String), PageError> {
    let login = Notification::user_login(&user, connector.id());
    let token = state
        .store
        .create_session(&login, browser, &state.config())
        .await?;
    Ok((user, token))
}

/// Signs in who a provider's answer names and sends the browser on, forgetting its upstream-login
/// mark.
async fn finish(
    state: &AppState,
    headers: &HeaderMap,
    client: IpAddr,
    connector: &dyn Connector,
    identity: Identity,
    continuation: &Continuation,
) -> Result<Response, PageError> {
    let cookie = start_session(state, headers, client, connector, identity, continuation).await?;
    let clear = cookies::set(state, BROWSER_COOKIE, "", Some(0));
    Ok(see_other(&continuation.path(), &[cookie, clear]))
}

fn new_user_id() -> String {
    format!("u-{}", crypto::random_token())
}

/// Takes, once, the login a `state`, RelayState or resume token names (see
/// [`crate::store::Store::take_upstream_login`]).
async fn take_login(
    state: &AppState,
    connector: &dyn Connector,
    token: Option<&str>,
    answered: bool,
) -> Result<KeptLogin, PageError> {
    let state_hash = state_hash(connector, token)?;
    let now = state.clock.now();
    let taken = state
        .store
        .take_upstream_login(connector.id(), &state_hash, answered, now)
        .await?;
    taken.ok_or_else(|| unknown_answer(connector))
}

/// The login still waiting for the provider that a RelayState names, left in place (see
/// [`crate::store::Store::find_upstream_login`]).
async fn find_login(
    state: &AppState,
    connector: &dyn Connector,
    token: Option<&str>,
) -> Result<KeptLogin, PageError> {
    let state_hash = state_hash(connector, token)?;
    let now = state.clock.now();
    let found = state
        .store
        .find_upstream_login(connector.id(), &state_hash, now)
        .await?;
    found.ok_or_else(|| unknown_answer(connector))
}

/// What a login is kept under: the hash of the token that names it, which must be there.
fn state_hash(connector: &dyn Connector, token: Option<&str>) -> Result<String, PageError> {
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| UpstreamError::InvalidAnswer {
            connection: connector.id().to_string(),
        })?;
    Ok(crypto::sha256_hex(token))
}

fn unknown_answer(connector: &dyn Connector) -> PageError {
    UpstreamError::UnknownAnswer {
        connection: connector.id().to_string(),
    }
    .into()
}

/// Refuses a login carried to a browser other than the one that started it.
fn check_browser(
    state: &AppState,
    headers: &HeaderMap,
    login: &KeptLogin,
) -> Result<(), UpstreamError> {
    let browser = cookies::get(state, headers, BROWSER_COOKIE).map(crypto::sha256_hex);
    if browser.is_none_or(|hash| !crypto::constant_time_eq(&hash, &login.sent.browser_hash)) {
        return Err(UpstreamError::AnotherBrowser {
            connection: login.sent.connection_id.clone(),
        });
    }
    Ok(())
}

/// The provider answered `error=`: the waiting client hears it as an authorization error, a
/// person without one gets a page that says so.
async fn refused(
    state: &AppState,
    headers: &HeaderMap,
    connector: &dyn Connector,
    continuation: &Continuation,
    error: &str,
) -> Result<Response, PageError> {
    let code = ErrorCode::passed_on_from(error);
    let denied = UpstreamError::Denied {
        connection: connector.id().to_string(),
        code: code.to_string(),
    };
    tracing::info!(error = %denied, "upstream login refused");
    match continuation.resume() {
        Some(resume) => {
            let error = AuthorizationError::new(
                code,
                format!("{} did not sign the user in", connector.name()),
            );
            fail_resumed(state, headers, resume, error).await
        }
        None => Err(denied.into()),
    }
}

/// Whether `connector` may sign someone in with `email`: a domain another connection claims, or
/// one outside the connector's own, is refused (see [`crate::upstream::Connectors::check_email`]). A
/// connection that lists its domains speaks for every address in them; one without `domains`
/// may not take an address that a local account or another connection's person already holds,
/// or it could become that person at the products, which know people by address.
async fn admit_email(
    state: &AppState,
    connector: &dyn Connector,
    email: &str,
) -> Result<(), PageError> {
    state.directory().connectors.check_email(connector, email)?;
    if !connector.domains().is_empty() {
        return Ok(());
    }
    match state
        .store
        .email_held_elsewhere(email, connector.id())
        .await?
    {
        None => Ok(()),
        Some(holder) => Err(UpstreamError::HeldAddress {
            connection: connector.id().to_string(),
            holder: holder.column().to_string(),
        }
        .into()),
    }
}
