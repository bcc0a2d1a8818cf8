//! `POST /sso/v2/token` (RFC 6749 section 3.2, OIDC Core 3.1.3): the authorization_code grant
//! with PKCE, refresh_token with rotation and reuse detection, and client_credentials.
//! No argon2 here: client secrets are random and compared as SHA-256 digests.
use axum::Form;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::client_auth::{authenticate_client, within_address_rate};
use super::error::OAuthError;
use super::issue::{self, UserGrant};
use crate::clients::Client;
use crate::crypto;
use crate::http::ClientAddr;
use crate::state::AppState;
use crate::store::{Actor, AuditEvent, CodeUse, RefreshUse, SpentGrant};
use crate::vocabulary::audit::AuditKind;
use crate::vocabulary::scope::{self, Scopes};

#[derive(Debug, Default, Deserialize)]
pub struct TokenForm {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    refresh_token: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

pub async fn token(
    State(state): State<AppState>,
    Extension(ClientAddr(address)): Extension<ClientAddr>,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, OAuthError> {
    within_address_rate(&state, address)?;
    let Form(form) = form?;
    let client = &*authenticate_client(
        &state,
        &headers,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let (grant_type, response) = match form.grant_type.as_deref() {
        Some("authorization_code") => {
            let code = form
                .code
                .as_deref()
                .ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
            let response = exchange_code(
                &state,
                client,
                code,
                form.redirect_uri.as_deref(),
                form.code_verifier.as_deref(),
            )
            .await?;
            ("authorization_code", response)
        }
        Some("refresh_token") => ("refresh_token", refresh(&state, client, &form).await?),
        Some("client_credentials") => (
            "client_credentials",
            client_credentials(&state, client, &form).await?,
        ),
        Some(_) => return Err(OAuthError::UnsupportedGrantType),
        None => return Err(OAuthError::InvalidRequest("grant_type is required".into())),
    };
    state.metrics.token_issued(grant_type);
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(response),
    )
        .into_response())
}

/// The authorization_code grant (RFC 6749 section 4.1.3 with RFC 7636 section 4.6).
pub async fn exchange_code(
    state: &AppState,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
) -> Result<issue::TokenResponse, OAuthError> {
    let now = state.clock.now();
    let code_hash = crypto::ordered_token_key(code);
    let grant = match state.store.redeem_code(&code_hash, &client.id, now).await? {
        CodeUse::Redeemed(grant) => grant,
        CodeUse::Replayed { family_id } => {
            if state.store.revoke_family(&family_id, now).await? {
                audit_replay(state, client, &family_id, "authorization_code").await?;
            }
            tracing::warn!(client = %client.id, "authorization code replayed: its tokens are revoked");
            return Err(OAuthError::InvalidGrant("the code was already used".into()));
        }
        CodeUse::Invalid => {
            return Err(OAuthError::InvalidGrant(
                "the code is unknown, expired or issued to another client".into(),
            ));
        }
    };
    if redirect_uri != Some(grant.redirect_uri.as_str()) {
        return Err(OAuthError::InvalidGrant(
            "redirect_uri does not match the authorization request".into(),
        ));
    }
    match (grant.code_challenge.as_deref(), code_verifier) {
        (Some(challenge), Some(verifier)) => {
            let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
            if !crypto::constant_time_eq(&computed, challenge) {
                return Err(OAuthError::InvalidGrant(
                    "code_verifier does not match the code_challenge".into(),
                ));
            }
        }
        (Some(_), None) => {
            return Err(OAuthError::InvalidGrant("code_verifier is required".into()));
        }
        (None, Some(_)) => {
            return Err(OAuthError::InvalidGrant(
                "code_verifier sent for a request without code_challenge".into(),
            ));
        }
        (None, None) => {}
    }
    issue::issue_for_user(
        state,
        UserGrant {
            client,
            user_id: &grant.user_id,
            scope: &Scopes::parse(&grant.scope),
            nonce: grant.nonce.as_deref(),
            sid: grant.sid.as_deref(),
            auth_time: grant.auth_time,
            family_id: &grant.family_id,
            spent: SpentGrant::Code(code_hash),
            family_expires_at: None,
        },
    )
    .await
}

/// Records in the audit trail that `client` presented a spent `presented` (a code or refresh
/// token) of the grant `family_id`, whose tokens it revoked. Only the replay that revoked
/// something is recorded: a spent code is remembered for a day, and every later replay of it
/// would otherwise write a row. Its own statement, after the revocation's (which are not one
/// transaction either, see `Store::revoke_family`).
async fn audit_replay(
    state: &AppState,
    client: &Client,
    family_id: &str,
    presented: &str,
) -> Result<(), OAuthError> {
    let event = AuditEvent {
        kind: AuditKind::GrantReplayed,
        actor: Actor::Client(client.id.clone()),
        user_id: None,
        client_addr: None,
        details: serde_json::json!({ "presented": presented, "grant": family_id }),
    };
    Ok(state.store.record_audit(&event, state.clock.now()).await?)
}

async fn refresh(
    state: &AppState,
    client: &Client,
    form: &TokenForm,
) -> Result<issue::TokenResponse, OAuthError> {
    let token = form
        .refresh_token
        .as_deref()
        .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
    let hash = crypto::ordered_token_key(token);
    let now = state.clock.now();
    // Only the client the token was issued to may spend it (or, by reusing it, revoke it).
    let grant = match state
        .store
        .rotate_refresh_token(&hash, &client.id, now)
        .await?
    {
        RefreshUse::Rotated(grant) => grant,
        RefreshUse::Reused { family_id } => {
            if state.store.revoke_family(&family_id, now).await? {
                audit_replay(state, client, &family_id, "refresh_token").await?;
            }
            tracing::warn!(client = %client.id, "refresh token reused: its family is revoked");
            return Err(OAuthError::InvalidGrant(
                "the refresh token was already used".into(),
            ));
        }
        RefreshUse::Invalid => {
            return Err(OAuthError::InvalidGrant(
                "the refresh token is unknown, expired, revoked or issued to another client".into(),
            ));
        }
    };
    let original = Scopes::parse(&grant.scope);
    let granted = match requested_scope(form)?.map(Scopes::parse) {
        Some(requested) if !requested.covered_by(&original) => {
            return Err(OAuthError::InvalidScope(
                "scope exceeds the original grant".into(),
            ));
        }
        Some(narrowed) => narrowed.with(scope::OFFLINE_ACCESS),
        None => original,
    };
    issue::issue_for_user(
        state,
        UserGrant {
            client,
            user_id: &grant.user_id,
            scope: &granted,
            nonce: None,
            sid: grant.sid.as_deref(),
            auth_time: grant.auth_time,
            family_id: &grant.family_id,
            spent: SpentGrant::Refresh(hash),
            family_expires_at: Some(grant.expires_at),
        },
    )
    .await
}

/// The `scope` parameter of a token request, refused when longer than any real one.
fn requested_scope(form: &TokenForm) -> Result<Option<&str>, OAuthError> {
    match form.scope.as_deref() {
        Some(requested) if requested.len() > scope::MAX_LEN => {
            Err(OAuthError::InvalidScope("scope is too long".into()))
        }
        requested => Ok(requested),
    }
}

async fn client_credentials(
    state: &AppState,
    client: &Client,
    form: &TokenForm,
) -> Result<issue::TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::UnauthorizedClient(
            "client_credentials needs a confidential client".into(),
        ));
    }
    let requested = Scopes::parse(requested_scope(form)?.unwrap_or(""));
    let user_scopes = [
        scope::OPENID,
        scope::PROFILE,
        scope::EMAIL,
        scope::OFFLINE_ACCESS,
    ];
    if let Some(bad) = requested
        .iter()
        .find(|s| user_scopes.contains(s) || !client.allowed_scopes.iter().any(|a| a == s))
    {
        return Err(OAuthError::InvalidScope(format!(
            "scope {bad} cannot be granted to a client acting for itself"
        )));
    }
    issue::issue_for_client(state, client, &requested).await
}
