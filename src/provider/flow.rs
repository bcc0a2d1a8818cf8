//! The steps between an authorization request and the code: login when there is no fresh enough
//! session, consent when personal data is asked for and not yet allowed, then the code itself,
//! returned by redirect or form post. Each step re-reads the pending authorization from the
//! database, so any process can take the next one.
use std::net::IpAddr;

use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use url::Url;

use super::error::{AuthorizationError, ErrorCode};
use super::issue::CODE_TTL;
use crate::crypto;
use crate::http::{PageError, cookies, pages};
use crate::session::current_session_and_consent;
use crate::state::AppState;
use crate::store::NewCode;
use crate::store::PendingAuthorization;
use crate::upstream::{Continuation, LoginRequest, Resume};
use crate::vocabulary::response_mode::ResponseMode;
use crate::vocabulary::scope::{self, Scopes};

/// Marks the browser that started an authorization: the pending id it is given in URLs is
/// worthless in any other browser.
pub const FLOW_COOKIE: &str = "idbridge_flow";

/// The pending authorization `id`, if it is alive and this browser started it.
pub async fn pending_for_browser(
    state: &AppState,
    headers: &HeaderMap,
    id: &str,
) -> Result<Pending, PageError> {
    let pending = state
        .store
        .find_pending(id, state.clock.now())
        .await?
        .ok_or(PageError::AuthorizationExpired)?;
    let browser = cookies::get(state, headers, FLOW_COOKIE).map(crypto::sha256_hex);
    if browser.is_none_or(|hash| !crypto::constant_time_eq(&hash, &pending.browser_hash)) {
        return Err(PageError::AuthorizationOfAnotherBrowser);
    }
    Ok(Pending {
        authorization: pending,
        new_from: None,
    })
}

pub fn resume_path(pending: &PendingAuthorization) -> String {
    Resume::from_kept(pending.id.clone()).path()
}

/// Ends the pending authorization a login was to resume, started by this browser, with an error
/// sent to its client.
pub async fn fail_resumed(
    state: &AppState,
    headers: &HeaderMap,
    resume: &Resume,
    error: AuthorizationError,
) -> Result<Response, PageError> {
    let pending = pending_for_browser(state, headers, resume.id()).await?;
    fail(state, &pending, error).await
}

/// A pending authorization, and whether it is in the database yet. A new request is stored only
/// when the person must be sent to login or consent; one that can be answered at once (a fresh
/// session, consent already given) costs no write.
pub struct Pending {
    pub authorization: PendingAuthorization,
    /// For a new request, not stored yet: the client address it came from, which the limits on
    /// pending logins count it against. `None` once it is stored.
    pub new_from: Option<IpAddr>,
}

impl Pending {
    /// Stores it, if it is not yet and the limits on pending logins allow it, so that a later
    /// step (on any process) can find it.
    async fn keep(&self, state: &AppState) -> Result<(), PageError> {
        if let Some(client) = self.new_from {
            state.admit_pending(client).await?;
            state.store.create_pending(&self.authorization).await?;
        }
        Ok(())
    }

    /// Removes it; `false` when another request finished it first.
    async fn finish(&self, state: &AppState) -> Result<bool, PageError> {
        Ok(self.new_from.is_some() || state.store.finish_pending(&self.authorization.id).await?)
    }
}

