//! Configuration (SPEC section 3): the operator's TOML file plus the environment overrides of
//! section 2, validated once into the typed [`Config`] the server runs on. Validation reports every
//! problem at once, each named by its key path (`clients[1].redirect_uris[0]: not an absolute URL`).
mod declarations;
mod file;
mod hierarchy;
mod load;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

use crate::vocabulary::domains::DomainPattern;
use crate::vocabulary::events::EventType;

pub use declarations::{Declaration, Kind};
pub use hierarchy::{Attachment, Hierarchy};
pub use validate::{api_credential_problems, is_plausible_email, parse_duration};

pub const DEFAULT_ISSUER: &str = "http://127.0.0.1:8080";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_DATABASE_URL: &str = "sqlite://idbridge.db?mode=rwc";

/// Where environment variables come from: the process environment in production, a map in tests.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment, for [`EnvLookup`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerConfig,
    pub database_url: String,
    pub keys: KeysConfig,
    pub entities: Vec<EntityDecl>,
    /// The tree of `entities`, to read `attached_to` from.
    pub hierarchy: Hierarchy,
    pub users: Vec<UserDecl>,
    pub clients: Vec<ClientDecl>,
    pub api_credentials: Vec<ApiCredentialDecl>,
    pub connections: Vec<ConnectionDecl>,
    pub products: Vec<ProductDecl>,
    pub webhooks: Vec<WebhookDecl>,
    /// SAML service providers idbridge is the IdP of.
    pub service_providers: Vec<ServiceProviderDecl>,
    /// The file's own entities, clients, connections and products, before validation: run-time
    /// declarations are validated together with them ([`Config::with_run_time`]).
    in_file: std::sync::Arc<declarations::FileDeclarations>,
}

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Base URL without a trailing slash; discovery's `issuer` exactly. Never taken from a request.
    pub issuer: String,
    pub bind: SocketAddr,
    /// Lifetime of an end-user session at idbridge, in seconds.
    pub session_ttl: i64,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// How long a process may answer userinfo for a token from memory; zero: never.
    pub userinfo_cache: Duration,
    /// Pending logins (authorizations waiting for login or consent, upstream logins) one client
    /// address (IPv6: its /64) may start per minute.
    pub pending_logins_per_minute: u32,
    /// Unexpired pending logins the whole deployment keeps at most.
    pub max_pending_logins: u64,
    /// Requests one client address (IPv6: its /64) may make per second at the endpoints where
    /// clients authenticate (token, introspection, revocation), counted in each process.
    pub token_requests_per_second_per_address: u32,
    /// Requests one authenticated client may make per second at those endpoints, in each process.
    pub token_requests_per_second_per_client: u32,
    /// Admin API requests one API credential may make per second, in each process.
    pub admin_requests_per_second_per_credential: u32,
    /// SAML responses one client address (IPv6: its /64) may post to the ACS per minute, in
    /// each process.
    pub saml_posts_per_minute_per_address: u32,
    /// The longest a request may take from its headers to its answer (a slow body included);
    /// longer ones are answered 408.
    pub request_timeout: Duration,
    /// How long a connection may take to deliver a request's headers, from its opening or from the
    /// previous answer; a connection slower than that (or idle that long) is closed.
    pub header_timeout: Duration,
    /// When the old `/authentication/v1/*` paths go away (Unix seconds, midnight UTC), told
    /// in their `Sunset` header; none announced when `None`.
    pub legacy_sunset: Option<i64>,
    /// The bearer token `GET /metrics` asks for; without one the metrics are not served.
    pub metrics_token: Option<Secret>,
    /// How long the audit trail keeps an event, in seconds; the sweep deletes older ones.
    pub audit_retention: i64,
}

/// When the old `/authentication/v1/*` paths were deprecated (2026-12-03, Unix seconds), told in
/// their `Deprecation` header (RFC 9745); a `server.legacy_sunset` must come after it.
pub const LEGACY_DEPRECATED_AT: i64 = 1_796_256_000;

