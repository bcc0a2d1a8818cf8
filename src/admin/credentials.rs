//! `/admin/v1/api_credentials`: the HTTP Basic credentials of the server-to-server APIs (the
//! admin API's own among them). One made here gets a random secret, shown once in the answer and
//! stored as its argon2id hash; those the config file declares are shown and only the file
//! changes them. A revoked credential stops working at once in this process and within
//! [`crate::CHANGES_POLL`] in the others (which drop their cache of verified credentials when
//! the database says the credentials changed).
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{AdminError, Reader, Writer, body, no_content, outcome};
use crate::config::{Config, api_credential_problems};
use crate::crypto;
use crate::state::AppState;
use crate::store::{Initiator, ManagedCredential, Store};

/// An API credential as the API shows it (never its secret).
#[derive(Serialize, ToSchema)]
pub struct CredentialView {
    pub(super) username: String,
    pub(super) scopes: Vec<String>,
    /// `config` (declared in the config file) or `api`.
    pub(super) managed_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) created_at: Option<i64>,
}

impl From<ManagedCredential> for CredentialView {
    fn from(credential: ManagedCredential) -> CredentialView {
        CredentialView {
            username: credential.username,
            scopes: credential.scopes,
            managed_by: credential.managed_by,
            created_at: credential.created_at,
        }
    }
}

/// Every API credential, in the order of their usernames.
#[utoipa::path(
    get, path = "/admin/v1/api_credentials", tag = "api_credentials",
    responses((status = 200, body = Vec<CredentialView>)),
    security(("basic" = ["admin:read"]))
)]
pub async fn list(
    _: Reader,
    State(state): State<AppState>,
) -> Result<Json<Vec<CredentialView>>, AdminError> {
    Ok(Json(all(&state.store).await?))
}

pub(super) async fn all(store: &Store) -> Result<Vec<CredentialView>, AdminError> {
    let credentials = store.managed_credentials().await?;
    Ok(credentials.into_iter().map(CredentialView::from).collect())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCredential {
    /// No `:` (HTTP Basic separates with it).
    pub(super) username: String,
    /// Of `session_urls`, `sso_urls`, `admin:read`, `admin:write`.
    pub(super) scopes: Vec<String>,
}

/// A credential just made, with its secret: shown this once, stored only as a hash.
#[derive(Serialize, ToSchema)]
pub struct CreatedCredential {
    #[serde(flatten)]
    pub(super) credential: CredentialView,
    pub(super) secret: String,
}

/// Makes an API credential with a random secret, which the answer shows once.
#[utoipa::path(
    post, path = "/admin/v1/api_credentials", tag = "api_credentials",
    request_body = NewCredential,
    responses(
        (status = 201, body = CreatedCredential),
        (status = 400, description = "a field is not valid; `field` names it"),
        (status = 409, description = "a credential with that username exists"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn create(
    admin: Writer,
    State(state): State<AppState>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": "api_credential", "action": "create" });
    admin
        .audited(&state, asked, async {
            let new: NewCredential = body::parse(&headers, bytes)?;
            let rules = Rules {
                config: &state.config(),
                grantable: Some(&admin.scopes),
            };
            let body = make(&state.store, rules, new, &admin.by, state.clock.now()).await?;
            Ok((StatusCode::CREATED, Json(body)).into_response())
        })
        .await
}

/// What a new credential must respect beyond the config file's rules for its fields.
pub(super) struct Rules<'a> {
    /// Its username may not be one the file declares.
    pub config: &'a Config,
    /// The scopes it may hold: those of the credential that makes it (`None`: any, for the
    /// command line, which holds the database itself).
    pub grantable: Option<&'a [String]>,
}

/// Makes the credential `new` asks for, with a random secret.
pub(super) async fn make(
    store: &Store,
    rules: Rules<'_>,
    new: NewCredential,
    by: &Initiator,
    now: i64,
) -> Result<CreatedCredential, AdminError> {
    if let Some((field, problem)) = api_credential_problems(&new.username, &new.scopes)
        .into_iter()
        .next()
    {
        return Err(AdminError::invalid(field, problem));
    }
    if new.scopes.is_empty() {
        return Err(AdminError::invalid(
            "scopes",
            "must name at least one scope",
        ));
    }
    if let Some(held) = rules.grantable
        && let Some(scope) = new.scopes.iter().find(|scope| !held.contains(scope))
    {
        return Err(AdminError::ScopeNotHeld {
            scope: scope.clone(),
        });
    }
    let declared = rules.config.api_credentials.iter();
    if declared
        .map(|c| &c.username)
        .any(|name| *name == new.username)
    {
        return Err(AdminError::ManagedByConfig {
            resource: "api_credential",
            id: new.username,
        });
    }
    let secret = crypto::random_token();
    let hash = crate::password::hash(secret.clone())
        .await
        .map_err(|e| AdminError::Internal(e.to_string()))?;
    let created = store
        .create_credential(&new.username, hash, &new.scopes, by, now)
        .await?;
    let credential = outcome(created, "api_credential", &new.username)?;
    Ok(CreatedCredential {
        credential: credential.into(),
        secret,
    })
}

/// Revokes an API credential made through the API.
#[utoipa::path(
    delete, path = "/admin/v1/api_credentials/{username}", tag = "api_credentials",
    params(("username" = String, Path, description = "the credential's username")),
    responses(
        (status = 204, description = "revoked"),
        (status = 404, description = "no such credential"),
        (status = 409, description = "the config file declares the credential"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn delete(
    admin: Writer,
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": "api_credential", "id": username, "action": "delete" });
    admin
        .audited(&state, asked, async {
            revoke(&state.store, &username, &admin.by, state.clock.now()).await?;
            state.api_auth.clear();
            Ok(no_content())
        })
        .await
}

/// Revokes the credential `username`.
pub(super) async fn revoke(
    store: &Store,
    username: &str,
    by: &Initiator,
    now: i64,
) -> Result<(), AdminError> {
    let deleted = store.delete_credential(username, by, now).await?;
    outcome(deleted, "api_credential", username)
}
