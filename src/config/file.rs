//! The TOML file as written by an operator, before validation. Every field is optional or a plain
//! string here so that validation can report all problems at once, each with its key path.
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub struct FileConfig {
    #[serde(default)]
    pub server: FileServer,
    #[serde(default)]
    pub database: FileDatabase,
    #[serde(default)]
    pub keys: FileKeys,
    #[serde(default)]
    pub entities: Vec<FileEntity>,
    #[serde(default)]
    pub users: Vec<FileUser>,
    #[serde(default)]
    pub clients: Vec<FileClient>,
    #[serde(default)]
    pub api_credentials: Vec<FileApiCredential>,
    /// Read table by table in `validate/connections.rs`: the keys every kind has as
    /// [`FileConnection`], the rest as its `type` says.
    #[serde(default)]
    pub connections: Vec<toml::Table>,
    #[serde(default)]
    pub products: Vec<FileProduct>,
    #[serde(default)]
    pub webhooks: Vec<FileWebhook>,
    #[serde(default)]
    pub service_providers: Vec<FileServiceProvider>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FileServer {
    pub issuer: Option<String>,
    pub bind: Option<String>,
    pub session_ttl: Option<String>,
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    pub userinfo_cache: Option<String>,
    pub pending_logins_per_minute: Option<i64>,
    pub max_pending_logins: Option<i64>,
    pub token_requests_per_second_per_address: Option<i64>,
    pub token_requests_per_second_per_client: Option<i64>,
    pub admin_requests_per_second_per_credential: Option<i64>,
    pub saml_posts_per_minute_per_address: Option<i64>,
    pub request_timeout: Option<String>,
    pub header_timeout: Option<String>,
    pub legacy_sunset: Option<String>,
    pub metrics_token: Option<String>,
    pub audit_retention: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FileDatabase {
    pub url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct FileKeys {
    pub id_token_alg: Option<String>,
    pub rotate_after: Option<String>,
    pub saml_rotate_after: Option<String>,
    pub saml_publish_before: Option<String>,
    pub encryption_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileEntity {
    pub id: String,
    pub name: String,
    pub level: String,
    pub parent: Option<String>,
    pub branding: Option<FileBranding>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileBranding {
    pub css: Option<String>,
    pub js: Option<String>,
    pub logo: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FileUser {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: Option<String>,
    pub password: Option<String>,
    #[serde(default)]
    pub attached_to: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileClient {
    pub client_id: String,
    pub client_secret: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    pub allowed_scopes: Option<Vec<String>>,
    pub id_token_alg: Option<String>,
    pub require_pkce: Option<bool>,
    pub token_endpoint_auth_method: Option<String>,
    pub backchannel_logout_uri: Option<String>,
    pub backchannel_logout_session_required: Option<bool>,
    pub frontchannel_logout_uri: Option<String>,
    pub frontchannel_logout_session_required: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct FileApiCredential {
    pub username: String,
    pub password_hash: Option<String>,
    pub password: Option<String>,
    pub scopes: Vec<String>,
}

/// What every `[[connections]]` table has, whatever its `type`.
#[derive(Debug, Deserialize)]
pub struct FileConnection {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub entity: Option<String>,
    #[serde(default)]
    pub entity_rules: Vec<FileEntityRule>,
    #[serde(default)]
    pub domains: Vec<String>,
    /// `false` keeps the connection declared but takes no login through it.
    pub enabled: Option<bool>,
}

/// `[[connections.entity_rules]]`: people whose provider says `attribute` has the value `equals`
/// are attached to `entity`.
#[derive(Debug, Deserialize)]
pub struct FileEntityRule {
    pub attribute: String,
    pub equals: String,
    pub entity: String,
}

/// One value or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
pub struct FileClaimMap {
    pub email: Option<String>,
    pub name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub locale: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileProduct {
    pub id: String,
    pub format: String,
    pub login_url: Option<String>,
    #[serde(default)]
    pub allowed_domains: Vec<String>,
    pub preview_domain: Option<String>,
    #[serde(default)]
    pub secrets: Vec<String>,
    pub token_ttl: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct FileWebhook {
    pub url: String,
    pub secret: String,
    pub events: Vec<String>,
    pub max_attempts: Option<i64>,
    pub backoff: Option<String>,
    pub timeout: Option<String>,
}

/// `[[service_providers]]`: a SAML service provider idbridge is the IdP of.
#[derive(Debug, Clone, Deserialize)]
pub struct FileServiceProvider {
    pub id: String,
    pub name: Option<String>,
    /// The SP's metadata file; or `metadata_xml`, the document itself; or `metadata_url` (with
    /// `entity_id`), fetched and refreshed; or the values below.
    pub metadata: Option<String>,
    pub metadata_xml: Option<String>,
    pub metadata_url: Option<String>,
    pub entity_id: Option<String>,
    #[serde(default)]
    pub acs_urls: Vec<String>,
    pub certificate: Option<OneOrMany>,
    pub encryption_certificate: Option<String>,
    /// Its SingleLogoutService (HTTP-Redirect binding), without metadata.
    pub slo_url: Option<String>,
    pub requests_signed: Option<bool>,
    pub name_id_format: Option<String>,
    pub sign: Option<String>,
    pub signature_algorithm: Option<String>,
    pub encrypt_assertions: Option<bool>,
    pub allow_idp_initiated: Option<bool>,
    #[serde(default)]
    pub attributes: Vec<FileReleasedAttribute>,
}

/// `[[service_providers.attributes]]`: an attribute released to the SP.
#[derive(Debug, Clone, Deserialize)]
pub struct FileReleasedAttribute {
    pub name: String,
    pub value: String,
    pub format: Option<String>,
}
