//! `/admin/v1/users`: the people idbridge knows (declared in the config file, made by a login
//! through a connection or by a session URL): search, show, change, disable, delete; their
//! sessions and consents; revoking everything issued to them. Users of the config file are
//! shown, and their sessions and tokens can be revoked, but only the file changes them.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{
    AdminError, Page, Reader, Writer, body, cursor, etag, if_match, no_content, outcome, page_limit,
};
use crate::config::{Config, is_plausible_email};
use crate::state::AppState;
use crate::store::{
    Initiator, ManagedSession, ManagedUser, Store, UserChange, UserQuery, UserSource,
};

/// A user as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    /// The stable `sub`.
    pub(super) id: String,
    pub(super) email: String,
    pub(super) name: String,
    /// `config`, `session_url`, or the id of the connection whose login made the user.
    pub(super) source: String,
    /// `config` when the config file declares the user (the API does not change it), else `api`.
    pub(super) managed_by: &'static str,
    /// The entities the user is attached to.
    pub(super) entity_ids: Vec<String>,
    pub(super) disabled: bool,
    /// When the user was disabled (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) disabled_at: Option<i64>,
    pub(super) created_at: i64,
    pub(super) updated_at: i64,
}

impl From<&ManagedUser> for UserView {
    fn from(managed: &ManagedUser) -> UserView {
        let user = &managed.user;
        UserView {
            id: user.id.clone(),
            email: user.email.clone(),
            name: user.name.clone(),
            source: user.source.column().to_string(),
            managed_by: if user.source == UserSource::Config {
                crate::store::MANAGED_BY_CONFIG
            } else {
                crate::store::MANAGED_BY_API
            },
            entity_ids: managed.entity_ids.clone(),
            disabled: user.disabled_at.is_some(),
            disabled_at: user.disabled_at,
            created_at: user.created_at,
            updated_at: user.updated_at,
        }
    }
}

/// The user, with its version as `ETag`.
fn shown(user: &ManagedUser) -> Response {
    (etag(&user.version()), Json(UserView::from(user))).into_response()
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Part of the email address or name (case-insensitive).
    pub(super) q: Option<String>,
    /// Only users attached to this entity.
    pub(super) entity: Option<String>,
    /// Only users of this source (`config`, `session_url`, a connection id).
    pub(super) source: Option<String>,
    /// Only disabled (`true`) or enabled (`false`) users.
    pub(super) disabled: Option<bool>,
    /// From 1 to 200; 50 unless given.
    pub(super) limit: Option<u64>,
    /// The `next_cursor` of the page before.
    pub(super) cursor: Option<String>,
}

/// Users, in the order of their ids, a page at a time.
#[utoipa::path(
    get, path = "/admin/v1/users", tag = "users",
    params(UserListQuery),
    responses(
        (status = 200, body = Page<UserView>),
        (status = 400, description = "a parameter is not valid"),
        (status = 401, description = "no or wrong credentials"),
        (status = 403, description = "the credential lacks admin:read"),
    ),
    security(("basic" = ["admin:read"]))
)]
pub async fn list(
    _: Reader,
    State(state): State<AppState>,
    query: Result<Query<UserListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<UserView>>, AdminError> {
    let Query(query) = query.map_err(|e| AdminError::invalid("query", e.body_text()))?;
    Ok(Json(find(&state.store, query).await?))
}

/// A page of the users `query` selects.
pub(super) async fn find(
    store: &Store,
    query: UserListQuery,
) -> Result<Page<UserView>, AdminError> {
    let limit = page_limit(query.limit)?;
    let found = store
        .find_users(
            &UserQuery {
                text: query.q.filter(|q| !q.is_empty()),
                entity_id: query.entity,
                source: query.source,
                disabled: query.disabled,
                after: cursor(query.cursor.as_deref())?,
            },
            limit,
        )
        .await?;
    let last = found.last().map(|user| user.user.id.clone());
    let items = found.iter().map(UserView::from).collect();
    Ok(Page::new(items, limit, last))
}

/// One user, with its version as `ETag` (for `If-Match`).
#[utoipa::path(
    get, path = "/admin/v1/users/{id}", tag = "users",
    params(("id" = String, Path, description = "the user's id")),
    responses(
        (status = 200, body = UserView, headers(("ETag" = String))),
        (status = 404, description = "no such user"),
    ),
    security(("basic" = ["admin:read"]))
)]
pub async fn show(
    _: Reader,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let user = state
        .store
        .managed_user(&id)
        .await?
        .ok_or_else(|| not_found(&id))?;
    Ok(shown(&user))
}

/// What `PATCH` may change; a field left out stays as it is.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub(super) email: Option<String>,
    pub(super) name: Option<String>,
    /// `true` disables the user: their sessions end (their clients are told) and their tokens are
    /// revoked, and no login succeeds until `false` enables them again.
    pub(super) disabled: Option<bool>,
}