impl ServerConfig {
    /// Cookies get `Secure` when the issuer is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

#[derive(Debug, Clone)]
pub struct KeysConfig {
    pub id_token_alg: Alg,
    /// Age in seconds after which a new ID-token signing key is made.
    pub rotate_after: i64,
    /// Age in seconds after which a new SAML signing key is made: far longer, since many SPs
    /// keep the certificate they were given until someone replaces it by hand.
    pub saml_rotate_after: i64,
    /// How long, in seconds, a new SAML signing key is listed in the IdP metadata before it
    /// signs, for SPs that read the metadata to take it (and their operators to be told).
    pub saml_publish_before: i64,
    /// AES-256 key that encrypts private keys at rest; `None` (the embedded demo only) stores
    /// them in clear.
    pub encryption_key: Option<EncryptionKey>,
}

impl KeysConfig {
    /// Age in seconds after which a key of `key_use` gets a successor.
    pub fn rotate_after(&self, key_use: KeyUse) -> i64 {
        match key_use {
            KeyUse::IdTokens => self.rotate_after,
            KeyUse::Saml => self.saml_rotate_after,
        }
    }
}

/// What a signing key signs. Each use has keys of its own, rotated on its own schedule: a JWT
/// verifier refreshes JWKS by itself within the hour, while a SAML SP may keep a certificate for
/// years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUse {
    /// ID tokens, logout tokens and the other JWTs idbridge signs (published in JWKS).
    IdTokens,
    /// SAML responses, assertions and logout messages (listed in the IdP metadata).
    Saml,
}

impl KeyUse {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUse::IdTokens => "id_tokens",
            KeyUse::Saml => "saml",
        }
    }

    pub fn parse(value: &str) -> Option<KeyUse> {
        [KeyUse::IdTokens, KeyUse::Saml]
            .into_iter()
            .find(|key_use| key_use.as_str() == value)
    }
}

/// JWS algorithms idbridge signs with. `HS256` is only valid per client (keyed by its secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    RS256,
    ES256,
    EdDSA,
    HS256,
}

impl Alg {
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
            Alg::HS256 => "HS256",
        }
    }

    pub fn parse(value: &str) -> Option<Alg> {
        [Alg::RS256, Alg::ES256, Alg::EdDSA, Alg::HS256]
            .into_iter()
            .find(|alg| alg.as_str() == value)
    }
}

/// Position of an entity in the PSP / DIVISION / MERCHANT hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Psp,
    Division,
    Merchant,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Psp => "PSP",
            Level::Division => "DIVISION",
            Level::Merchant => "MERCHANT",
        }
    }

    pub fn parse(value: &str) -> Option<Level> {
        [Level::Psp, Level::Division, Level::Merchant]
            .into_iter()
            .find(|level| level.as_str() == value)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityDecl {
    pub id: String,
    pub name: String,
    pub level: Level,
    pub parent: Option<String>,
    pub branding: Option<Branding>,
}

/// How the login page looks when `login_hint` names an entity (SPEC section 4). The files are read
/// when the config is loaded, so every process serves the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Branding {
    pub css: Option<Asset>,
    pub js: Option<Asset>,
    pub logo: Option<Asset>,
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub bytes: std::sync::Arc<[u8]>,
    pub content_type: &'static str,
}

#[derive(Debug, Clone)]
pub enum PasswordDecl {
    /// An argon2id PHC string, stored as given.
    Hash(String),
    /// A clear password (literal or `env:`), hashed at start.
    Plain(Secret),
}

#[derive(Debug, Clone)]
pub struct UserDecl {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password: PasswordDecl,
    pub attached_to: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    None,
}

impl TokenAuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenAuthMethod::ClientSecretBasic => "client_secret_basic",
            TokenAuthMethod::ClientSecretPost => "client_secret_post",
            TokenAuthMethod::None => "none",
        }
    }

    pub fn parse(value: &str) -> Option<TokenAuthMethod> {
        [
            TokenAuthMethod::ClientSecretBasic,
            TokenAuthMethod::ClientSecretPost,
            TokenAuthMethod::None,
        ]
        .into_iter()
        .find(|method| method.as_str() == value)
    }
}

