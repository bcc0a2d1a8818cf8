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
//! - `GET|POST /{kind}/{connection}/logged-out`: the provider's answer to a logout idbridge
//!   sent it (single logout, see `provider::logout`), taken once by its state, checked by the
//!   connector; the browser then goes where the sign-out was to end.
//! - `GET|POST /{kind}/{connection}/slo`: the provider, through the browser, asks that the
//!   sessions behind its own end (SAML IdP-initiated logout); the connector verifies the
//!   request, the sessions it names end, once per request, and the browser takes the answer back.
//! - `POST /{kind}/{connection}/backchannel-logout`: the provider, server to server, says its
//!   session has ended (OIDC back-channel logout); the connector verifies its token, and the
//!   sessions it names end, once per token.
//!
//! A login made for a pending authorization goes on with it; a provider's refusal the browser
//! brings back is told to the waiting client. Local accounts answer through their own form
//! (`web::login`), which signs in with [`sign_in`]. The connectors themselves are in `upstream`.
use std::collections::HashMap;
use std::net::IpAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, FromRequest, Path, Query, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, Method};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use url::form_urlencoded;

use crate::config::MAX_SAML_RESPONSE_BYTES;
use crate::crypto;
use crate::http::pages::{local_path, see_other};
use crate::http::{BackChannelError, ClientAddr, PageError, cookies};
use crate::provider::{AuthorizationError, ErrorCode, fail_resumed};
use crate::session::flash::signed_out;
use crate::session::{new_session, session_cookie};
use crate::state::AppState;
use crate::store::{AnsweredLogin, KeptLogin, OutgoingLogin};
use crate::store::{NewSession, Notification, User};
use crate::upstream::{
    Answer, AnswerRoute, Connector, Context, Continuation, Identity, LoginRequest, Resume,
    UpstreamError,
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

/// The largest body a logout route reads: a posted SAML logout message (at most 64 KiB of
/// base64 as the connector reads it), however it is percent-encoded, with its RelayState.
const LOGOUT_BODY_LIMIT: usize = 3 * 64 * 1024 + 8 * 1024;

/// The form field of a SAML response (here: a LogoutResponse).
const SAML_RESPONSE: &str = "SAMLResponse";

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
        .route(
            "/{kind}/{connection}/logged-out",
            get(logged_out)
                .post(logged_out)
                .layer(DefaultBodyLimit::max(LOGOUT_BODY_LIMIT)),
        )
        .route(
            "/{kind}/{connection}/slo",
            get(provider_logout)
                .post(provider_logout)
                .layer(DefaultBodyLimit::max(LOGOUT_BODY_LIMIT)),
        )
        .route(
            "/{kind}/{connection}/backchannel-logout",
            post(back_channel_logout).layer(DefaultBodyLimit::max(BACK_CHANNEL_BODY_LIMIT)),
        )
}

/// The connector `connection` of `kind`, if its answers come back as `wanted` says.
fn connector<'a>(
    state: &'a AppState,
    (kind, connection): &(String, String),
    wanted: impl Fn(AnswerRoute) -> bool,
) -> Result<&'a dyn Connector, PageError> {
    state
        .connectors
        .get(connection)
        .map(|connector| connector.as_ref())
        .filter(|connector| connector.kind() == kind && wanted(connector.answer_route()))
        .ok_or(PageError::NotFound)
}

fn is_upstream(route: AnswerRoute) -> bool {
    route != AnswerRoute::Form
}

fn is_cross_site(route: AnswerRoute) -> bool {
    matches!(route, AnswerRoute::CrossSitePost { .. })
}

