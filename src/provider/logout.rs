//! `GET/POST /sso/v2/logout` (OpenID Connect RP-Initiated Logout 1.0). The session ends at once
//! when the request proves it comes from the session's own side: a form from idbridge's pages
//! (CSRF token) or an `id_token_hint` for the signed-in user. Otherwise the person is asked first,
//! so a link on another site cannot sign them out. Redirects go only to a URI registered for the
//! client.
use std::net::IpAddr;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;
use url::Url;

use super::id_token::verify_id_token;
use crate::http::{ClientAddr, PageError, cookies, csrf, pages};
use crate::session::current_session;
use crate::session::flash::signed_out;
use crate::signout;
use crate::state::AppState;
use crate::store::{Actor, Initiator};

#[derive(Debug, Default, Deserialize)]
pub struct LogoutParams {
    id_token_hint: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
    client_id: Option<String>,
    csrf: Option<String>,
}

#[derive(Template)]
#[template(path = "logout.html")]
struct ConfirmPage {
    csrf: String,
    client_id: String,
    post_logout_redirect_uri: String,
    state: String,
}

pub async fn get(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    Query(params): Query<LogoutParams>,
) -> Result<Response, PageError> {
    logout(state, client, headers, params, false).await
}

pub async fn post(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    form: Result<Form<LogoutParams>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(params) = form?;
    let confirmed = match &params.csrf {
        Some(token) => {
            csrf::verify(&state, &headers, token)?;
            true
        }
        None => false,
    };
    logout(state, client, headers, params, confirmed)
        .await
        .map(pages::after_form)
}

async fn logout(
    state: AppState,
    client: IpAddr,
    headers: HeaderMap,
    params: LogoutParams,
    confirmed: bool,
) -> Result<Response, PageError> {
    let hint = match params.id_token_hint.as_deref() {
        Some(token) => Some(verify_hint(&state, token).await?),
        None => None,
    };
    if params
        .client_id
        .as_deref()
        .is_some_and(|id| state.client(id).is_none())
    {
        return Err(PageError::LogoutUnknownClient);
    }
    let client_id = hint
        .as_ref()
        .map(|h| h.aud.clone())
        .or(params.client_id.clone());
    if let (Some(hinted), Some(named)) = (&hint, &params.client_id)
        && hinted.aud != *named
    {
        return Err(PageError::LogoutClientMismatch);
    }
    let target = match params.post_logout_redirect_uri.as_deref() {
        None => None,
        Some(uri) => {
            let client = client_id
                .as_deref()
                .and_then(|id| state.client(id))
                .ok_or(PageError::LogoutRedirectWithoutClient)?;
            if !client.has_post_logout_redirect_uri(uri) {
                return Err(PageError::LogoutRedirectUnregistered);
            }
            let mut url = Url::parse(uri).map_err(|_| PageError::LogoutRedirectUnreadable)?;
            if let Some(client_state) = &params.state {
                url.query_pairs_mut().append_pair("state", client_state);
            }
            Some(url.to_string())
        }
    };

    let session = current_session(&state, &headers).await?;
    // Only a hint issued in this very session proves the request comes from its own client; an
    // old ID token of the same user (from a log or a browser history) does not.
    let hint_is_for_session = matches!(
        (&hint, &session),
        (Some(h), Some(s)) if h.sub == s.user.id && h.sid.as_deref() == Some(s.sid.as_str())
    );
    if session.is_some() && !confirmed && !hint_is_for_session {
        let (csrf, csrf_cookie) = csrf::issue(&state, &headers);
        let page = ConfirmPage {
            csrf,
            client_id: client_id.unwrap_or_default(),
            post_logout_redirect_uri: params.post_logout_redirect_uri.unwrap_or_default(),
            state: params.state.unwrap_or_default(),
        };
        return pages::render(&page, &csrf_cookie.into_iter().collect::<Vec<_>>());
    }
    let signing_out = Initiator {
        actor: Actor::Person,
        client_addr: Some(client),
    };
    let heard = match cookies::get(&state, &headers, cookies::SESSION) {
        Some(token) => {
            state
                .store
                .end_session(token, &signing_out, &state.config(), state.clock.now())
                .await?
        }
        None => Vec::new(),
    };
    let upstream = session.as_ref().and_then(|s| s.upstream.as_ref());
    let at_provider = signout::upstream_logout(&state, upstream, target.as_deref()).await?;
    let mut frames = Vec::new();
    if let Some(session) = &session {
        frames = signout::frontchannel_frames(&state, &heard, &session.sid);
        frames.extend(
            crate::saml_idp::logout_frames(&state, &heard, &session.user, &session.sid).await,
        );
    }
    let clear = cookies::set(&state, cookies::SESSION, "", Some(0));
    let answer = match at_provider.or(target) {
        Some(target) => signout::redirect_clearing(&target, &clear),
        None => signed_out(&state, clear),
    };
    Ok(signout::through_frames(answer, &frames))
}

struct Hint {
    sub: String,
    aud: String,
    sid: Option<String>,
}

/// Checks that an ID token hint is one idbridge issued; it may have expired.
async fn verify_hint(state: &AppState, token: &str) -> Result<Hint, PageError> {
    let claims = verify_id_token(state, token, false)
        .await
        .ok_or(PageError::ForeignIdTokenHint)?;
    let text = |name: &str| {
        claims
            .get(name)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    match (text("sub"), text("aud")) {
        (Some(sub), Some(aud)) => Ok(Hint {
            sub,
            aud,
            sid: text("sid"),
        }),
        _ => Err(PageError::ForeignIdTokenHint),
    }
}