#[derive(Debug, Clone)]
pub struct ClientDecl {
    pub client_id: String,
    /// `None` for a public client, which must use PKCE.
    pub secret: Option<Secret>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub id_token_alg: Alg,
    pub require_pkce: bool,
    pub token_endpoint_auth_method: TokenAuthMethod,
    /// Where the client is told, server to server, that a session it got tokens in has ended
    /// (OpenID Connect Back-Channel Logout).
    pub backchannel_logout: Option<LogoutChannel>,
    /// The page the browser loads in a frame when it signs out of a session the client got
    /// tokens in (OpenID Connect Front-Channel Logout).
    pub frontchannel_logout: Option<LogoutChannel>,
}

/// Where a client hears of a sign-out, by back or front channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutChannel {
    pub uri: String,
    /// The client needs `iss` and `sid`: always in a logout token, as query parameters of the
    /// front-channel page only when asked.
    pub session_required: bool,
}

#[derive(Debug, Clone)]
pub struct ApiCredentialDecl {
    pub username: String,
    pub password: PasswordDecl,
    pub scopes: Vec<String>,
}

/// An upstream identity provider that people sign in at (SPEC sections 5 and 6).
#[derive(Debug, Clone)]
pub struct ConnectionDecl {
    /// Appears in paths: `/oidc/{id}/callback`.
    pub id: String,
    /// Shown on the login page.
    pub name: String,
    /// The entity its users are attached to when no entity rule matches; `None`: such a login
    /// is refused.
    pub entity: Option<String>,
    /// Attach its users by what their provider says of them: every rule that matches adds its
    /// entity.
    pub entity_rules: Vec<EntityRule>,
    /// Lowercase email domains whose users sign in here.
    pub domains: Vec<String>,
    pub protocol: ConnectionProtocol,
    /// A disabled connection stays declared (its users and their attachments stay) but takes no
    /// login: it is not on the login page and its endpoints answer as for an unknown one.
    pub enabled: bool,
}

/// People whose provider gives `attribute` (a SAML attribute's Name or FriendlyName, an OIDC
/// claim) the value `equals` (one of its values, for a multi-valued attribute or an array claim
/// such as `groups`) are attached to `entity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityRule {
    pub attribute: String,
    pub equals: String,
    pub entity: String,
}

/// Where a connection's provider puts the parts of a person's profile beyond email and name
/// (attribute or claim names); `None`: the provider does not give that part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileNames {
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub locale: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ConnectionProtocol {
    Oidc(OidcConnectionDecl),
    Saml(SamlConnectionDecl),
}

/// The most a connection's `max_response_bytes` may be; the ACS route reads a body large enough
/// for a response of this size however it is encoded.
pub const MAX_SAML_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone)]
pub struct SamlConnectionDecl {
    pub idp: IdpSource,
    /// Our entity ID at the IdP, and the Audience its assertions must name.
    pub sp_entity_id: String,
    pub allow_idp_initiated: bool,
    /// The attribute holding the email address; `None`: the NameID is the address.
    pub email_attribute: Option<String>,
    /// The attribute holding the display name; `None`: the email address.
    pub name_attribute: Option<String>,
    /// The attributes holding the rest of the profile.
    pub profile_attributes: ProfileNames,
    /// Tolerated clock difference with the IdP, in seconds.
    pub clock_skew: i64,
    /// The largest SAMLResponse (base64) accepted; at most [`MAX_SAML_RESPONSE_BYTES`].
    pub max_response_bytes: usize,
    /// Our key and certificate, when AuthnRequests are signed.
    pub sp_signing: Option<SpSigning>,
    /// Our keys that decrypt encrypted assertions, the current one first (the previous one
    /// after it during a rollover); empty: assertions are taken in clear only.
    pub sp_encryption: Vec<SpSigning>,
    /// Plain assertions are refused (only with `sp_encryption`).
    pub require_encrypted_assertions: bool,
}

/// Where a SAML IdP's description comes from.
#[derive(Debug, Clone)]
pub enum IdpSource {
    /// From the config: inline keys, or a metadata file read at load.
    Declared(IdpDescriptor),
    /// Metadata fetched from this URL at start and refreshed while running.
    MetadataUrl(String),
}

