//! `/admin/v1`: run-time administration over JSON (docs/admin.md). Requests authenticate with an
//! API credential (HTTP Basic, as the other server-to-server APIs, throttled the same way) that
//! holds `admin:read` (reads) or `admin:write` (changes). Every change is written with its audit
//! event in one transaction; a refused change writes nothing but its refusal's audit event.
//! The OpenAPI document is made from the handlers' own annotations, with the routes
//! (`utoipa-axum`), so it cannot list a route that is not served or miss one that is; it is
//! served at `/admin/v1/openapi.json`.
mod audit;
mod body;
pub mod cli;
mod credentials;
mod declared;
mod error;
mod users;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use declared::BODY_LIMIT as DECLARATION_BODY_LIMIT;
pub use error::AdminError;

use crate::config::{ADMIN_READ, ADMIN_WRITE};
use crate::http::ClientAddr;
use crate::state::AppState;
use crate::store::{Actor, AuditEvent, Change, Initiator, Store};
use crate::vocabulary::audit::AuditKind;

/// The most items one page of a listing holds, and how many it holds unless asked.
const MAX_PAGE: u64 = 200;
const DEFAULT_PAGE: u64 = 50;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "idbridge admin API",
        description = "Run-time administration of idbridge: users and their sessions, consents \
                       and tokens; API credentials; the audit trail; the clients, entities, \
                       connections and products the config file declares. See docs/admin.md."
    ),
    modifiers(&BasicAuth),
    tags(
        (name = "users", description = "People idbridge knows, their sessions and consents"),
        (name = "api_credentials", description = "Credentials of the server-to-server APIs"),
        (name = "audit", description = "The audit trail"),
        (name = "declared", description = "Clients, entities, connections and products: the \
                                            config file's, shown read-only, and run-time ones"),
    )
)]
struct ApiDoc;

/// Declares the HTTP Basic scheme the handlers' `security` names.
struct BasicAuth;

impl Modify for BasicAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
    }
}

/// The admin API's routes and its OpenAPI document, made from the same list.
fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::list))
        .routes(routes!(users::show, users::update, users::delete))
        .routes(routes!(users::revoke_access))
        .routes(routes!(users::sessions))
        .routes(routes!(users::end_session))
        .routes(routes!(users::consents))
        .routes(routes!(users::withdraw_consent))
        .routes(routes!(credentials::list, credentials::create))
        .routes(routes!(credentials::delete))
        .routes(routes!(audit::list))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(declared::list, declared::create))
                .routes(routes!(declared::show, declared::replace, declared::delete))
                .layer(DefaultBodyLimit::max(declared::BODY_LIMIT)),
        )
        .routes(routes!(declared::rotate_client_secret))
        .routes(routes!(declared::rotate_product_secret))
        .routes(routes!(declared::refresh_connection))
        .routes(routes!(declared::refresh_service_provider))
        .split_for_parts()
}

/// The admin API's routes, with its OpenAPI document at `/admin/v1/openapi.json`.
pub fn router() -> Router<AppState> {
    let (routes, document) = api();
    let document: Bytes = document
        .to_pretty_json()
        .unwrap_or_else(|e| {
            json!({ "error": format!("the OpenAPI document did not serialize: {e}") }).to_string()
        })
        .into();
    routes.route(
        "/admin/v1/openapi.json",
        get(move || {
            let document = document.clone();
            async move { ([(header::CONTENT_TYPE, "application/json")], document) }
        }),
    )
}

/// An authenticated admin request: the credential holds the scope `WRITE` asks for
/// (`admin:write` when true, `admin:read` when false). Its initiator is what audit events say.
pub struct Admin<const WRITE: bool> {
    pub by: Initiator,
    /// The scopes the credential holds.
    pub scopes: Vec<String>,
}

pub type Reader = Admin<false>;
pub type Writer = Admin<true>;

impl<const WRITE: bool> FromRequestParts<AppState> for Admin<WRITE> {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AdminError> {
        let client = parts
            .extensions
            .get::<ClientAddr>()
            .map(|ClientAddr(client)| *client)
            .ok_or_else(|| AdminError::Internal("no client address".into()))?;
        let scope = if WRITE { ADMIN_WRITE } else { ADMIN_READ };
        let credential = crate::api_auth::authenticate(
            &state.api_auth,
            state.password_checker(),
            state.clock.now(),
            &parts.headers,
            client,
            scope,
        )
        .await?;
        if let Err(wait) = state.client_rates.admit_admin(&credential.username) {
            return Err(AdminError::TooFrequent {
                retry_after: wait.as_secs().max(1),
            });
        }
        Ok(Admin {
            by: Initiator {
                actor: Actor::Api(credential.username),
                client_addr: Some(client),
            },
            scopes: credential.scopes,
        })
    }
}