impl UserPatch {
    /// The change, checked by the rules the config file's users follow.
    fn checked(self) -> Result<UserChange, AdminError> {
        if let Some(email) = &self.email
            && !is_plausible_email(email)
        {
            return Err(AdminError::invalid("email", "not an email address"));
        }
        if let Some(name) = &self.name
            && (name.trim().is_empty() || name.len() > 256)
        {
            return Err(AdminError::invalid("name", "must be 1 to 256 characters"));
        }
        Ok(UserChange {
            email: self.email,
            name: self.name,
            disabled: self.disabled,
        })
    }
}

/// Changes a user's email, name, or whether they are disabled. With `If-Match`, only if the user
/// is still at that version (else 412).
#[utoipa::path(
    patch, path = "/admin/v1/users/{id}", tag = "users",
    params(
        ("id" = String, Path, description = "the user's id"),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made against"),
    ),
    request_body = UserPatch,
    responses(
        (status = 200, body = UserView, headers(("ETag" = String))),
        (status = 400, description = "a field is not valid; `field` names it"),
        (status = 404, description = "no such user"),
        (status = 409, description = "the config file declares the user"),
        (status = 412, description = "the user changed since the ETag was read"),
        (status = 413, description = "the body is too large"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn update(
    admin: Writer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": "user", "id": id, "action": "update" });
    admin
        .audited(&state, asked, async {
            let version = if_match(&headers)?;
            let patch = body::parse::<UserPatch>(&headers, bytes)?;
            let (by, now) = (&admin.by, state.clock.now());
            let changed =
                change(&state.store, &state.config(), &id, patch, version, by, now).await?;
            Ok(shown(&changed))
        })
        .await
}

/// Applies `patch` to the user `id`, at `version` if one is given.
pub(super) async fn change(
    store: &Store,
    config: &Config,
    id: &str,
    patch: UserPatch,
    version: Option<String>,
    by: &Initiator,
    now: i64,
) -> Result<ManagedUser, AdminError> {
    let change = patch.checked()?;
    let changed = store
        .change_user(id, &change, version.as_deref(), by, config, now)
        .await?;
    outcome(changed, "user", id)
}

/// Deletes a user with everything of theirs: sessions (their clients are told), tokens,
/// consents, product confirmations, upstream identities.
#[utoipa::path(
    delete, path = "/admin/v1/users/{id}", tag = "users",
    params(
        ("id" = String, Path, description = "the user's id"),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made against"),
    ),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, description = "no such user"),
        (status = 409, description = "the config file declares the user"),
        (status = 412, description = "the user changed since the ETag was read"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn delete(
    admin: Writer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": "user", "id": id, "action": "delete" });
    admin
        .audited(&state, asked, async {
            let version = if_match(&headers)?;
            let now = state.clock.now();
            remove(&state.store, &state.config(), &id, version, &admin.by, now).await?;
            Ok(no_content())
        })
        .await
}

/// Deletes the user `id`, at `version` if one is given.
pub(super) async fn remove(
    store: &Store,
    config: &Config,
    id: &str,
    version: Option<String>,
    by: &Initiator,
    now: i64,
) -> Result<(), AdminError> {
    let deleted = store
        .delete_user(id, version.as_deref(), by, config, now)
        .await?;
    outcome(deleted, "user", id)
}

#[derive(Serialize, ToSchema)]
pub struct RevokedAccess {
    /// How many sessions ended.
    pub(super) sessions_ended: usize,
}

/// Ends every session of the user now (their clients are told) and revokes every code, access
/// and refresh token issued to them. Allowed for users of the config file too.
#[utoipa::path(
    post, path = "/admin/v1/users/{id}/revoke", tag = "users",
    params(("id" = String, Path, description = "the user's id")),
    responses(
        (status = 200, body = RevokedAccess),
        (status = 404, description = "no such user"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn revoke_access(
    admin: Writer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RevokedAccess>, AdminError> {
    let asked = json!({ "resource": "user", "id": id, "action": "revoke_access" });
    admin
        .audited(&state, asked, async {
            let now = state.clock.now();
            Ok(Json(
                revoke(&state.store, &state.config(), &id, &admin.by, now).await?,
            ))
        })
        .await
}

/// Ends every session of the user `id` and revokes every token issued to them.
pub(super) async fn revoke(
    store: &Store,
    config: &Config,
    id: &str,
    by: &Initiator,
    now: i64,
) -> Result<RevokedAccess, AdminError> {
    let revoked = store.revoke_user_access(id, by, config, now).await?;
    Ok(RevokedAccess {
        sessions_ended: outcome(revoked, "user", id)?,
    })
}

/// A live session, as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct SessionView {
    /// The session's public id (the ID tokens' `sid`).
    pub(super) sid: String,
    pub(super) auth_time: i64,
    pub(super) expires_at: i64,
    pub(super) client_addr: String,
    pub(super) user_agent: String,
    /// The upstream connection whose login started it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) connection: Option<String>,
}

impl From<ManagedSession> for SessionView {
    fn from(session: ManagedSession) -> SessionView {
        SessionView {
            sid: session.sid,
            auth_time: session.auth_time,
            expires_at: session.expires_at,
            client_addr: session.client_addr,
            user_agent: session.user_agent,
            connection: session.upstream_connection,
        }
    }
}

/// The user's live sessions, newest first.
#[utoipa::path(
    get, path = "/admin/v1/users/{id}/sessions", tag = "users",
    params(("id" = String, Path, description = "the user's id")),
    responses(
        (status = 200, body = Vec<SessionView>),
        (status = 404, description = "no such user"),
    ),
    security(("basic" = ["admin:read"]))
)]
pub async fn sessions(
    _: Reader,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<SessionView>>, AdminError> {
    Ok(Json(
        sessions_of(&state.store, &id, state.clock.now()).await?,
    ))
}

/// The live sessions of the user `id`, newest first.
pub(super) async fn sessions_of(
    store: &Store,
    id: &str,
    now: i64,
) -> Result<Vec<SessionView>, AdminError> {
    known(store, id).await?;
    let sessions = store.managed_sessions(id, now).await?;
    Ok(sessions.into_iter().map(SessionView::from).collect())
}

/// Ends one session of the user, as a sign-out would: its clients are told, and what was issued
/// in it is revoked.
#[utoipa::path(
    delete, path = "/admin/v1/users/{id}/sessions/{sid}", tag = "users",
    params(
        ("id" = String, Path, description = "the user's id"),
        ("sid" = String, Path, description = "the session's sid"),
    ),
    responses(
        (status = 204, description = "ended"),
        (status = 404, description = "no such live session of this user"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn end_session(
    admin: Writer,
    State(state): State<AppState>,
    Path((id, sid)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": "session", "id": sid, "user": id, "action": "end" });
    admin
        .audited(&state, asked, async {
            let ended = state
                .store
                .end_managed_session(&id, &sid, &admin.by, &state.config(), state.clock.now())
                .await?;
            outcome(ended, "session", &sid)?;
            Ok(no_content())
        })
        .await
}

/// A consent, as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct ConsentView {
    pub(super) client_id: String,
    /// The scopes allowed, space-separated.
    pub(super) scope: String,
    pub(super) granted_at: i64,
}

/// The clients the user allowed personal data or offline access, and what.
#[utoipa::path(
    get, path = "/admin/v1/users/{id}/consents", tag = "users",
    params(("id" = String, Path, description = "the user's id")),
    responses(
        (status = 200, body = Vec<ConsentView>),
        (status = 404, description = "no such user"),
    ),
    security(("basic" = ["admin:read"]))
)]
pub async fn consents(
    _: Reader,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ConsentView>>, AdminError> {
    Ok(Json(consents_of(&state.store, &id).await?))
}

/// What the user `id` allowed which client.
pub(super) async fn consents_of(store: &Store, id: &str) -> Result<Vec<ConsentView>, AdminError> {
    known(store, id).await?;
    let consents = store.consents_of(id).await?;
    Ok(consents
        .into_iter()
        .map(|consent| ConsentView {
            client_id: consent.client_id,
            scope: consent.scope,
            granted_at: consent.granted_at,
        })
        .collect())
}

/// Withdraws the user's consent to a client; the client's tokens for the user are revoked.
#[utoipa::path(
    delete, path = "/admin/v1/users/{id}/consents/{client_id}", tag = "users",
    params(
        ("id" = String, Path, description = "the user's id"),
        ("client_id" = String, Path, description = "the client's id"),
    ),
    responses(
        (status = 204, description = "withdrawn"),
        (status = 404, description = "no such consent"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn withdraw_consent(
    admin: Writer,
    State(state): State<AppState>,
    Path((id, client_id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": "consent", "id": client_id, "user": id, "action": "withdraw" });
    admin
        .audited(&state, asked, async {
            let withdrawn = state
                .store
                .withdraw_consent(&id, &client_id, &admin.by, state.clock.now())
                .await?;
            outcome(withdrawn, "consent", &client_id)?;
            Ok(no_content())
        })
        .await
}

fn not_found(id: &str) -> AdminError {
    AdminError::NotFound {
        resource: "user",
        id: id.to_string(),
    }
}

/// Whether the user exists: a listing of a user that does not is 404, not empty.
async fn known(store: &Store, id: &str) -> Result<(), AdminError> {
    store
        .managed_user(id)
        .await?
        .map(drop)
        .ok_or_else(|| not_found(id))
}
