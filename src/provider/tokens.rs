//! Issuing tokens: opaque access and refresh tokens (`crypto::ordered_token`) and
//! signed ID tokens whose claims follow the granted scope (OIDC Core 5.4).
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::clients::Client;
use super::error::OAuthError;
use super::scope;
use crate::config::Alg;
use crate::crypto;
use crate::hierarchy::Hierarchy;
use crate::keys::ID_TOKEN_TTL;
use crate::state::AppState;
use crate::store::tables::{access_token, refresh_token, user};
use crate::store::{GrantTokens, SpentGrant, UserSource};

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
    pub scope: &'a str,
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
    let refresh_token =
        scope::contains(grant.scope, scope::OFFLINE_ACCESS).then(crypto::ordered_token);
    let holder = state
        .store
        .store_grant_tokens(GrantTokens {
            spent: grant.spent,
            access: access_token::Model {
                token_hash: crypto::ordered_token_key(&access_token),
                family_id: Some(grant.family_id.to_string()),
                client_id: grant.client.id.clone(),
                user_id: Some(grant.user_id.to_string()),
                scope: grant.scope.to_string(),
                expires_at: now + ACCESS_TOKEN_TTL,
                revoked_at: None,
            },
            refresh: refresh_token.as_ref().map(|token| refresh_token::Model {
                token_hash: crypto::ordered_token_key(token),
                family_id: grant.family_id.to_string(),
                client_id: grant.client.id.clone(),
                user_id: grant.user_id.to_string(),
                scope: grant.scope.to_string(),
                auth_time: grant.auth_time,
                sid: grant.sid.map(str::to_string),
                expires_at: grant.family_expires_at.unwrap_or(now + REFRESH_TOKEN_TTL),
                consumed_at: None,
                revoked_at: None,
            }),
        })
        .await?;
    let Some(holder) = holder.filter(|holder| !holder.revoked) else {
        // A replay of the same code or refresh token was caught while these were being made
        // (its revocation may have run before they were stored), or the user is gone: revoke
        // what was just issued.
        state.store.revoke_family(grant.family_id, now).await?;
        return Err(OAuthError::InvalidGrant(
            "the grant was revoked or its user no longer exists".into(),
        ));
    };
    let mut claims = user_claims(
        &state.hierarchy,
        &(&holder.user).into(),
        &holder.entity_ids,
        grant.scope,
    );
    claims.insert("iss".into(), json!(state.config.server.issuer));
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
    scope: &str,
) -> Result<TokenResponse, OAuthError> {
    let access_token = crypto::ordered_token();
    state
        .store
        .create_access_token(access_token::Model {
            token_hash: crypto::ordered_token_key(&access_token),
            family_id: None,
            client_id: client.id.clone(),
            user_id: None,
            scope: scope.to_string(),
            expires_at: state.clock.now() + ACCESS_TOKEN_TTL,
            revoked_at: None,
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

/// The person a set of claims is about.
pub struct Subject<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    /// Addresses of accounts the operator declared are vouched for by the operator.
    pub email_verified: bool,
}

impl<'a> From<&'a user::Model> for Subject<'a> {
    fn from(user: &'a user::Model) -> Subject<'a> {
        Subject {
            id: &user.id,
            email: &user.email,
            name: &user.name,
            email_verified: UserSource::of(user) == UserSource::Config,
        }
    }
}

/// The claims about a user that a scope releases (SPEC section 4): `sub` always; `profile` adds
/// name, preferred_username (the email) and attached_to; `email` adds email and email_verified.
pub fn user_claims(
    hierarchy: &Hierarchy,
    subject: &Subject,
    entity_ids: &[String],
    granted: &str,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(subject.id));
    if scope::contains(granted, scope::PROFILE) {
        claims.insert("name".into(), json!(subject.name));
        claims.insert("preferred_username".into(), json!(subject.email));
        claims.insert(
            "attached_to".into(),
            json!(hierarchy.attachments(entity_ids)),
        );
    }
    if scope::contains(granted, scope::EMAIL) {
        claims.insert("email".into(), json!(subject.email));
        claims.insert("email_verified".into(), json!(subject.email_verified));
    }
    claims
}

/// Signs ID token claims with the client's algorithm: its secret for HS256, otherwise the
/// current key of that algorithm, named by `kid`.
async fn sign_id_token(
    state: &AppState,
    client: &Client,
    claims: &Map<String, Value>,
) -> Result<String, OAuthError> {
    match (client.id_token_alg, &client.hs256_secret) {
        (Alg::HS256, Some(secret)) => jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(secret.expose().as_bytes()),
        )
        .map_err(|e| OAuthError::Server(format!("signing an ID token: {e}"))),
        (Alg::HS256, None) => Err(OAuthError::Server("HS256 client without a secret".into())),
        (alg, _) => {
            let key = state.keys.signer(alg, state.clock.now()).await?;
            Ok(key.sign_jwt(claims)?)
        }
    }
}

/// The claims of an ID token idbridge issued: signature (by its `kid`, or the audience's secret
/// for HS256) and issuer checked; expiry only when `check_expiry`, since a logout hint is often
/// an expired token.
pub async fn verify_id_token(
    state: &AppState,
    token: &str,
    check_expiry: bool,
) -> Option<Map<String, Value>> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = check_expiry;
    validation.validate_aud = false;
    validation.set_issuer(&[&state.config.server.issuer]);
    validation.set_required_spec_claims(&["iss", "sub", "aud"]);
    let (secret_key, loaded_key);
    let key = if header.alg == Algorithm::HS256 {
        // The audience names the client whose secret signed it: read it, then check with it.
        let unverified: Map<String, Value> =
            jsonwebtoken::dangerous::insecure_decode_claims(token).ok()?;
        let client = state.clients.get(unverified.get("aud")?.as_str()?)?;
        secret_key = DecodingKey::from_secret(client.hs256_secret.as_ref()?.expose().as_bytes());
        &secret_key
    } else {
        loaded_key = state.keys.by_kid(header.kid.as_deref()?).await.ok()??;
        if jwt_alg(loaded_key.alg) != header.alg {
            return None;
        }
        &loaded_key.decoding
    };
    jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
        .ok()
        .map(|data| data.claims)
}

pub fn jwt_alg(alg: Alg) -> Algorithm {
    match alg {
        Alg::RS256 => Algorithm::RS256,
        Alg::ES256 => Algorithm::ES256,
        Alg::EdDSA => Algorithm::EdDSA,
        Alg::HS256 => Algorithm::HS256,
    }
}