/// What idbridge needs to know of a SAML IdP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpDescriptor {
    pub entity_id: String,
    /// Where AuthnRequests go (HTTP-Redirect binding).
    pub sso_url: String,
    /// Its SingleLogoutService for the HTTP-Redirect binding, if it has one.
    pub slo: Option<LogoutService>,
    /// DER of every certificate the IdP signs with (several during a rollover). Never empty.
    pub certificates: Vec<Vec<u8>>,
}

/// Where an IdP takes logout messages (HTTP-Redirect binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutService {
    /// Where LogoutRequests go.
    pub location: String,
    /// Where LogoutResponses go, when not to `location`.
    pub response_location: Option<String>,
}

impl IdpDescriptor {
    /// The IdP described by SAML metadata, or what the metadata lacks.
    pub fn from_metadata(xml: &str) -> Result<IdpDescriptor, Vec<&'static str>> {
        use samael::metadata::{EntityDescriptor, HTTP_REDIRECT_BINDING};
        let metadata: EntityDescriptor = xml
            .parse()
            .map_err(|_| vec!["not SAML metadata (an EntityDescriptor)"])?;
        let descriptors = metadata.idp_sso_descriptors.unwrap_or_default();
        let sso_url = descriptors
            .iter()
            .flat_map(|d| &d.single_sign_on_services)
            .find(|service| service.binding == HTTP_REDIRECT_BINDING)
            .map(|service| service.location.clone());
        let slo = descriptors
            .iter()
            .flat_map(|d| &d.single_logout_services)
            .find(|service| service.binding == HTTP_REDIRECT_BINDING)
            .map(|service| LogoutService {
                location: service.location.clone(),
                response_location: service.response_location.clone(),
            });
        // Keys for signing, or for no stated use (which includes signing).
        let certificates: Vec<Vec<u8>> = descriptors
            .iter()
            .flat_map(|d| &d.key_descriptors)
            .filter(|k| {
                k.key_use
                    .as_deref()
                    .is_none_or(|u| u.is_empty() || u == "signing")
            })
            .filter_map(|k| k.key_info.x509_data.as_ref())
            .flat_map(|x509| &x509.certificates)
            .filter_map(|cert| certificate_der(cert))
            .collect();
        let mut lacks = Vec::new();
        if metadata.entity_id.is_none() {
            lacks.push("has no entityID");
        }
        if sso_url.is_none() {
            lacks.push("has no SingleSignOnService with the HTTP-Redirect binding");
        }
        if certificates.is_empty() {
            lacks.push("has no signing certificate, so no response could be verified");
        }
        match (metadata.entity_id, sso_url) {
            (Some(entity_id), Some(sso_url)) if lacks.is_empty() => Ok(IdpDescriptor {
                entity_id,
                sso_url,
                slo,
                certificates,
            }),
            _ => Err(lacks),
        }
    }
}

/// DER of a certificate given as PEM or as bare base64 (as metadata carries it), if it is one.
pub fn certificate_der(value: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let body: String = value
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .flat_map(|line| line.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    openssl::x509::X509::from_der(&der).ok()?;
    Some(der)
}

/// A key pair of our own at a SAML IdP: the key that signs the connection's AuthnRequests, or one
/// that decrypts its assertions; and its certificate, which our metadata publishes.
#[derive(Debug, Clone)]
pub struct SpSigning {
    /// PEM, checked at load to be a private key whose public half is the certificate's.
    pub private_key_pem: Secret,
    /// DER.
    pub certificate: Vec<u8>,
}

/// A SAML service provider idbridge is the IdP of (`[[service_providers]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceProviderDecl {
    pub id: String,
    /// Shown to the person on the consent page.
    pub name: String,
    pub entity_id: String,
    /// Where its metadata is fetched from (at start, then hourly). Until it is read, the
    /// declaration knows no ACS and no certificate, and takes no request; what was read is this
    /// declaration described by it ([`ServiceProviderDecl::described_by`]).
    pub metadata_url: Option<String>,
    /// Where responses may be posted (HTTP-POST binding), each matched exactly; the first is
    /// the default, used when a request names none.
    pub acs_urls: Vec<AcsUrl>,
    /// DER of the certificates the SP signs its requests with (several during a rollover).
    pub signing_certificates: Vec<Vec<u8>>,
    /// DER of the certificate assertions are encrypted to.
    pub encryption_certificate: Option<Vec<u8>>,
    /// Its SingleLogoutService (HTTP-Redirect binding), if it takes part in single logout.
    pub slo: Option<LogoutService>,
    /// An AuthnRequest without a valid signature is refused.
    pub requests_signed: bool,
    pub name_id_format: NameIdFormat,
    pub attributes: Vec<ReleasedAttribute>,
    pub sign_assertion: bool,
    pub sign_response: bool,
    /// RS256 for RSA-SHA256, ES256 for ECDSA-SHA256: the ID-token key ring's key of that
    /// algorithm signs.
    pub signature_alg: Alg,
    pub encrypt_assertions: bool,
    /// `/saml/idp/sso/{id}` sends a signed-in person to the SP unasked (off unless declared:
    /// any site can link there).
    pub allow_idp_initiated: bool,
}