/// What connectors may use of the application.
fn context(state: &AppState) -> Context<'_> {
    Context {
        passwords: state.password_checker(),
    }
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
    let connector = connector(&state, &path, is_upstream)?;
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
    let connector = connector(&state, &path, |route| route == AnswerRoute::Callback)?;
    let now = state.clock.now();
    connector.count_sender(client, now)?;
    let answer = Answer {
        params,
        query: None,
        client,
        now,
    };
    let admission = connector.admit(&answer).await?;
    let login = take_login(&state, connector, answer.param("state"), false).await?;
    check_browser(&state, &headers, &login)?;
    let continuation = Continuation::from_kept(login.pending_id.clone(), login.return_to.clone());
    let context = context(&state);
    let identity = match connector
        .complete(&answer, Some(&login), &context, admission)
        .await
    {
        Err(UpstreamError::Denied { code, .. }) => {
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
    let connector = connector(&state, &path, is_cross_site)?;
    let now = state.clock.now();
    connector.count_sender(client, now)?;
    let Form(params) = form?;
    let answer = Answer {
        params,
        query: None,
        client,
        now,
    };
    // Admitted before the login is taken, so that a post refused as busy leaves it to a retry.
    let admission = connector.admit(&answer).await?;
    let unsolicited = connector.answer_route() == AnswerRoute::CrossSitePost { unsolicited: true };
    // An answer to none of our requests is taken as unsolicited, where that is allowed.
    let solicited = match take_login(&state, connector, answer.param("RelayState"), false).await {
        Ok(login) => Some(login),
        Err(PageError::Upstream(
            UpstreamError::InvalidAnswer { .. } | UpstreamError::UnknownAnswer { .. },
        )) if unsolicited => None,
        Err(refused) => return Err(refused),
    };
    let context = context(&state);
    let identity = connector
        .complete(&answer, solicited.as_ref(), &context, admission)
        .await?;
    let Identity::Vouched { profile, one_time } = identity else {
        return Err(PageError::Internal("a posted answer for an account".into()));
    };
    admit_email(&state, connector, &profile.email).await?;
    let resume = crypto::random_token();
    let (browser_hash, return_to, pending_id) = match solicited {
        Some(login) => (login.browser_hash, login.return_to, login.pending_id),
        // Unsolicited: no browser started it, so any browser may resume it.
        None => (String::new(), "/account".to_string(), None),
    };
    let accepted = state
        .store
        .accept_answer(
            one_time,
            &profile,
            &new_user_id(),
            AnsweredLogin {
                resume_hash: crypto::sha256_hex(&resume),
                connection_id: connector.id().to_string(),
                browser_hash,
                return_to,
                pending_id,
                expires_at: now + RESUME_TTL,
            },
            &state.config,
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
    let connector = connector(&state, &path, is_cross_site)?;
    let login = take_login(&state, connector, query.token.as_deref(), true).await?;
    if !login.browser_hash.is_empty() {
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
        upstream: login.upstream_session(),
    };
    let continuation = Continuation::from_kept(login.pending_id, login.return_to);
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

/// An answer the browser brings from the provider by GET (its query, kept as sent too: the SAML
/// HTTP-Redirect binding signs it) or by POST (its form).
struct Brought {
    params: HashMap<String, String>,
    query: Option<String>,
}

impl Brought {
    fn answer(self, client: IpAddr, now: i64) -> Answer {
        Answer {
            params: self.params,
            query: self.query,
            client,
            now,
        }
    }
}

impl<S: Send + Sync> FromRequest<S> for Brought {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &S) -> Result<Self, PageError> {
        if request.method() == Method::POST {
            let Form(params) =
                Form::<HashMap<String, String>>::from_request(request, state).await?;
            return Ok(Brought {
                params,
                query: None,
            });
        }
        let query = request.uri().query().unwrap_or_default().to_string();
        Ok(Brought {
            params: form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect(),
            query: Some(query),
        })
    }
}

/// The provider has ended its session at idbridge's request: its answer, taken once by its
/// state and checked by the connector, sends the browser where the sign-out was to end.
async fn logged_out(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(path): Path<(String, String)>,
    brought: Brought,
) -> Result<Response, PageError> {
    let connector = connector(&state, &path, is_upstream)?;
    let answer = brought.answer(client, state.clock.now());
    end_logout(&state, connector, &answer).await
}

/// Takes the logout sent to `connector`'s provider that `answer` answers, once, by its state;
/// the browser goes on where the sign-out was to end.
async fn end_logout(
    state: &AppState,
    connector: &dyn Connector,
    answer: &Answer,
) -> Result<Response, PageError> {
    let unknown = || UpstreamError::UnknownAnswer {
        connection: connector.id().to_string(),
    };
    let token = answer
        .param(connector.answer_route().state_param())
        .ok_or_else(unknown)?;
    let sent = state
        .store
        .take_upstream_logout(connector.id(), &crypto::sha256_hex(token), answer.now)
        .await?
        .ok_or_else(unknown)?;
    connector.finish_logout(answer, &sent).await?;
    let clear = cookies::set(state, cookies::SESSION, "", Some(0));
    Ok(match &sent.return_to {
        Some(target) => see_other(target, &[clear]),
        None => signed_out(state, clear),
    })
}

/// The provider asks through the browser that the sessions behind its own end (SAML
/// IdP-initiated logout): the connector verifies the request, the sessions it names end in the
/// transaction that spends its ID (clients told as of any sign-out), and the browser takes the
/// answer back to the provider. An answer to a logout of ours that comes here (some IdPs send
/// it to this address) is taken as at `logged-out`.
async fn provider_logout(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    Path(path): Path<(String, String)>,
    brought: Brought,
) -> Result<Response, PageError> {
    let connector = connector(&state, &path, is_upstream)?;
    let front = connector.front_channel().ok_or(PageError::NotFound)?;
    let now = state.clock.now();
    let answer = brought.answer(client, now);
    if answer.param(SAML_RESPONSE).is_some() {
        return end_logout(&state, connector, &answer).await;
    }
    connector.count_sender(client, now)?;
    let asked = front.verify_logout_request(&answer).await?;
    let ended = &asked.ended;
    let count = state
        .store
        .end_upstream_sessions_once(
            ended.one_time.clone(),
            connector.id(),
            ended.subject.as_deref(),
            ended.session_index.as_deref(),
            &state.config,
            now,
        )
        .await?
        .ok_or_else(|| UpstreamError::LogoutReplayed {
            connection: connector.id().to_string(),
        })?;
    tracing::info!(
        connection = connector.id(),
        sessions = count,
        "the provider ended its session"
    );
    Ok(match front.logout_answer(&asked, now)? {
        Some(url) => see_other(&url, &[]),
        None => signed_out(&state, cookies::set(&state, cookies::SESSION, "", Some(0))),
    })
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
    let context = context(state);
    let identity = connector.complete(answer, None, &context, None).await?;
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
    let (user, token) = match identity {
        Identity::Account(user) => known_user(state, connector, user, browser).await?,
        Identity::Answered { user, upstream } => {
            let browser = NewSession {
                upstream: upstream.as_ref(),
                ..browser
            };
            known_user(state, connector, user, browser).await?
        }
        Identity::Vouched { profile, .. } => {
            admit_email(state, connector, &profile.email).await?;
            state
                .store
                .sign_in_upstream(&profile, &new_user_id(), browser, &state.config)
                .await?
        }
    };
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
        .create_session(&login, browser, &state.config)
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
    let connection = || connector.id().to_string();
    let token = token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| UpstreamError::InvalidAnswer {
            connection: connection(),
        })?;
    state
        .store
        .take_upstream_login(
            connector.id(),
            &crypto::sha256_hex(token),
            answered,
            state.clock.now(),
        )
        .await?
        .ok_or_else(|| {
            UpstreamError::UnknownAnswer {
                connection: connection(),
            }
            .into()
        })
}

/// Refuses a login carried to a browser other than the one that started it.
fn check_browser(
    state: &AppState,
    headers: &HeaderMap,
    login: &KeptLogin,
) -> Result<(), UpstreamError> {
    let browser = cookies::get(state, headers, BROWSER_COOKIE).map(crypto::sha256_hex);
    if browser.is_none_or(|hash| !crypto::constant_time_eq(&hash, &login.browser_hash)) {
        return Err(UpstreamError::AnotherBrowser {
            connection: login.connection_id.clone(),
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
    state.connectors.check_email(connector, email)?;
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

// ---- Back-channel logout from the provider (upstream single logout, server to server) ----

/// The largest body the back-channel logout endpoint reads: a form with one logout token, which
/// takes a kilobyte or two.
const BACK_CHANNEL_BODY_LIMIT: usize = 16 * 1024;

#[derive(Deserialize)]
struct BackChannelForm {
    logout_token: String,
}

/// `POST /{kind}/{connection}/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0
/// section 2.5), answered as JSON.
async fn back_channel_logout(
    state: State<AppState>,
    path: Path<(String, String)>,
    form: Result<Form<BackChannelForm>, FormRejection>,
) -> Result<Response, BackChannelError> {
    Ok(end_told_sessions(state, path, form).await?)
}

/// The connector verifies the logout token, and the sessions it names end in the transaction
/// that spends its `jti`; clients of those sessions hear of it as of any sign-out. A refusal
/// changes nothing. Advertised nowhere: the operator registers the URL at the provider.
async fn end_told_sessions(
    State(state): State<AppState>,
    Path(path): Path<(String, String)>,
    form: Result<Form<BackChannelForm>, FormRejection>,
) -> Result<Response, PageError> {
    let connector = connector(&state, &path, is_upstream)?;
    let Form(form) = form?;
    let now = state.clock.now();
    let ended = connector
        .back_channel()
        .ok_or(PageError::NotFound)?
        .verify_logout_token(&form.logout_token, now)
        .await?;
    let count = state
        .store
        .end_upstream_sessions_once(
            ended.one_time,
            connector.id(),
            ended.subject.as_deref(),
            ended.session_index.as_deref(),
            &state.config,
            now,
        )
        .await?
        .ok_or_else(|| UpstreamError::LogoutReplayed {
            connection: connector.id().to_string(),
        })?;
    tracing::info!(
        connection = connector.id(),
        sessions = count,
        "the provider ended its session"
    );
    Ok(([(CACHE_CONTROL, "no-store")], ()).into_response())
}
