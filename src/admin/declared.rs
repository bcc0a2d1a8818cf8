//! `/admin/v1/{clients|entities|connections|products|service_providers}`: the objects the config file declares,
//! shown (never a secret) with `"managed_by": "config"` and changed only by the file, and those
//! made at run time, `"managed_by": "api"`. A run-time one is the declaration the file would
//! hold, as JSON, checked with the file's by the same rules (`config::Declaration`); it is stored
//! in the database and takes effect in this process at once and in every other within
//! [`crate::CHANGES_POLL`]. Changes take `If-Match` with the ETag a read gave (412 when stale).
//! Secrets of clients and products are made by idbridge and shown once.
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::{
    AdminError, Page, Reader, Writer, body, cursor, etag, if_match, no_content, outcome, page_limit,
};
use crate::config::{
    ClientDecl, Config, ConnectionDecl, ConnectionProtocol, Declaration, EntityDecl, Kind,
    NameIdFormat, Problem, ProductDecl, ProductFormat, ServiceProviderDecl,
};
use crate::crypto;
use crate::state::AppState;
use crate::store::{
    DeclarationChange, DeclarationChanged, Initiator, MANAGED_BY_API, MANAGED_BY_CONFIG, Store,
    StoredDeclaration,
};

/// The largest declaration taken: one holding an IdP's metadata document (`idp_metadata_xml`),
/// which may be 1 MiB as fetched from a URL, quoted in JSON.
pub const BODY_LIMIT: usize = 2 * 1024 * 1024 + 16 * 1024;

/// An OpenID Connect client, as the API shows it (never its secret).
#[derive(Serialize, ToSchema)]
pub struct ClientView {
    client_id: String,
    /// Without a secret: a public client, which must use PKCE.
    public: bool,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    allowed_scopes: Vec<String>,
    id_token_alg: &'static str,
    require_pkce: bool,
    token_endpoint_auth_method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    backchannel_logout_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frontchannel_logout_uri: Option<String>,
}

impl From<&ClientDecl> for ClientView {
    fn from(client: &ClientDecl) -> ClientView {
        ClientView {
            client_id: client.client_id.clone(),
            public: client.secret.is_none(),
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            allowed_scopes: client.allowed_scopes.clone(),
            id_token_alg: client.id_token_alg.as_str(),
            require_pkce: client.require_pkce,
            token_endpoint_auth_method: client.token_endpoint_auth_method.as_str(),
            backchannel_logout_uri: client.backchannel_logout.as_ref().map(|c| c.uri.clone()),
            frontchannel_logout_uri: client.frontchannel_logout.as_ref().map(|c| c.uri.clone()),
        }
    }
}

/// An entity of the PSP / DIVISION / MERCHANT tree.
#[derive(Serialize, ToSchema)]
pub struct EntityView {
    id: String,
    name: String,
    /// `PSP`, `DIVISION` or `MERCHANT`.
    level: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
}

impl From<&EntityDecl> for EntityView {
    fn from(entity: &EntityDecl) -> EntityView {
        EntityView {
            id: entity.id.clone(),
            name: entity.name.clone(),
            level: entity.level.as_str(),
            parent: entity.parent.clone(),
        }
    }
}

/// An upstream connection: a customer's OpenID Connect or SAML identity provider.
#[derive(Serialize, ToSchema)]
pub struct ConnectionView {
    id: String,
    /// `oidc` or `saml`.
    #[serde(rename = "type")]
    kind: &'static str,
    name: String,
    /// The entity its users are attached to when no rule matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    entity: Option<String>,
    /// The email domains whose users sign in here.
    domains: Vec<String>,
    /// Whether it takes logins.
    enabled: bool,
}

impl From<&ConnectionDecl> for ConnectionView {
    fn from(connection: &ConnectionDecl) -> ConnectionView {
        ConnectionView {
            id: connection.id.clone(),
            kind: match connection.protocol {
                ConnectionProtocol::Oidc(_) => "oidc",
                ConnectionProtocol::Saml(_) => "saml",
            },
            name: connection.name.clone(),
            entity: connection.entity.clone(),
            domains: connection.domains.clone(),
            enabled: connection.enabled,
        }
    }
}

