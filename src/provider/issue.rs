//! Issuing the tokens of a grant: opaque access and refresh tokens (`crypto::ordered_token`),
//! stored, and an ID token whose claims follow the granted scope (OIDC Core 3.1.3.3, 5.4).
use serde::Serialize;
use serde_json::json;

use super::claims::user_claims;
use super::error::OAuthError;
use super::id_token::sign_id_token;
use crate::clients::Client;
use crate::crypto;
use crate::keys::ID_TOKEN_TTL;
use crate::state::AppState;
use crate::store::{GrantTokens, NewAccessToken, NewRefreshToken, SpentGrant};
use crate::vocabulary::scope::{self, Scopes};

pub const ACCESS_TOKEN_TTL: i64 = 3600;
pub const REFRESH_TOKEN_TTL: i64 = 30 * 86400;
pub const CODE_TTL: i64 = 60;

/// A token response (RFC 6749 section 5.1, OIDC Core 3.1.3.3).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

/// A grant to a user: what the code or refresh token carried.
pub struct UserGrant<'a> {
    pub client: &'a Client,
    pub user_id: &'a str,
    pub scope: &'a Scopes,
    pub nonce: Option<&'a str>,
    pub sid: Option<&'a str>,
    pub auth_time: i64,
    pub family_id: &'a str,
    /// What the grant was spent from, checked for a racing revocation once tokens are stored.
    pub spent: SpentGrant,
    /// When a refreshed family ends: rotation never extends it past the first refresh token's
    /// lifetime. `None` for a new family.
    pub family_expires_at: Option<i64>,
}

/// Issues an access token, an ID token and, when `offline_access` was granted, a refresh token.
pub async fn issue_for_user(
    state: &AppState,
    grant: UserGrant<'_>,
) -> Result<TokenResponse, OAuthError> {
    let now = state.clock.now();
    let access_token = crypto::ordered_token();
    let refresh_token = grant
        .scope
        .contains(scope::OFFLINE_ACCESS)
        .then(crypto::ordered_token);
    let holder = state
        .store
        .store_grant_tokens(GrantTokens {
            spent: grant.spent,
            access: NewAccessToken {
                token_hash: crypto::ordered_token_key(&access_token),
                family_id: Some(grant.family_id.to_string()),
                client_id: grant.client.id.clone(),
                user_id: Some(grant.user_id.to_string()),
                scope: grant.scope.clone(),
                expires_at: now + ACCESS_TOKEN_TTL,
            },
            refresh: refresh_token.as_ref().map(|token| NewRefreshToken {
                token_hash: crypto::ordered_token_key(token),
                family_id: grant.family_id.to_string(),
                client_id: grant.client.id.clone(),
                user_id: grant.user_id.to_string(),
                scope: grant.scope.clone(),
                auth_time: grant.auth_time,
                sid: grant.sid.map(str::to_string),
                expires_at: grant.family_expires_at.unwrap_or(now + REFRESH_TOKEN_TTL),
            }),
        })
        .await?;
    let Some(holder) = holder.filter(|holder| !holder.revoked && holder.user.disabled_at.is_none())
    else {
        // A replay of the same code or refresh token was caught while these were being made
        // (its revocation may have run before they were stored), or the user is gone or was
        // disabled: revoke what was just issued.
        state.store.revoke_family(grant.family_id, now).await?;
        return Err(OAuthError::InvalidGrant(
            "the grant was revoked, or its user no longer exists or is disabled".into(),
        ));
    };
    let mut claims = user_claims(
        &state.config().hierarchy,
        &holder.user,
        &holder.entity_ids,
        grant.scope,
    );
    claims.insert("iss".into(), json!(state.server().issuer));
    claims.insert("aud".into(), json!(grant.client.id));
    claims.insert("azp".into(), json!(grant.client.id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + ID_TOKEN_TTL));
    claims.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(sid) = grant.sid {
        claims.insert("sid".into(), json!(sid));
    }
    if let Some(nonce) = grant.nonce {
        claims.insert("nonce".into(), json!(nonce));
    }
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL,
        id_token: Some(sign_id_token(state, grant.client, &claims).await?),
        refresh_token,
        scope: grant.scope.to_string(),
    })
}

/// Issues an access token to a client acting for itself (client_credentials).
pub async fn issue_for_client(
    state: &AppState,
    client: &Client,
    scope: &Scopes,
) -> Result<TokenResponse, OAuthError> {
    let access_token = crypto::ordered_token();
    state
        .store
        .create_access_token(NewAccessToken {
            token_hash: crypto::ordered_token_key(&access_token),
            family_id: None,
            client_id: client.id.clone(),
            user_id: None,
            scope: scope.clone(),
            expires_at: state.clock.now() + ACCESS_TOKEN_TTL,
        })
        .await?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ACCESS_TOKEN_TTL,
        id_token: None,
        refresh_token: None,
        scope: scope.to_string(),
    })
}