/// Takes the next step of a pending authorization for the browser's current session.
pub async fn proceed(
    state: &AppState,
    headers: &HeaderMap,
    pending: &Pending,
    consent_given: bool,
) -> Result<Response, PageError> {
    let request = pending;
    let pending = &request.authorization;
    let now = state.clock.now();
    let prompt = pending.prompt;
    let scope = &pending.scope;
    let (session, consented_scope) =
        current_session_and_consent(state, headers, &pending.client_id)
            .await?
            .unzip();
    // A login made for this very authorization is fresh, whatever it asked. Any other counts only
    // without `prompt=login`, and within `max_age`: `auth_time` and `now` are whole seconds, so
    // their difference may be up to a second short of the time passed; only a difference below
    // `max_age` is sure to be within it (and `max_age=0` always asks, OIDC Core 3.1.2.1).
    let fresh = session.as_ref().filter(|s| {
        s.pending_id.as_deref() == Some(pending.id.as_str())
            || (!prompt.login && pending.max_age.is_none_or(|max| now - s.auth_time < max))
    });
    let Some(session) = fresh else {
        if prompt.none {
            let error =
                AuthorizationError::new(ErrorCode::LoginRequired, "the user is not signed in");
            return fail(state, request, error).await;
        }
        request.keep(state).await?;
        let directory = state.directory();
        let connector = directory
            .connectors
            .for_login_hint(pending.login_hint.as_deref());
        let start = connector.entry(&LoginRequest {
            continuation: &Continuation::Resume(Resume::from_kept(pending.id.clone())),
            force: session.is_some(),
            login_hint: pending.login_hint.as_deref(),
        });
        return Ok(Redirect::to(&start).into_response());
    };

    // Personal data (profile) and access while the user is away (offline_access, OIDC Core 11)
    // need the user's consent.
    let asks_consent = [scope::PROFILE, scope::ADDRESS, scope::OFFLINE_ACCESS]
        .iter()
        .any(|value| scope.contains(value));
    if asks_consent && !consent_given {
        let covered = consented_scope
            .flatten()
            .is_some_and(|consented| scope.covered_by(&Scopes::parse(&consented)));
        if !covered || prompt.consent {
            if prompt.none {
                let error = AuthorizationError::new(
                    ErrorCode::ConsentRequired,
                    "the user has not consented",
                );
                return fail(state, request, error).await;
            }
            request.keep(state).await?;
            return Ok(Redirect::to(&format!("/sso/v2/consent?id={}", pending.id)).into_response());
        }
    }

    if !request.finish(state).await? {
        return Err(PageError::AuthorizationFinished);
    }
    if state
        .client(&pending.client_id)
        .is_some_and(|client| client.hears_of_logout())
    {
        state
            .store
            .remember_session_client(&session.sid, &pending.client_id)
            .await?;
    }
    let code = crypto::ordered_token();
    state
        .store
        .create_code(NewCode {
            code_hash: crypto::ordered_token_key(&code),
            family_id: crypto::ordered_token(),
            client_id: pending.client_id.clone(),
            user_id: session.user.id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            scope: pending.scope.clone(),
            nonce: pending.nonce.clone(),
            sid: Some(session.sid.clone()),
            code_challenge: pending.code_challenge.clone(),
            auth_time: session.auth_time,
            expires_at: now + CODE_TTL,
        })
        .await?;
    tracing::info!(client = %pending.client_id, user = %session.user.id, "authorization code issued");
    let mut params = vec![("code", code)];
    params.extend(pending.state.clone().map(|s| ("state", s)));
    params.push(("iss", state.server().issuer.clone()));
    Ok(respond(
        &pending.redirect_uri,
        pending.response_mode,
        params,
    ))
}

/// Ends a pending authorization with an error sent to the client.
pub async fn fail(
    state: &AppState,
    request: &Pending,
    error: AuthorizationError,
) -> Result<Response, PageError> {
    request.finish(state).await?;
    let pending = &request.authorization;
    Ok(respond_error(
        state,
        &pending.redirect_uri,
        pending.response_mode,
        pending.state.as_deref(),
        error,
    ))
}

/// An authorization error sent to a redirect URI that has been checked against the registered ones.
pub fn respond_error(
    state: &AppState,
    redirect_uri: &str,
    response_mode: ResponseMode,
    client_state: Option<&str>,
    error: AuthorizationError,
) -> Response {
    tracing::info!(error = error.code.as_str(), description = %error.description, "authorization refused");
    let mut params = vec![
        ("error", error.code.as_str().to_string()),
        ("error_description", error.description),
    ];
    params.extend(client_state.map(|s| ("state", s.to_string())));
    params.push(("iss", state.server().issuer.clone()));
    respond(redirect_uri, response_mode, params)
}

/// The authorization response: parameters added to the redirect URI's query, or posted to it
/// (OAuth 2.0 Form Post Response Mode).
fn respond(
    redirect_uri: &str,
    response_mode: ResponseMode,
    params: Vec<(&'static str, String)>,
) -> Response {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return PageError::Internal(format!(
            "registered redirect URI {redirect_uri} does not parse"
        ))
        .into_response();
    };
    if response_mode == ResponseMode::FormPost {
        return pages::post_to(&url, &params);
    }
    url.query_pairs_mut()
        .extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    Redirect::to(url.as_str()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_return_to_resumes_only_a_well_formed_pending_id() {
        let resumed = Continuation::from_return_to("/sso/v2/authorize/resume?id=a-B_9".into());
        assert_eq!(resumed.resume().map(Resume::id), Some("a-B_9"));
        assert_eq!(resumed.path(), "/sso/v2/authorize/resume?id=a-B_9");
        for page in [
            "/account",
            "/sso/v2/authorize/resume?id=a&b=c",
            "/sso/v2/authorize/resumed?id=a",
        ] {
            let continuation = Continuation::from_return_to(page.into());
            assert_eq!(continuation, Continuation::Page(page.into()));
            assert_eq!(continuation.path(), page);
        }
    }

    #[test]
    fn a_kept_login_goes_on_with_its_pending_authorization() {
        let kept = Continuation::from_kept(Some("p1".into()), "/ignored".into());
        assert_eq!(kept.path(), "/sso/v2/authorize/resume?id=p1");
        let page = Continuation::from_kept(None, "/account".into());
        assert_eq!(page.path(), "/account");
    }
}