/// A product that takes idbridge's HS256 SSO tokens (never its secrets).
#[derive(Serialize, ToSchema)]
pub struct ProductView {
    id: String,
    /// `hub` or `workspace`.
    format: &'static str,
    /// How many secrets it has: the first signs, the others are kept during a rotation.
    secrets: usize,
    token_ttl: i64,
}

impl From<&ProductDecl> for ProductView {
    fn from(product: &ProductDecl) -> ProductView {
        ProductView {
            id: product.id.clone(),
            format: match product.format {
                ProductFormat::Hub { .. } => "hub",
                ProductFormat::Workspace => "workspace",
            },
            secrets: product.secrets.len(),
            token_ttl: product.token_ttl,
        }
    }
}

/// A SAML service provider idbridge is the IdP of.
#[derive(Serialize, ToSchema)]
pub struct ServiceProviderView {
    id: String,
    name: String,
    entity_id: String,
    /// Where its metadata is read from (at start, then hourly), if it is named by URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    metadata_url: Option<String>,
    /// Where responses may be posted; the first is the default. Empty for one whose metadata is
    /// named by URL: its ACSs are what that metadata says when read.
    acs_urls: Vec<String>,
    requests_signed: bool,
    /// `email`, `persistent` or `transient`.
    name_id_format: &'static str,
    /// The names of the attributes it is given.
    attributes: Vec<String>,
    encrypt_assertions: bool,
    allow_idp_initiated: bool,
}

impl From<&ServiceProviderDecl> for ServiceProviderView {
    fn from(sp: &ServiceProviderDecl) -> ServiceProviderView {
        ServiceProviderView {
            id: sp.id.clone(),
            name: sp.name.clone(),
            entity_id: sp.entity_id.clone(),
            metadata_url: sp.metadata_url.clone(),
            acs_urls: sp.acs_urls.iter().map(|acs| acs.url.clone()).collect(),
            requests_signed: sp.requests_signed,
            name_id_format: match sp.name_id_format {
                NameIdFormat::Email => "email",
                NameIdFormat::Persistent => "persistent",
                NameIdFormat::Transient => "transient",
            },
            attributes: sp.attributes.iter().map(|a| a.name.clone()).collect(),
            encrypt_assertions: sp.encrypt_assertions,
            allow_idp_initiated: sp.allow_idp_initiated,
        }
    }
}

/// One client, entity, connection, product or service provider, with who manages it.
#[derive(Serialize, ToSchema)]
pub struct DeclaredView {
    #[serde(flatten)]
    object: ObjectView,
    /// `config` (only the file changes it) or `api`.
    managed_by: &'static str,
    /// The version of one managed by the API: its ETag.
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<i64>,
    /// The declaration of one managed by the API, as it was given (secrets left out): what a
    /// `PUT` changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    declaration: Option<Value>,
}

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum ObjectView {
    Client(ClientView),
    Entity(EntityView),
    Connection(ConnectionView),
    Product(ProductView),
    ServiceProvider(ServiceProviderView),
}

