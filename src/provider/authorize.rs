//! `GET/POST /sso/v2/authorize` (OIDC Core 3.1.2): checks the request, records it as a pending
//! authorization in the database, and sends the browser on to login, consent or the client.
//! Until the redirect URI has matched a registered one exactly, errors go to the person as an
//! HTML page, never to the URI.
use std::net::IpAddr;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::{Extension, Form};
use serde::Deserialize;

use super::error::{AuthorizationError, ErrorCode};
use super::flow::{self, FLOW_COOKIE};
use crate::crypto;
use crate::http::{ClientAddr, PageError, cookies};
use crate::state::AppState;
use crate::store::PendingAuthorization;
use crate::vocabulary::prompt::Prompt;
use crate::vocabulary::response_mode::ResponseMode;
use crate::vocabulary::scope::{self, Scopes};

/// How long a person has to log in and consent.
const PENDING_TTL: i64 = 600;

#[derive(Debug, Default, Deserialize)]
pub struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    response_mode: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    prompt: Option<String>,
    max_age: Option<String>,
    login_hint: Option<String>,
}

pub async fn get(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    params: Result<Query<AuthorizeParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let Query(params) = params.map_err(|_| PageError::UnreadableAuthorization)?;
    start(state, client, headers, params).await
}

pub async fn post(
    State(state): State<AppState>,
    Extension(ClientAddr(client)): Extension<ClientAddr>,
    headers: HeaderMap,
    params: Result<Form<AuthorizeParams>, axum::extract::rejection::FormRejection>,
) -> Result<Response, PageError> {
    let Form(params) = params?;
    start(state, client, headers, params).await
}

async fn start(
    state: AppState,
    client_addr: IpAddr,
    headers: HeaderMap,
    params: AuthorizeParams,
) -> Result<Response, PageError> {
    let client = params
        .client_id
        .as_deref()
        .and_then(|id| state.client(id))
        .ok_or(PageError::UnknownClient)?;
    let redirect_uri = params
        .redirect_uri
        .as_deref()
        .filter(|uri| client.has_redirect_uri(uri))
        .ok_or(PageError::UnregisteredRedirectUri)?
        .to_string();
    let Some(response_mode) = ResponseMode::parse(params.response_mode.as_deref()) else {
        let error = AuthorizationError::new(
            ErrorCode::InvalidRequest,
            "response_mode must be query or form_post",
        );
        return Ok(flow::respond_error(
            &state,
            &redirect_uri,
            ResponseMode::Query,
            params.state.as_deref(),
            error,
        ));
    };
    let respond = |error: AuthorizationError| {
        Ok(flow::respond_error(
            &state,
            &redirect_uri,
            response_mode,
            params.state.as_deref(),
            error,
        ))
    };
    let request = match check(&params, &client) {
        Ok(request) => request,
        Err(error) => return respond(error),
    };

    let now = state.clock.now();
    let (browser_token, set_browser_cookie) = match cookies::get(&state, &headers, FLOW_COOKIE) {
        Some(token) => (token.to_string(), None),
        None => {
            let token = crypto::random_token();
            let cookie = cookies::set(&state, FLOW_COOKIE, &token, None);
            (token, Some(cookie))
        }
    };
    let pending = PendingAuthorization {
        // Upstream SAML will use this id as the AuthnRequest ID, an xs:ID: no leading digit.
        id: format!("a{}", crypto::random_token()),
        browser_hash: crypto::sha256_hex(&browser_token),
        client_id: client.id.clone(),
        redirect_uri,
        scope: request.scope,
        state: params.state.clone(),
        nonce: params.nonce.clone(),
        code_challenge: params.code_challenge.clone(),
        response_mode,
        prompt: request.prompt,
        max_age: request.max_age,
        login_hint: params.login_hint.clone(),
        created_at: now,
        expires_at: now + PENDING_TTL,
    };
    let pending = flow::Pending {
        authorization: pending,
        new_from: Some(client_addr),
    };
    let mut response = flow::proceed(&state, &headers, &pending, false).await?;
    if let Some(cookie) = set_browser_cookie
        && let Ok(value) = cookie.parse()
    {
        response
            .headers_mut()
            .append(axum::http::header::SET_COOKIE, value);
    }
    Ok(response)
}

struct CheckedRequest {
    scope: Scopes,
    prompt: Prompt,
    max_age: Option<i64>,
}

/// The checks of OIDC Core 3.1.2.2 and RFC 7636 once the client and redirect URI are known.
fn check(
    params: &AuthorizeParams,
    client: &crate::clients::Client,
) -> Result<CheckedRequest, AuthorizationError> {
    let invalid =
        |description: &str| AuthorizationError::new(ErrorCode::InvalidRequest, description);
    match params.response_type.as_deref() {
        Some("code") => {}
        None => return Err(invalid("response_type is required")),
        Some(_) => {
            return Err(AuthorizationError::new(
                ErrorCode::UnsupportedResponseType,
                "only the code flow (response_type=code) is supported",
            ));
        }
    }
    // Bounded before anything is parsed, so a huge value costs nothing.
    let too_long = [
        (params.scope.as_deref(), scope::MAX_LEN, "scope"),
        (params.prompt.as_deref(), 64, "prompt"),
        (params.state.as_deref(), 2048, "state"),
        (params.nonce.as_deref(), 512, "nonce"),
        (params.login_hint.as_deref(), 256, "login_hint"),
    ];
    if let Some((_, _, name)) = too_long
        .iter()
        .find(|(v, max, _)| v.is_some_and(|v| v.len() > *max))
    {
        return Err(invalid(&format!("{name} is too long")));
    }
    let requested = Scopes::parse(params.scope.as_deref().unwrap_or(""));
    if !requested.contains(scope::OPENID) {
        return Err(AuthorizationError::new(
            ErrorCode::InvalidScope,
            "scope must include openid",
        ));
    }
    if let Some(unknown) = requested
        .iter()
        .find(|s| !client.allowed_scopes.iter().any(|allowed| allowed == s))
    {
        return Err(AuthorizationError::new(
            ErrorCode::InvalidScope,
            format!("scope {unknown} is not allowed for this client"),
        ));
    }
    match (
        params.code_challenge.as_deref(),
        params.code_challenge_method.as_deref(),
    ) {
        (None, _) if client.require_pkce => {
            return Err(invalid("code_challenge is required (PKCE with S256)"));
        }
        (None, Some(_)) => return Err(invalid("code_challenge_method without code_challenge")),
        (Some(_), Some("S256")) => {}
        (Some(_), None | Some("plain")) => {
            return Err(invalid(
                "code_challenge_method must be S256; plain is not accepted",
            ));
        }
        (Some(_), Some(_)) => return Err(invalid("code_challenge_method must be S256")),
        // Without PKCE only the nonce ties the code to this request (RFC 9700 section 4.5.3).
        (None, None) if params.nonce.is_none() => {
            return Err(invalid("nonce is required when PKCE is not used"));
        }
        (None, None) => {}
    }
    if let Some(challenge) = params.code_challenge.as_deref()
        && !(43..=128).contains(&challenge.len())
    {
        return Err(invalid("code_challenge must be 43 to 128 characters"));
    }
    let prompt = Prompt::parse(params.prompt.as_deref().unwrap_or(""))
        .map_err(|e| invalid(&e.to_string()))?;
    let max_age = match params.max_age.as_deref() {
        None => None,
        Some(value) => Some(
            value
                .parse::<i64>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| invalid("max_age must be a non-negative number of seconds"))?,
        ),
    };
    Ok(CheckedRequest {
        scope: requested,
        prompt,
        max_age,
    })
}
