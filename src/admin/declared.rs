//! `/admin/v1/clients`, `/entities`, `/connections`, `/products`: what the config file declares
//! of them, shown (never a secret) with `"managed_by": "config"`. Only the file changes them
//! today; run-time ones through the API are to come (docs/admin.md).
use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use super::{AdminError, Reader};
use crate::config::{ClientDecl, ConnectionProtocol, ProductFormat};
use crate::state::AppState;
use crate::store::MANAGED_BY_CONFIG;

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
    managed_by: &'static str,
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
            managed_by: MANAGED_BY_CONFIG,
        }
    }
}

/// Every OpenID Connect client, in the order the file declares them.
#[utoipa::path(
    get, path = "/admin/v1/clients", tag = "declared",
    responses((status = 200, body = Vec<ClientView>)),
    security(("basic" = ["admin:read"]))
)]
pub async fn clients(_: Reader, State(state): State<AppState>) -> Json<Vec<ClientView>> {
    Json(state.config.clients.iter().map(ClientView::from).collect())
}

/// One OpenID Connect client.
#[utoipa::path(
    get, path = "/admin/v1/clients/{client_id}", tag = "declared",
    params(("client_id" = String, Path, description = "the client's id")),
    responses(
        (status = 200, body = ClientView),
        (status = 404, description = "no such client"),
    ),
    security(("basic" = ["admin:read"]))
)]
pub async fn client(
    _: Reader,
    State(state): State<AppState>,
    Path(client_id): Path<String>,
) -> Result<Json<ClientView>, AdminError> {
    let client = state
        .config
        .clients
        .iter()
        .find(|c| c.client_id == client_id);
    client
        .map(|client| Json(ClientView::from(client)))
        .ok_or(AdminError::NotFound {
            resource: "client",
            id: client_id,
        })
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
    managed_by: &'static str,
}

/// Every entity, in the order the file declares them.
#[utoipa::path(
    get, path = "/admin/v1/entities", tag = "declared",
    responses((status = 200, body = Vec<EntityView>)),
    security(("basic" = ["admin:read"]))
)]
pub async fn entities(_: Reader, State(state): State<AppState>) -> Json<Vec<EntityView>> {
    let entities = state.config.entities.iter().map(|entity| EntityView {
        id: entity.id.clone(),
        name: entity.name.clone(),
        level: entity.level.as_str(),
        parent: entity.parent.clone(),
        managed_by: MANAGED_BY_CONFIG,
    });
    Json(entities.collect())
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
    managed_by: &'static str,
}

/// Every upstream connection, in the order the file declares them.
#[utoipa::path(
    get, path = "/admin/v1/connections", tag = "declared",
    responses((status = 200, body = Vec<ConnectionView>)),
    security(("basic" = ["admin:read"]))
)]
pub async fn connections(_: Reader, State(state): State<AppState>) -> Json<Vec<ConnectionView>> {
    let connections = state.config.connections.iter().map(|c| ConnectionView {
        id: c.id.clone(),
        kind: match c.protocol {
            ConnectionProtocol::Oidc(_) => "oidc",
            ConnectionProtocol::Saml(_) => "saml",
        },
        name: c.name.clone(),
        entity: c.entity.clone(),
        domains: c.domains.clone(),
        managed_by: MANAGED_BY_CONFIG,
    });
    Json(connections.collect())
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
    managed_by: &'static str,
}

/// Every product, in the order the file declares them.
#[utoipa::path(
    get, path = "/admin/v1/products", tag = "declared",
    responses((status = 200, body = Vec<ProductView>)),
    security(("basic" = ["admin:read"]))
)]
pub async fn products(_: Reader, State(state): State<AppState>) -> Json<Vec<ProductView>> {
    let products = state.config.products.iter().map(|product| ProductView {
        id: product.id.clone(),
        format: match product.format {
            ProductFormat::Hub { .. } => "hub",
            ProductFormat::Workspace => "workspace",
        },
        secrets: product.secrets.len(),
        token_ttl: product.token_ttl,
        managed_by: MANAGED_BY_CONFIG,
    });
    Json(products.collect())
}