/// The objects of `kind` in force, each with who manages it and the stored version of the
/// run-time ones.
pub(super) fn views(
    config: &Config,
    stored: &[StoredDeclaration],
    kind: Kind,
) -> Vec<(String, DeclaredView)> {
    let objects: Vec<(String, ObjectView)> = match kind {
        Kind::Client => config
            .clients
            .iter()
            .map(|c| (c.client_id.clone(), ObjectView::Client(c.into())))
            .collect(),
        Kind::Entity => config
            .entities
            .iter()
            .map(|e| (e.id.clone(), ObjectView::Entity(e.into())))
            .collect(),
        Kind::Connection => config
            .connections
            .iter()
            .map(|c| (c.id.clone(), ObjectView::Connection(c.into())))
            .collect(),
        Kind::Product => config
            .products
            .iter()
            .map(|p| (p.id.clone(), ObjectView::Product(p.into())))
            .collect(),
        Kind::ServiceProvider => config
            .service_providers
            .iter()
            .map(|sp| (sp.id.clone(), ObjectView::ServiceProvider(sp.into())))
            .collect(),
    };
    objects
        .into_iter()
        .map(|(id, object)| {
            let run_time = stored
                .iter()
                .find(|s| s.declaration.kind == kind && s.declaration.id == id);
            let managed_by = if config.file_declares(kind, &id) {
                MANAGED_BY_CONFIG
            } else {
                MANAGED_BY_API
            };
            let view = DeclaredView {
                object,
                managed_by,
                version: run_time.map(|s| s.version),
                declaration: run_time.map(|s| s.declaration.without_secrets()),
            };
            (id, view)
        })
        .collect()
}

/// The kind a path names.
pub(super) fn kind_of(section: &str) -> Result<Kind, AdminError> {
    Kind::from_section(section).ok_or_else(|| AdminError::NotFound {
        resource: "kind of object",
        id: section.to_string(),
    })
}

/// What the API shows of one object, with its ETag when the API manages it.
fn shown(view: &DeclaredView, status: StatusCode, extra: Value) -> Response {
    let mut body = serde_json::to_value(view).expect("views serialize");
    if let (Value::Object(body), Value::Object(extra)) = (&mut body, extra) {
        body.extend(extra);
    }
    match view.version {
        Some(version) => (status, etag(&version.to_string()), Json(body)).into_response(),
        None => (status, Json(body)).into_response(),
    }
}

