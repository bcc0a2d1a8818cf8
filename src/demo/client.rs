//! The demo client of the embedded default (SPEC section 2): a relying party built into idbridge
//! so that a newcomer can click through login, consent and userinfo. It runs the real code flow
//! with PKCE as the public client `demo`; only the HTTP hop to the token and userinfo endpoints is
//! skipped, since it calls the same functions in-process.
use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::crypto;
use crate::http::PageError;
use crate::http::cookies;
use crate::http::pages::{render, see_other};
use crate::provider::{id_token, token_endpoint, userinfo};
use crate::state::AppState;

const CLIENT_ID: &str = "demo";
const COOKIE: &str = "idbridge_demo";

#[derive(Template)]
#[template(path = "demo.html")]
struct DemoPage {
    error: Option<String>,
    id_token_claims: Option<String>,
    userinfo: Option<String>,
    logout_url: Option<String>,
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}/demo/callback", state.server().issuer)
}

/// Its routes; without a configured client `demo` they answer 404.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/demo", get(home))
        .route("/demo/start", get(start))
        .route("/demo/callback", get(callback))
}

/// The start page, or a note when this deployment has no demo client.
async fn home(State(state): State<AppState>) -> Result<Response, PageError> {
    if state.client(CLIENT_ID).is_none() {
        return Err(PageError::NotFound);
    }
    render(
        &DemoPage {
            error: None,
            id_token_claims: None,
            userinfo: None,
            logout_url: None,
        },
        &[],
    )
}

/// Begins the code flow: state, nonce and a PKCE verifier kept in a cookie for the callback.
async fn start(State(state): State<AppState>) -> Result<Response, PageError> {
    let client = state.client(CLIENT_ID).ok_or(PageError::NotFound)?;
    let (flow_state, nonce, verifier) = (
        crypto::random_token(),
        crypto::random_token(),
        crypto::random_token(),
    );
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let mut url = Url::parse(&format!("{}/sso/v2/authorize", state.server().issuer))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    url.query_pairs_mut()
        .append_pair("client_id", &client.id)
        .append_pair("redirect_uri", &redirect_uri(&state))
        .append_pair("response_type", "code")
        .append_pair("scope", &client.allowed_scopes.join(" "))
        .append_pair("state", &flow_state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let cookie = cookies::set(
        &state,
        COOKIE,
        &format!("{flow_state}.{nonce}.{verifier}"),
        Some(600),
    );
    Ok(see_other(url.as_str(), &[cookie]))
}

#[derive(Deserialize)]
pub struct Callback {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// Where idbridge sends the browser back: checks state, redeems the code with the verifier,
/// verifies the ID token and its nonce, and shows the claims and the userinfo answer.
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Result<Response, PageError> {
    let client = state.client(CLIENT_ID).ok_or(PageError::NotFound)?;
    let show_error = |message: String| {
        render(
            &DemoPage {
                error: Some(message),
                id_token_claims: None,
                userinfo: None,
                logout_url: None,
            },
            &[],
        )
    };
    if let Some(error) = callback.error {
        // Only the error code, and only a known one: the query is anyone's to write.
        let known = [
            "access_denied",
            "login_required",
            "consent_required",
            "invalid_request",
            "invalid_scope",
            "unsupported_response_type",
            "server_error",
        ];
        let code = known
            .iter()
            .find(|k| **k == error)
            .copied()
            .unwrap_or("unknown error");
        return show_error(format!("idbridge answered: {code}"));
    }
    let saved = cookies::get(&state, &headers, COOKIE).unwrap_or("");
    let mut parts = saved.split('.');
    let (Some(saved_state), Some(nonce), Some(verifier)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return show_error("This browser did not start a demo sign-in. Start again.".into());
    };
    if callback.state.as_deref() != Some(saved_state) {
        return show_error("The state does not match the one this browser sent: refused.".into());
    }
    let code = callback.code.ok_or(PageError::DemoCallbackWithoutCode)?;
    let tokens = match token_endpoint::exchange_code(
        &state,
        &client,
        &code,
        Some(&redirect_uri(&state)),
        Some(verifier),
    )
    .await
    {
        Ok(tokens) => tokens,
        Err(error) => return show_error(format!("The code exchange failed: {error}")),
    };
    let id_token = tokens.id_token.unwrap_or_default();
    let claims = id_token::verify_id_token(&state, &id_token, true)
        .await
        .filter(|claims| claims.get("nonce").and_then(|n| n.as_str()) == Some(nonce));
    let Some(claims) = claims else {
        return show_error("The ID token did not verify.".into());
    };
    let userinfo = userinfo::claims_for_access_token(&state, &tokens.access_token)
        .await
        .map_err(|e| PageError::Internal(e.to_string()))?;
    let mut logout = Url::parse(&format!("{}/sso/v2/logout", state.server().issuer))
        .map_err(|e| PageError::Internal(e.to_string()))?;
    logout
        .query_pairs_mut()
        .append_pair("id_token_hint", &id_token)
        .append_pair(
            "post_logout_redirect_uri",
            &format!("{}/demo", state.server().issuer),
        );
    let pretty = |value: &serde_json::Map<String, serde_json::Value>| {
        serde_json::to_string_pretty(value).unwrap_or_default()
    };
    let page = DemoPage {
        error: None,
        id_token_claims: Some(pretty(&claims)),
        userinfo: Some(pretty(&userinfo)),
        logout_url: Some(logout.to_string()),
    };
    render(&page, &[cookies::set(&state, COOKIE, "", Some(0))])
}