/// An SP's AssertionConsumerService: its `index` (its position in the config, or the metadata's
/// `index`) and URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcsUrl {
    pub index: usize,
    pub url: String,
}

/// How a person is named to a service provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameIdFormat {
    /// Their email address.
    Email,
    /// An opaque value, the same at every login, different for every SP.
    Persistent,
    /// A new random value at every login.
    Transient,
}

impl NameIdFormat {
    pub const ALL: [NameIdFormat; 3] = [
        NameIdFormat::Email,
        NameIdFormat::Persistent,
        NameIdFormat::Transient,
    ];

    pub fn uri(self) -> &'static str {
        match self {
            NameIdFormat::Email => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            NameIdFormat::Persistent => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
            NameIdFormat::Transient => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        }
    }
}

/// An attribute a service provider is given: its name and NameFormat, and what of the person it
/// carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedAttribute {
    pub name: String,
    pub name_format: &'static str,
    pub value: PersonValue,
}

/// What of a person an attribute carries. `attached_to` values have one value per entity the
/// person is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersonValue {
    Email,
    Name,
    GivenName,
    FamilyName,
    AttachedToPath,
    AttachedToLevel,
    AttachedToEntityId,
}

impl PersonValue {
    pub const ALL: [(&'static str, PersonValue); 7] = [
        ("email", PersonValue::Email),
        ("name", PersonValue::Name),
        ("given_name", PersonValue::GivenName),
        ("family_name", PersonValue::FamilyName),
        ("attached_to.path", PersonValue::AttachedToPath),
        ("attached_to.level", PersonValue::AttachedToLevel),
        ("attached_to.entityId", PersonValue::AttachedToEntityId),
    ];

    /// Personal data beyond the address, which needs the person's consent as OpenID Connect's
    /// `profile` scope does.
    pub fn is_profile(self) -> bool {
        !matches!(self, PersonValue::Email)
    }
}

#[derive(Debug, Clone)]
pub struct OidcConnectionDecl {
    /// Exactly as the provider's discovery document states it.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub scopes: Vec<String>,
    /// Which upstream claim holds the email address, and which the display name.
    pub email_claim: String,
    pub name_claim: String,
    /// Which claims hold the rest of the profile.
    pub profile_claims: ProfileNames,
    /// The provider owns the connection's `domains`: an address it gives in them is taken
    /// without `email_verified = true`. Only with `domains`.
    pub email_authoritative: bool,
    /// How long any one call to the provider may take, in seconds.
    pub timeout: u64,
}

/// How a product takes its SSO JWT (SPEC section 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProductFormat {
    /// To `login_url` (an absolute URL containing `{hub_domain}`) with `?jwt=&return_to=`;
    /// claims `aud` and `user{...}`.
    Hub { login_url: String },
    /// To `https://{domain}/sso?identifier=&strategy=email&token=`; claim `sub` = `email:domain`.
    Workspace,
}