async fn stored(state: &AppState) -> Result<Vec<StoredDeclaration>, AdminError> {
    let key = state.file_config.keys.encryption_key.as_ref();
    Ok(state.store.run_time_declarations(key).await?)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeclaredQuery {
    /// `config` or `api`: only those the file declares, or only run-time ones.
    managed_by: Option<String>,
    /// At most this many (1–200, 50 unless given).
    limit: Option<u64>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
}

/// The clients, entities, connections, products or service_providers in force, the file's (`"managed_by":
/// "config"`) and run-time ones (`"managed_by": "api"`), by id.
#[utoipa::path(
    get, path = "/admin/v1/{kind}", tag = "declared",
    params(
        ("kind" = String, Path, description = "clients, entities, connections, products or service_providers"),
        DeclaredQuery,
    ),
    responses((status = 200, body = Page<DeclaredView>)),
    security(("basic" = ["admin:read"]))
)]
pub async fn list(
    _: Reader,
    State(state): State<AppState>,
    Path(section): Path<String>,
    query: Result<Query<DeclaredQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Page<DeclaredView>>, AdminError> {
    let kind = kind_of(&section)?;
    let Query(query) =
        query.map_err(|rejection| AdminError::invalid("query", rejection.body_text()))?;
    let limit = page_limit(query.limit)?;
    let after = cursor(query.cursor.as_deref())?;
    if let Some(managed_by) = &query.managed_by
        && ![MANAGED_BY_CONFIG, MANAGED_BY_API].contains(&managed_by.as_str())
    {
        return Err(AdminError::invalid("managed_by", "must be config or api"));
    }
    let stored = stored(&state).await?;
    let mut views = views(&state.config(), &stored, kind);
    views.sort_by(|(a, _), (b, _)| a.cmp(b));
    let page: Vec<(String, DeclaredView)> = views
        .into_iter()
        .filter(|(id, _)| after.as_ref().is_none_or(|after| id > after))
        .filter(|(_, view)| {
            query
                .managed_by
                .as_deref()
                .is_none_or(|m| m == view.managed_by)
        })
        .take(limit as usize)
        .collect();
    let last = page.last().map(|(id, _)| id.clone());
    let items = page.into_iter().map(|(_, view)| view).collect();
    Ok(Json(Page::new(items, limit, last)))
}

/// One client, entity, connection or product, with its ETag when the API manages it.
#[utoipa::path(
    get, path = "/admin/v1/{kind}/{id}", tag = "declared",
    params(
        ("kind" = String, Path, description = "clients, entities, connections, products or service_providers"),
        ("id" = String, Path, description = "its id (a client's client_id)"),
    ),
    responses(
        (status = 200, body = DeclaredView, headers(("ETag" = String))),
        (status = 404, description = "none such"),
    ),
    security(("basic" = ["admin:read"]))
)]
pub async fn show(
    _: Reader,
    State(state): State<AppState>,
    Path((section, id)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let kind = kind_of(&section)?;
    let stored = stored(&state).await?;
    views(&state.config(), &stored, kind)
        .into_iter()
        .find(|(found, _)| *found == id)
        .map(|(_, view)| shown(&view, StatusCode::OK, json!({})))
        .ok_or(AdminError::NotFound {
            resource: kind.noun(),
            id,
        })
}

/// Makes a client, entity, connection or product: the body is its declaration as the config
/// file would hold it (docs/configuration.md), as JSON. A client's or product's secret is made by
/// idbridge and shown once, here (`client_secret`, `secret`).
#[utoipa::path(
    post, path = "/admin/v1/{kind}", tag = "declared",
    params(("kind" = String, Path, description = "clients, entities, connections, products or service_providers")),
    request_body = Object,
    responses(
        (status = 201, body = DeclaredView, headers(("ETag" = String))),
        (status = 400, description = "the declaration breaks a rule; `problems` name the fields"),
        (status = 409, description = "one with that id exists, or the file declares it"),
        (status = 413, description = "the body is too large"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn create(
    admin: Writer,
    State(state): State<AppState>,
    Path(section): Path<String>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": section, "action": "create" });
    admin
        .audited(&state, asked, async {
            let kind = kind_of(&section)?;
            let mut declaration = declaration(kind, body::parse(&headers, bytes)?)?;
            let secret = made_secret(&mut declaration)?;
            let change = DeclarationChange::Create(declaration);
            let done = apply(&state, change, &admin.by).await?;
            Ok(answer(done, StatusCode::CREATED, kind, secret))
        })
        .await
}

/// Replaces the declaration of a run-time client, entity, connection or product (`enabled:
/// false` disables a connection; a new `parent` moves an entity with everything below it).
/// Secrets left out are kept; a client's or product's secret changes only by rotation.
#[utoipa::path(
    put, path = "/admin/v1/{kind}/{id}", tag = "declared",
    params(
        ("kind" = String, Path, description = "clients, entities, connections, products or service_providers"),
        ("id" = String, Path, description = "its id (a client's client_id)"),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made against"),
    ),
    request_body = Object,
    responses(
        (status = 200, body = DeclaredView, headers(("ETag" = String))),
        (status = 400, description = "the declaration breaks a rule; `problems` name the fields"),
        (status = 404, description = "none such"),
        (status = 409, description = "the config file declares it"),
        (status = 412, description = "it changed since the ETag was read"),
        (status = 413, description = "the body is too large"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn replace(
    admin: Writer,
    State(state): State<AppState>,
    Path((section, id)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": section, "id": id, "action": "update" });
    admin
        .audited(&state, asked, async {
            let kind = kind_of(&section)?;
            let version = version(&headers)?;
            let new = declaration(kind, body::parse(&headers, bytes)?)?;
            let change = replacement(id, version, new)?;
            let done = apply(&state, change, &admin.by).await?;
            Ok(answer(done, StatusCode::OK, kind, None))
        })
        .await
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DeleteQuery {
    /// For an entity: also delete the run-time entities below it, and detach the users attached
    /// to any of them. Without it such a delete is refused (409).
    #[serde(default)]
    cascade: bool,
}

/// Deletes a run-time client (with its consents and tokens), entity, connection or product.
#[utoipa::path(
    delete, path = "/admin/v1/{kind}/{id}", tag = "declared",
    params(
        ("kind" = String, Path, description = "clients, entities, connections, products or service_providers"),
        ("id" = String, Path, description = "its id (a client's client_id)"),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made against"),
        DeleteQuery,
    ),
    responses(
        (status = 204, description = "deleted"),
        (status = 400, description = "another declaration refers to it; `problems` say which"),
        (status = 404, description = "none such"),
        (status = 409, description = "the config file declares it, or users or entities below it would be left without it"),
        (status = 412, description = "it changed since the ETag was read"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn delete(
    admin: Writer,
    State(state): State<AppState>,
    Path((section, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: Result<Query<DeleteQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": section, "id": id, "action": "delete" });
    admin
        .audited(&state, asked, async {
            let kind = kind_of(&section)?;
            let Query(query) =
                query.map_err(|_| AdminError::invalid("cascade", "must be true or false"))?;
            let change = DeclarationChange::Delete {
                kind,
                id,
                version: version(&headers)?,
                cascade: query.cascade,
            };
            apply(&state, change, &admin.by).await?;
            Ok(no_content())
        })
        .await
}

/// Gives a run-time client a new secret, shown once here; the old one stops working at once.
#[utoipa::path(
    post, path = "/admin/v1/clients/{id}/secret", tag = "declared",
    params(
        ("id" = String, Path, description = "the client's client_id"),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made against"),
    ),
    responses(
        (status = 200, body = DeclaredView, description = "with `client_secret`, shown once"),
        (status = 404, description = "no such client"),
        (status = 409, description = "the config file declares it"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn rotate_client_secret(
    admin: Writer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    rotate(admin, state, Kind::Client, id, &headers).await
}

/// Gives a run-time product a new signing secret, shown once here. The previous one is kept (a
/// product may accept both while it moves to the new one) until the next rotation.
#[utoipa::path(
    post, path = "/admin/v1/products/{id}/secrets", tag = "declared",
    params(
        ("id" = String, Path, description = "the product's id"),
        ("If-Match" = Option<String>, Header, description = "the ETag the change is made against"),
    ),
    responses(
        (status = 200, body = DeclaredView, description = "with `secret`, shown once"),
        (status = 404, description = "no such product"),
        (status = 409, description = "the config file declares it"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn rotate_product_secret(
    admin: Writer,
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    rotate(admin, state, Kind::Product, id, &headers).await
}

async fn rotate(
    admin: Writer,
    state: AppState,
    kind: Kind,
    id: String,
    headers: &HeaderMap,
) -> Result<Response, AdminError> {
    let asked = json!({ "resource": kind.noun(), "id": id, "action": "rotate_secret" });
    admin
        .audited(&state, asked, async {
            let (change, secret) = rotation(kind, id, version(headers)?);
            let done = apply(&state, change, &admin.by).await?;
            Ok(answer(done, StatusCode::OK, kind, Some(secret)))
        })
        .await
}

/// Reads the IdP metadata of a connection again now (SAML metadata from a URL).
#[utoipa::path(
    post, path = "/admin/v1/connections/{id}/refresh", tag = "declared",
    params(("id" = String, Path, description = "the connection's id")),
    responses(
        (status = 204, description = "read"),
        (status = 404, description = "no such enabled connection"),
        (status = 502, description = "the metadata could not be read; what was read before stays"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn refresh_connection(
    _: Writer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let outcome = state.directory().connectors.fetch_metadata_of(&id).await;
    refreshed("connection", id, outcome)
}

/// Reads the metadata of a service provider again now (metadata from a URL).
#[utoipa::path(
    post, path = "/admin/v1/service_providers/{id}/refresh", tag = "declared",
    params(("id" = String, Path, description = "the service provider's id")),
    responses(
        (status = 204, description = "read, or nothing to read (its metadata is not named by URL)"),
        (status = 404, description = "no such service provider"),
        (status = 502, description = "the metadata could not be read or does not fit the declaration; what was read before stays"),
    ),
    security(("basic" = ["admin:write"]))
)]
pub async fn refresh_service_provider(
    _: Writer,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, AdminError> {
    let outcome = state.directory().refresh_service_provider(&id).await;
    refreshed("service provider", id, outcome)
}

/// The answer to a refresh of the metadata of `resource` `id` (`None`: there is no such one).
fn refreshed<E: std::fmt::Display>(
    resource: &'static str,
    id: String,
    outcome: Option<Result<(), E>>,
) -> Result<Response, AdminError> {
    match outcome {
        None => Err(AdminError::NotFound { resource, id }),
        Some(Ok(())) => Ok(no_content()),
        Some(Err(error)) => Ok((
            StatusCode::BAD_GATEWAY,
            Json(json!({ "error": "metadata_unavailable", "message": error.to_string() })),
        )
            .into_response()),
    }
}

/// The change that replaces the run-time declaration `id` with `new` (at `version`), keeping the
/// secrets `new` leaves out; an operator may not give a client's or product's secret.
pub(super) fn replacement(
    id: String,
    version: Option<i64>,
    mut new: Declaration,
) -> Result<DeclarationChange, AdminError> {
    let kind = new.kind;
    if matches!(kind, Kind::Client | Kind::Product) {
        refuse_given_secrets(&new)?;
    }
    Ok(DeclarationChange::Update {
        kind,
        id,
        version,
        action: "update",
        change: Box::new(move |old| {
            // An upstream client secret goes to the provider's token endpoint: it is kept only
            // while the provider stays the same, else an operator who never saw it could send
            // it to a host of their own.
            let same_provider = ["type", "issuer"]
                .iter()
                .all(|key| new.body.get(*key) == old.body.get(*key));
            for key in kind.secret_keys() {
                let carried = kind != Kind::Connection || same_provider;
                if let (None, Some(value), true) = (new.body.get(*key), old.body.get(*key), carried)
                {
                    new.body.insert(key.to_string(), value.clone());
                }
            }
            Ok(new)
        }),
    })
}

/// The change that gives the run-time client or product `id` a new secret, and the secret.
pub(super) fn rotation(
    kind: Kind,
    id: String,
    version: Option<i64>,
) -> (DeclarationChange, String) {
    let secret = crypto::random_token();
    let new = secret.clone();
    let change = DeclarationChange::Update {
        kind,
        id,
        version,
        action: "rotate_secret",
        change: Box::new(move |old| Ok(with_secret(old.clone(), new))),
    };
    (change, secret)
}

/// The declaration of `kind` in `body`, or its problems, named by their path in the body.
pub(super) fn declaration(kind: Kind, body: Value) -> Result<Declaration, AdminError> {
    Declaration::new(kind, body).map_err(AdminError::Rules)
}

/// Refuses a client or product secret an operator gave: idbridge makes them.
fn refuse_given_secrets(declaration: &Declaration) -> Result<(), AdminError> {
    match declaration
        .kind
        .secret_keys()
        .iter()
        .find(|key| declaration.body.contains_key(**key))
    {
        Some(key) => Err(AdminError::invalid(
            *key,
            "idbridge makes this secret (shown once) and rotates it on request",
        )),
        None => Ok(()),
    }
}

/// Gives a new client or product the secret idbridge makes for it, if it takes one; the secret,
/// to show once.
pub(super) fn made_secret(declaration: &mut Declaration) -> Result<Option<String>, AdminError> {
    if !matches!(declaration.kind, Kind::Client | Kind::Product) {
        return Ok(None);
    }
    refuse_given_secrets(declaration)?;
    let public = declaration.kind == Kind::Client
        && declaration.body.get("token_endpoint_auth_method") == Some(&json!("none"));
    if public {
        return Ok(None);
    }
    let secret = crypto::random_token();
    *declaration = with_secret(declaration.clone(), secret.clone());
    Ok(Some(secret))
}

/// `declaration` signing with `secret` from now on: a client's only secret, or a product's first,
/// with the one it signed with before kept after it.
fn with_secret(mut declaration: Declaration, secret: String) -> Declaration {
    match declaration.kind {
        Kind::Product => {
            let previous = declaration
                .body
                .get("secrets")
                .and_then(|s| s.get(0))
                .cloned();
            let secrets: Vec<Value> = [Some(json!(secret)), previous]
                .into_iter()
                .flatten()
                .collect();
            declaration.body.insert("secrets".into(), json!(secrets));
        }
        _ => {
            declaration
                .body
                .insert("client_secret".into(), json!(secret));
        }
    }
    declaration
}

/// The `If-Match` version, as the store counts them.
fn version(headers: &HeaderMap) -> Result<Option<i64>, AdminError> {
    if_match(headers)?
        .map(|tag| {
            tag.parse()
                .map_err(|_| AdminError::invalid("If-Match", "not an ETag this API gave"))
        })
        .transpose()
}

/// Makes `change` asked by `by` and puts the outcome in force in this process.
async fn apply(
    state: &AppState,
    change: DeclarationChange,
    by: &Initiator,
) -> Result<Applied, AdminError> {
    let key = state.file_config.keys.encryption_key.as_ref();
    let done = make(
        &state.store,
        &state.file_config,
        key,
        change,
        by,
        state.clock.now(),
    )
    .await?;
    // Stored and audited: if this process cannot put it in force, the operator must hear it.
    let unread = state.reload_directory().await.map_err(|error| {
        AdminError::Internal(format!(
            "the change is stored, but this process could not put it in force: {error}"
        ))
    })?;
    Ok(Applied { done, unread })
}

/// A change made and in force here, with what its new connectors could not read of their
/// providers (connection id, why).
struct Applied {
    done: DeclarationChanged,
    unread: Vec<(String, crate::directory::MetadataError)>,
}

/// Makes `change` in the database, with the answers the API and `idbridge admin` give.
pub(super) async fn make(
    store: &Store,
    file_config: &Config,
    key: Option<&crate::config::EncryptionKey>,
    change: DeclarationChange,
    by: &Initiator,
    now: i64,
) -> Result<DeclarationChanged, AdminError> {
    let (kind, id) = change.target();
    let id = id.to_string();
    let changed = store
        .change_declaration(change, file_config, key, by, now)
        .await?;
    // Problems of the changed declaration itself are named by their path in its body.
    let prefix = format!("{}.", kind.label(&id));
    let changed = match changed {
        crate::store::Change::Invalid(problems) => crate::store::Change::Invalid(
            problems
                .into_iter()
                .map(|p| Problem {
                    path: p.path.strip_prefix(&prefix).unwrap_or(&p.path).to_string(),
                    message: p.message,
                })
                .collect(),
        ),
        other => other,
    };
    outcome(changed, kind.noun(), &id)
}

/// The answer to a change: the object as now in force, with the secret made for it (once) and
/// what could not be read of its provider.
fn answer(applied: Applied, status: StatusCode, kind: Kind, secret: Option<String>) -> Response {
    let Applied { done, unread } = applied;
    let (Some(stored), Some(config)) = (done.stored, done.config) else {
        return no_content();
    };
    let id = stored.declaration.id.clone();
    let mut extra = serde_json::Map::new();
    if let Some(secret) = secret {
        let key = if kind == Kind::Client {
            "client_secret"
        } else {
            "secret"
        };
        extra.insert(key.into(), json!(secret));
    }
    let warnings: Vec<String> = unread
        .iter()
        .filter(|(unread, error)| error.kind() == kind && *unread == id)
        .map(|(_, error)| error.to_string())
        .collect();
    if !warnings.is_empty() {
        extra.insert("warnings".into(), json!(warnings));
    }
    match views(&config, std::slice::from_ref(&stored), kind)
        .into_iter()
        .find(|(found, _)| *found == id)
    {
        Some((_, view)) => shown(&view, status, Value::Object(extra)),
        None => no_content(),
    }
}
