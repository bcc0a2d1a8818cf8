//! The routes of single logout with a connector's provider (see `provider::logout` for the
//! sign-out that starts it here):
//! - `GET|POST /{kind}/{connection}/logged-out`: the provider's answer to a logout idbridge sent
//!   it, taken once by its state, checked by the connector; the browser then goes where the
//!   sign-out was to end;
//! - `GET|POST /{kind}/{connection}/slo`: the provider, through the browser, asks that the
//!   sessions behind its own end (SAML IdP-initiated logout); the browser takes the answer back;
//! - `POST /{kind}/{connection}/backchannel-logout`: the provider, server to server, says its
//!   session has ended (OIDC back-channel logout).
//!
//! A provider's word is verified by the connector, and the sessions it names end in the
//! transaction that spends its one-time id, so each word counts once; the clients of those
//! sessions hear of it as of any sign-out. A refusal changes nothing.
use std::collections::HashMap;
use std::net::IpAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{DefaultBodyLimit, Form, FromRequest, Path, Request, State};
use axum::http::Method;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use serde::Deserialize;
use url::form_urlencoded;

use super::{connector, is_upstream};
use crate::crypto;
use crate::http::pages::see_other;
use crate::http::{BackChannelError, ClientAddr, PageError, cookies};
use crate::session::flash::signed_out;
use crate::state::AppState;
use crate::upstream::{Answer, Connector, EndedUpstream, UpstreamError};

/// The largest body a browser's logout route reads: a posted SAML logout message (at most 64 KiB
/// of base64 as the connector reads it), however it is percent-encoded, with its RelayState.
const LOGOUT_BODY_LIMIT: usize = 3 * 64 * 1024 + 8 * 1024;

/// The form field of a SAML response (here: a LogoutResponse).
const SAML_RESPONSE: &str = "SAMLResponse";

pub(super) fn router() -> Router<AppState> {
    Router::new()
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

/// Ends the sessions a provider's verified word names, once for its one-time id: a word
/// presented again is [`UpstreamError::LogoutReplayed`].
async fn end_sessions(
    state: &AppState,
    connector: &dyn Connector,
    ended: &EndedUpstream,
    now: i64,
) -> Result<(), PageError> {
    let count = state
        .store
        .end_upstream_sessions_once(
            ended.one_time.clone(),
            connector.id(),
            ended.subject.as_deref(),
            ended.session_index.as_deref(),
            &state.config(),
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
    Ok(())
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
    let connector = &*connector(&state, &path, is_upstream)?;
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
    let connector = &*connector(&state, &path, is_upstream)?;
    let front = connector.front_channel().ok_or(PageError::NotFound)?;
    let now = state.clock.now();
    let answer = brought.answer(client, now);
    if answer.param(SAML_RESPONSE).is_some() {
        return end_logout(&state, connector, &answer).await;
    }
    connector.count_sender(client)?;
    let asked = front.verify_logout_request(&answer).await?;
    end_sessions(&state, connector, &asked.ended, now).await?;
    Ok(match front.logout_answer(&asked, now)? {
        Some(url) => see_other(&url, &[]),
        None => signed_out(&state, cookies::set(&state, cookies::SESSION, "", Some(0))),
    })
}

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
    let connector = &*connector(&state, &path, is_upstream)?;
    let Form(form) = form?;
    let now = state.clock.now();
    let ended = connector
        .back_channel()
        .ok_or(PageError::NotFound)?
        .verify_logout_token(&form.logout_token, now)
        .await?;
    end_sessions(&state, connector, &ended, now).await?;
    Ok(([(CACHE_CONTROL, "no-store")], ()).into_response())
}