/// Runs a change asked for by `by` and passes on its outcome; a refusal (not a failure of
/// idbridge's own) is recorded in the audit trail, with what was asked, before it is answered.
pub async fn audited<T>(
    store: &Store,
    by: &Initiator,
    asked: serde_json::Value,
    now: i64,
    change: impl Future<Output = Result<T, AdminError>>,
) -> Result<T, AdminError> {
    let outcome = change.await;
    if let Err(error) = &outcome
        && error.is_refusal()
    {
        let mut details = asked;
        details["reason"] = json!(error.to_string());
        let event = AuditEvent {
            kind: AuditKind::AdminRefused,
            actor: by.actor.clone(),
            user_id: None,
            client_addr: by.client_addr,
            details,
        };
        store.record_audit(&event, now).await?;
    }
    outcome
}

impl Writer {
    /// [`audited`] for this request.
    pub async fn audited<T>(
        &self,
        state: &AppState,
        asked: serde_json::Value,
        change: impl Future<Output = Result<T, AdminError>>,
    ) -> Result<T, AdminError> {
        audited(&state.store, &self.by, asked, state.clock.now(), change).await
    }
}

/// The one entity tag of an `If-Match` header, without its quotes (`*` is no tag: any version).
fn if_match(headers: &HeaderMap) -> Result<Option<String>, AdminError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| AdminError::invalid("If-Match", "not readable text"))?
        .trim();
    if value == "*" {
        return Ok(None);
    }
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .filter(|tag| !tag.contains('"') && !tag.is_empty())
        .map(|tag| Some(tag.to_string()))
        .ok_or_else(|| AdminError::invalid("If-Match", "must be one entity tag, as ETag gave it"))
}

/// The `ETag` header of a version.
fn etag(version: &str) -> [(header::HeaderName, String); 1] {
    [(header::ETAG, format!("\"{version}\""))]
}

/// One page of a listing, and the cursor of the next page when there may be one.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// A page of `items`, read with `limit`, whose last item's position is `last`.
    fn new(items: Vec<T>, limit: u64, last: Option<String>) -> Page<T> {
        let full = items.len() as u64 == limit;
        Page {
            items,
            next_cursor: last
                .filter(|_| full)
                .map(|last| URL_SAFE_NO_PAD.encode(last)),
        }
    }
}

/// A listing's page size, checked.
fn page_limit(limit: Option<u64>) -> Result<u64, AdminError> {
    match limit {
        None => Ok(DEFAULT_PAGE),
        Some(limit) if (1..=MAX_PAGE).contains(&limit) => Ok(limit),
        Some(_) => Err(AdminError::invalid(
            "limit",
            format!("must be from 1 to {MAX_PAGE}"),
        )),
    }
}

/// The position a `cursor` (from a page before) names.
fn cursor(cursor: Option<&str>) -> Result<Option<String>, AdminError> {
    cursor
        .map(|cursor| {
            URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| AdminError::invalid("cursor", "not a cursor this API gave"))
        })
        .transpose()
}

/// What a change of the `resource` named `id` came to, as the API answers it.
fn outcome<T>(change: Change<T>, resource: &'static str, id: &str) -> Result<T, AdminError> {
    let id = id.to_string();
    match change {
        Change::Done(value) => Ok(value),
        Change::NotFound => Err(AdminError::NotFound { resource, id }),
        Change::ManagedByConfig => Err(AdminError::ManagedByConfig { resource, id }),
        Change::Stale => Err(AdminError::Stale { resource, id }),
        Change::Exists => Err(AdminError::Exists { resource, id }),
        Change::Invalid(problems) => Err(AdminError::Rules(problems)),
        Change::InUse(what) => Err(AdminError::InUse { resource, id, what }),
    }
}

/// The answer of a change that leaves nothing to show.
fn no_content() -> axum::response::Response {
    axum::http::StatusCode::NO_CONTENT.into_response()
}