/// A downstream product that takes an HS256 SSO JWT (SPEC section 7).
#[derive(Debug, Clone)]
pub struct ProductDecl {
    pub id: String,
    pub format: ProductFormat,
    pub allowed_domains: Vec<DomainPattern>,
    /// A host accepted besides `allowed_domains` (a hub's staging copy).
    pub preview_domain: Option<String>,
    /// Never empty; the first signs, the others are only kept while products move to it.
    pub secrets: Vec<Secret>,
    /// Lifetime of a token in seconds.
    pub token_ttl: i64,
}

impl ProductDecl {
    /// The key every new token is signed with.
    pub fn signing_secret(&self) -> &Secret {
        &self.secrets[0]
    }
}

/// A receiver of notifications (SPEC section 8).
#[derive(Debug, Clone)]
pub struct WebhookDecl {
    /// Absolute `https` URL (`http` only on loopback hosts); unique, so it names the webhook.
    pub url: String,
    /// HMAC-SHA256 key of the `X-Idbridge-Signature` header; at least 32 bytes.
    pub secret: Secret,
    /// The events it is sent; never empty.
    pub events: Vec<EventType>,
    /// Attempts before a notification is given up, the first included.
    pub max_attempts: u32,
    /// Seconds to wait after the first failed attempt; doubled after each further one.
    pub backoff: i64,
    /// How long one attempt may take, in seconds.
    pub timeout: u64,
}

impl WebhookDecl {
    /// What outbox rows name the webhook by: the hex SHA-256 of its URL, so that the URL (which may
    /// carry a token of the receiver's) is not copied into the database.
    pub fn key(&self) -> String {
        crate::crypto::sha256_hex(&self.url)
    }

    pub fn wants(&self, event: EventType) -> bool {
        self.events.contains(&event)
    }
}

/// Scopes a downstream client may be allowed (SPEC section 4).
pub const KNOWN_SCOPES: &[&str] = &["openid", "profile", "email", "address", "offline_access"];
/// Scopes an API credential may hold (SPEC section 7).
pub const API_SCOPES: &[&str] = &["session_urls", "sso_urls", ADMIN_READ, ADMIN_WRITE];

/// The admin API's scopes: reading (`GET`), and changing.
pub const ADMIN_READ: &str = "admin:read";
pub const ADMIN_WRITE: &str = "admin:write";

/// A secret from the config. Its `Debug` never shows the value, so it cannot leak into a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The 256-bit key that encrypts private signing keys at rest.
#[derive(Clone)]
pub struct EncryptionKey(pub [u8; 32]);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey(..)")
    }
}

/// One thing wrong with a config, named by its key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub path: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config is not valid TOML: {0}")]
    Syntax(String),
    #[error("{}", problems_text(.0))]
    Invalid(Vec<Problem>),
}

fn problems_text(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(Problem::to_string).collect();
    format!(
        "config has {} problem(s):\n  {}",
        problems.len(),
        lines.join("\n  ")
    )
}

impl ConfigError {
    /// The problems found, for callers (and tests) that look at them one by one.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Invalid(problems) => problems,
            _ => &[],
        }
    }
}

impl Config {
    /// The asymmetric algorithms ID tokens are signed with: the default, and any a client picks.
    pub fn signing_algs(&self) -> Vec<Alg> {
        let mut algs = vec![self.keys.id_token_alg];
        for alg in self.clients.iter().map(|client| client.id_token_alg) {
            if alg != Alg::HS256 && !algs.contains(&alg) {
                algs.push(alg);
            }
        }
        algs
    }

    /// The keys the key ring must hold: one of each ID-token algorithm, and one of each
    /// algorithm SAML service providers are answered with.
    pub fn signing_keys(&self) -> Vec<(KeyUse, Alg)> {
        let mut keys: Vec<(KeyUse, Alg)> = self
            .signing_algs()
            .into_iter()
            .map(|alg| (KeyUse::IdTokens, alg))
            .collect();
        for alg in self.service_providers.iter().map(|sp| sp.signature_alg) {
            if !keys.contains(&(KeyUse::Saml, alg)) {
                keys.push((KeyUse::Saml, alg));
            }
        }
        keys
    }
}
