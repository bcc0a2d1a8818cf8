//! What a sign-out tells the parties of the ended session through the person's browser: the
//! OpenID Connect clients registered for front-channel logout and the SAML service providers,
//! each in a frame of a page that then moves on, and the upstream provider the session came
//! from, which the browser visits before reaching where the sign-out ends. idbridge's own
//! sign-out (`provider::logout`) and a service provider's LogoutRequest (`saml_idp`) both end
//! through here.
use askama::Template;
use axum::response::{IntoResponse, Redirect, Response};
use url::Url;

use crate::crypto;
use crate::http::{PageError, pages, policy_with_frames};
use crate::state::AppState;
use crate::store::{SentLogout, UpstreamSession};

/// How long a person may take at the provider when it logs them out too.
const UPSTREAM_LOGOUT_TTL: i64 = 600;

/// Where the browser goes so that the provider whose session stood behind the ended one ends it
/// too, when its connector asks it (upstream single logout); the sign-out's `target` waits for the
/// provider's answer. A provider that cannot be asked now does not keep the person signed in
/// here: the sign-out goes on without it.
pub async fn upstream_logout(
    state: &AppState,
    upstream: Option<&UpstreamSession>,
    target: Option<&str>,
) -> Result<Option<String>, PageError> {
    let Some(session) = upstream else {
        return Ok(None);
    };
    let Some(connector) = state.connector(&session.connection_id) else {
        return Ok(None);
    };
    let now = state.clock.now();
    let outgoing = match connector.begin_logout(session, now).await {
        Ok(Some(outgoing)) => outgoing,
        Ok(None) => return Ok(None),
        Err(error) => {
            tracing::warn!(%error, "upstream logout not sent");
            return Ok(None);
        }
    };
    state
        .store
        .create_upstream_logout(SentLogout {
            state_hash: crypto::sha256_hex(&outgoing.state),
            connection_id: session.connection_id.clone(),
            request_id: outgoing.request_id,
            return_to: target.map(str::to_string),
            expires_at: now + UPSTREAM_LOGOUT_TTL,
        })
        .await?;
    Ok(Some(outgoing.url))
}

/// The front-channel logout pages of the clients that got a code in the ended session `sid`
/// (OpenID Connect Front-Channel Logout 1.0), with `iss` and `sid` for those that asked.
pub fn frontchannel_frames(state: &AppState, heard: &[String], sid: &str) -> Vec<Url> {
    heard
        .iter()
        .filter_map(|client_id| state.client(client_id)?.frontchannel_logout.clone())
        .filter_map(|channel| {
            let mut url = Url::parse(&channel.uri).ok()?;
            if channel.session_required {
                url.query_pairs_mut()
                    .append_pair("iss", &state.server().issuer)
                    .append_pair("sid", sid);
            }
            Some(url)
        })
        .collect()
}

#[derive(Template)]
#[template(path = "frontchannel_logout.html")]
struct FrontchannelPage<'a> {
    location: &'a str,
    frames: &'a [Url],
}

/// How long the front-channel page waits for its frames before moving on without scripts.
const FRONTCHANNEL_WAIT: u32 = 3;

/// The sign-out's answer, through a page that loads `frames` first when there are any; its
/// policy allows frames of exactly their origins.
pub fn through_frames(answer: Response, frames: &[Url]) -> Response {
    if frames.is_empty() {
        return answer;
    }
    let mut page = pages::moving_on(answer, FRONTCHANNEL_WAIT, |location| {
        FrontchannelPage { location, frames }.render()
    });
    let origins: Vec<String> = frames
        .iter()
        .map(|url| url.origin().ascii_serialization())
        .collect();
    let policy = policy_with_frames(origins.iter().map(String::as_str));
    if let Ok(value) = policy.parse() {
        page.headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
    page
}

/// A redirect to `target` that also sets `clear`, the cookie that ends the session here.
pub fn redirect_clearing(target: &str, clear: &str) -> Response {
    let mut response = Redirect::to(target).into_response();
    if let Ok(value) = clear.parse() {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    response
}
