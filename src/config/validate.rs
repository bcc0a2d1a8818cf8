//! Turns a [`FileConfig`] into a [`Config`], collecting every problem with its key path.
mod connections;
mod webhooks;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use base64::Engine;
use ipnet::IpNet;
use url::Url;

use super::file::{FileApiCredential, FileClient, FileConfig, FileEntity, FileProduct, FileUser};
use super::*;
use crate::vocabulary::domains::{self, DomainPattern};

/// Minimum length of a client secret given in the config: 32 characters, about what
/// `openssl rand -base64 32` prints, so that a secret is never guessable.
const MIN_CLIENT_SECRET_LEN: usize = 32;

/// Minimum length of an HMAC-SHA256 key (a product's HS256 secret, a webhook's secret): 32 bytes,
/// the output size of SHA-256 (RFC 2104 section 3; RFC 7518 section 3.2 requires it for HS256).
const MIN_HMAC_SECRET_LEN: usize = 32;

/// Default lifetime of a product SSO JWT: long enough for a redirect, short against replay.
const DEFAULT_PRODUCT_TOKEN_TTL: i64 = 5 * 60;

/// Pending logins one address may start per minute: a person needs two (the authorization and
/// the upstream login), an office behind one NAT address many more.
const DEFAULT_PENDING_LOGINS_PER_MINUTE: i64 = 60;

/// Unexpired pending logins kept at most: far above any real load (each lives 10 minutes), and a
/// few tens of megabytes of rows.
const DEFAULT_MAX_PENDING_LOGINS: i64 = 100_000;

/// Parses TOML text. Unknown keys do not stop it: they come back as problems beside the file,
/// for [`validate`] to report together with its own. A type error does stop it (serde cannot go
/// on past one), and is reported with the unknown keys seen up to there.
pub(super) fn parse(text: &str) -> Result<(FileConfig, Vec<Problem>), ConfigError> {
    let deserializer =
        toml::Deserializer::parse(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
    let mut unknown = Vec::new();
    let mut on_unknown = |path: serde_ignored::Path| unknown.push(key_path(&path));
    let tracked = serde_ignored::Deserializer::new(deserializer, &mut on_unknown);
    let parsed: Result<FileConfig, _> = serde_path_to_error::deserialize(tracked);
    let mut problems: Vec<Problem> = unknown
        .into_iter()
        .map(|path| Problem {
            path,
            message: "unknown key".into(),
        })
        .collect();
    match parsed {
        Ok(file) => Ok((file, problems)),
        Err(error) => {
            problems.push(Problem {
                path: error.path().to_string(),
                message: first_line(&error.inner().to_string()),
            });
            Err(ConfigError::Invalid(problems))
        }
    }
}

/// toml's messages carry a source excerpt after the first line; the key path says enough.
fn first_line(message: &str) -> String {
    message
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty() && !line.contains('|'))
        .unwrap_or(message)
        .trim()
        .to_string()
}

/// `clients[1].redirect_uris[0]`, the same notation serde_path_to_error uses.
fn key_path(path: &serde_ignored::Path) -> String {
    use serde_ignored::Path as P;
    match path {
        P::Root => String::new(),
        P::Seq { parent, index } => format!("{}[{index}]", key_path(parent)),
        P::Map { parent, key } => {
            let parent = key_path(parent);
            if parent.is_empty() {
                key.clone()
            } else {
                format!("{parent}.{key}")
            }
        }
        P::Some { parent } | P::NewtypeStruct { parent } | P::NewtypeVariant { parent } => {
            key_path(parent)
        }
    }
}

struct Checker<'a> {
    env: EnvLookup<'a>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn problem(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            message: message.into(),
        });
    }

    /// A value that may be `env:NAME`, read from the environment.
    fn secret(&mut self, path: &str, value: &str) -> Option<Secret> {
        let Some(name) = value.strip_prefix("env:") else {
            return Some(Secret::new(value));
        };
        match (self.env)(name) {
            Some(resolved) if !resolved.is_empty() => Some(Secret::new(resolved)),
            Some(_) => {
                self.problem(path, format!("environment variable {name} is empty"));
                None
            }
            None => {
                self.problem(path, format!("environment variable {name} is not set"));
                None
            }
        }
    }

    /// A secret used as an HMAC key (a product's JWTs, a webhook's signatures): at least
    /// [`MIN_HMAC_SECRET_LEN`] bytes, else a problem and `None`.
    fn hmac_secret(&mut self, path: &str, value: &str) -> Option<Secret> {
        let secret = self.secret(path, value)?;
        if secret.expose().len() < MIN_HMAC_SECRET_LEN {
            self.problem(
                path,
                format!(
                    "shorter than {MIN_HMAC_SECRET_LEN} bytes (make one with `openssl rand -base64 32`)"
                ),
            );
            return None;
        }
        Some(secret)
    }

    /// A setting the environment may override: the value and the name to report problems under.
    fn overridable(
        &self,
        var: &str,
        key: &str,
        file_value: Option<String>,
    ) -> (Option<String>, String) {
        match (self.env)(var) {
            Some(value) => (Some(value), format!("{key} (from {var})")),
            None => (file_value, key.to_string()),
        }
    }

    fn duration(&mut self, path: &str, value: Option<&str>, default: i64) -> i64 {
        match value.map(parse_duration) {
            None => default,
            Some(Some(seconds)) => seconds,
            Some(None) => {
                self.problem(path, "not a duration (examples: 30s, 5m, 8h, 90d)");
                default
            }
        }
    }

    /// A whole number from 1 to `max`, or `default` when absent.
    fn count(&mut self, path: &str, value: Option<i64>, default: i64, max: i64) -> i64 {
        match value {
            None => default,
            Some(n) if (1..=max).contains(&n) => n,
            Some(_) => {
                self.problem(path, format!("must be from 1 to {max}"));
                default
            }
        }
    }

    fn password(
        &mut self,
        path: &str,
        hash: Option<&str>,
        plain: Option<&str>,
    ) -> Option<PasswordDecl> {
        match (hash, plain) {
            (Some(hash), None) => {
                if crate::password::is_argon2id_phc(hash) {
                    Some(PasswordDecl::Hash(hash.to_string()))
                } else {
                    self.problem(
                        format!("{path}.password_hash"),
                        "not an argon2id PHC string (make one with `idbridge hash-password`)",
                    );
                    None
                }
            }
            (None, Some(plain)) => self
                .secret(&format!("{path}.password"), plain)
                .map(PasswordDecl::Plain),
            (Some(_), Some(_)) => {
                self.problem(path, "give either password_hash or password, not both");
                None
            }
            (None, None) => {
                self.problem(path, "password_hash or password is required");
                None
            }
        }
    }
}

/// Checks every rule; `problems` are those found before (unknown keys), reported first.
pub(super) fn validate(
    file: FileConfig,
    problems: Vec<Problem>,
    env: EnvLookup,
    base_dir: &std::path::Path,
    origin: Origin,
) -> Result<Config, ConfigError> {
    let mut check = Checker { env, problems };

    let (issuer, issuer_key) =
        check.overridable("IDBRIDGE_ISSUER", "server.issuer", file.server.issuer);
    let issuer = issuer.unwrap_or_else(|| DEFAULT_ISSUER.to_string());
    let issuer = match check_issuer(&issuer) {
        Ok(issuer) => issuer,
        Err(message) => {
            check.problem(issuer_key, message);
            DEFAULT_ISSUER.to_string()
        }
    };
    let issuer_is_https = issuer.starts_with("https://");

    let (bind, bind_key) = check.overridable("IDBRIDGE_BIND", "server.bind", file.server.bind);
    let bind = bind.unwrap_or_else(|| DEFAULT_BIND.to_string());
    let bind = bind.parse::<SocketAddr>().unwrap_or_else(|_| {
        check.problem(bind_key, "not a socket address (example: 0.0.0.0:8080)");
        DEFAULT_BIND.parse().expect("default bind address")
    });

    let session_ttl = check.duration(
        "server.session_ttl",
        file.server.session_ttl.as_deref(),
        8 * 3600,
    );
    let userinfo_cache = check_userinfo_cache(&mut check, file.server.userinfo_cache.as_deref());
    let pending_logins_per_minute = check.count(
        "server.pending_logins_per_minute",
        file.server.pending_logins_per_minute,
        DEFAULT_PENDING_LOGINS_PER_MINUTE,
        100_000,
    ) as u32;
    let max_pending_logins = check.count(
        "server.max_pending_logins",
        file.server.max_pending_logins,
        DEFAULT_MAX_PENDING_LOGINS,
        100_000_000,
    ) as u64;
    let trusted_proxies = file
        .server
        .trusted_proxies
        .iter()
        .enumerate()
        .filter_map(|(i, value)| {
            let net = value
                .parse::<IpNet>()
                .ok()
                .or_else(|| value.parse::<IpAddr>().ok().map(IpNet::from));
            if net.is_none() {
                check.problem(
                    format!("server.trusted_proxies[{i}]"),
                    "not an IP address or CIDR range",
                );
            }
            net
        })
        .collect();

    let (database_url, database_key) =
        check.overridable("IDBRIDGE_DATABASE_URL", "database.url", file.database.url);
    let database_url = database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string());
    if !["sqlite:", "postgres://", "postgresql://"]
        .iter()
        .any(|prefix| database_url.starts_with(prefix))
    {
        check.problem(
            database_key,
            "must start with sqlite: or postgres:// (example: sqlite://idbridge.db?mode=rwc)",
        );
    }

    let id_token_alg = match file.keys.id_token_alg.as_deref() {
        None => Alg::RS256,
        Some(value) => match Alg::parse(value) {
            Some(alg) if alg != Alg::HS256 => alg,
            _ => {
                check.problem(
                    "keys.id_token_alg",
                    "must be RS256, ES256 or EdDSA (HS256 is set per client)",
                );
                Alg::RS256
            }
        },
    };
    let rotate_after = check.duration(
        "keys.rotate_after",
        file.keys.rotate_after.as_deref(),
        90 * 86400,
    );
    if file.keys.encryption_key.is_none() && origin == Origin::Operator {
        check.problem(
            "keys.encryption_key",
            "required: private signing keys are stored encrypted with it \
             (make one with `openssl rand -base64 32`; only the embedded demo runs without one)",
        );
    }
    let encryption_key = file.keys.encryption_key.as_deref().and_then(|value| {
        let secret = check.secret("keys.encryption_key", value)?;
        let decoded = base64::engine::general_purpose::STANDARD.decode(secret.expose().trim());
        match decoded
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        {
            Some(key) => Some(EncryptionKey(key)),
            None => {
                check.problem(
                    "keys.encryption_key",
                    "must be 32 bytes in base64 (make one with `openssl rand -base64 32`)",
                );
                None
            }
        }
    });

    let entities = check_entities(&mut check, &file.entities, base_dir);
    let entity_ids: HashSet<&str> = file.entities.iter().map(|e| e.id.as_str()).collect();
    let users = check_users(&mut check, &file.users, &entity_ids);
    let clients = check_clients(&mut check, &file.clients, id_token_alg, issuer_is_https);
    let api_credentials = check_api_credentials(&mut check, &file.api_credentials);
    let connections = connections::check_connections(
        &mut check,
        &file.connections,
        &entity_ids,
        &issuer,
        base_dir,
    );
    let products = check_products(&mut check, &file.products, issuer_is_https);
    let webhooks = webhooks::check_webhooks(&mut check, &file.webhooks);

    if !check.problems.is_empty() {
        return Err(ConfigError::Invalid(check.problems));
    }
    Ok(Config {
        server: ServerConfig {
            issuer,
            bind,
            session_ttl,
            trusted_proxies,
            userinfo_cache,
            pending_logins_per_minute,
            max_pending_logins,
        },
        database_url,
        keys: KeysConfig {
            id_token_alg,
            rotate_after,
            encryption_key,
        },
        entities,
        users,
        clients,
        api_credentials,
        connections,
        products,
        webhooks,
    })
}

/// `30s`, `5m`, `8h`, `90d` as seconds.
pub fn parse_duration(value: &str) -> Option<i64> {
    let value = value.trim();
    let split = value.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = value.split_at(split);
    let number: i64 = number.parse().ok()?;
    let unit_seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => return None,
    };
    number.checked_mul(unit_seconds).filter(|s| *s > 0)
}

/// `server.userinfo_cache`: `"0s"` turns it off; above a minute, a token revoked by another
/// process would keep working too long.
fn check_userinfo_cache(check: &mut Checker, value: Option<&str>) -> Duration {
    const PATH: &str = "server.userinfo_cache";
    const MAX_SECONDS: i64 = 60;
    if value == Some("0s") {
        return Duration::ZERO;
    }
    let seconds = check.duration(PATH, value, 1);
    if seconds > MAX_SECONDS {
        check.problem(
            PATH,
            "at most 60s: a token revoked by another process is answered for this long",
        );
    }
    Duration::from_secs(seconds.clamp(0, MAX_SECONDS) as u64)
}

fn check_issuer(value: &str) -> Result<String, &'static str> {
    let url = Url::parse(value).map_err(|_| "not an absolute URL")?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http or https URL with a host");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// A redirect target a client registers: absolute, no fragment, https unless it points at the
/// machine itself or the whole deployment runs on plain http (a development setup).
fn check_redirect_uri(value: &str, issuer_is_https: bool) -> Result<(), &'static str> {
    let url = parse_target_url(value)?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if !issuer_is_https || is_loopback(&url) => Ok(()),
        "http" => Err("must use https (plain http is allowed only for loopback hosts)"),
        _ => Err("must be an http or https URL"),
    }
}

/// An absolute URL that idbridge sends people or data to: no fragment, no user information.
fn parse_target_url(value: &str) -> Result<Url, &'static str> {
    let url = Url::parse(value).map_err(|_| "not an absolute URL")?;
    if url.fragment().is_some() {
        return Err("must not have a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry user information");
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn check_unique<'a>(
    check: &mut Checker,
    seen: &mut HashSet<String>,
    path: String,
    id: &'a str,
) -> Option<&'a str> {
    if id.trim().is_empty() {
        check.problem(path, "must not be empty");
        None
    } else if !seen.insert(id.to_lowercase()) {
        check.problem(path, format!("duplicate id {id:?}"));
        None
    } else {
        Some(id)
    }
}

fn check_entities(
    check: &mut Checker,
    entities: &[FileEntity],
    base_dir: &std::path::Path,
) -> Vec<EntityDecl> {
    let mut seen = HashSet::new();
    let by_id: HashMap<&str, &FileEntity> = entities.iter().map(|e| (e.id.as_str(), e)).collect();
    let mut declared = Vec::new();
    for (i, entity) in entities.iter().enumerate() {
        let path = format!("entities[{i}]");
        check_unique(check, &mut seen, format!("{path}.id"), &entity.id);
        if entity.name.trim().is_empty() || entity.name.contains('/') {
            check.problem(
                format!("{path}.name"),
                "must not be empty or contain '/' (names form attached_to paths)",
            );
        }
        let Some(level) = Level::parse(&entity.level) else {
            check.problem(format!("{path}.level"), "must be PSP, DIVISION or MERCHANT");
            continue;
        };
        let parent_level = match entity.parent.as_deref() {
            None => None,
            Some(parent) => match by_id.get(parent) {
                Some(parent) => Level::parse(&parent.level),
                None => {
                    check.problem(
                        format!("{path}.parent"),
                        format!("unknown entity {parent:?}"),
                    );
                    continue;
                }
            },
        };
        let order_problem = match (level, entity.parent.is_some(), parent_level) {
            (Level::Psp, true, _) => Some("a PSP is a root and has no parent"),
            (Level::Division, false, _) => Some("a DIVISION needs a PSP parent"),
            (Level::Division, true, Some(parent)) if parent != Level::Psp => {
                Some("the parent of a DIVISION must be a PSP")
            }
            (Level::Merchant, false, _) => Some("a MERCHANT needs a DIVISION or PSP parent"),
            (Level::Merchant, true, Some(Level::Merchant)) => {
                Some("the parent of a MERCHANT must be a DIVISION or PSP")
            }
            _ => None,
        };
        if let Some(message) = order_problem {
            check.problem(format!("{path}.parent"), message);
        }
        if let Some(cycle) = find_cycle(&entity.id, &by_id) {
            check.problem(
                format!("{path}.parent"),
                format!("cycle: {}", cycle.join(" -> ")),
            );
        }
        let branding = entity
            .branding
            .as_ref()
            .map(|b| check_branding(check, &format!("{path}.branding"), b, base_dir));
        declared.push(EntityDecl {
            id: entity.id.clone(),
            name: entity.name.clone(),
            level,
            parent: entity.parent.clone(),
            branding,
        });
    }
    declared
}

/// Largest branding file accepted: a stylesheet, script or logo, not a site.
const MAX_BRANDING_FILE: u64 = 512 * 1024;

fn check_branding(
    check: &mut Checker,
    path: &str,
    branding: &super::file::FileBranding,
    base_dir: &std::path::Path,
) -> Branding {
    let mut asset = |key: &str, file: Option<&String>, content_type: Option<&'static str>| {
        let file = file?;
        let key_path = format!("{path}.{key}");
        let Some(content_type) = content_type else {
            check.problem(
                key_path,
                "a logo must be .png, .svg, .jpg, .jpeg, .gif or .webp",
            );
            return None;
        };
        let full = base_dir.join(file);
        match std::fs::metadata(&full).and_then(|meta| {
            if meta.len() > MAX_BRANDING_FILE {
                Err(std::io::Error::other("larger than 512 KiB"))
            } else {
                std::fs::read(&full)
            }
        }) {
            Ok(bytes) => Some(Asset {
                bytes: bytes.into(),
                content_type,
            }),
            Err(error) => {
                check.problem(key_path, format!("cannot read {}: {error}", full.display()));
                None
            }
        }
    };
    let logo_type = branding.logo.as_deref().map(|logo| {
        let extension = logo.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
        match extension.as_str() {
            "png" => Some("image/png"),
            "svg" => Some("image/svg+xml"),
            "jpg" | "jpeg" => Some("image/jpeg"),
            "gif" => Some("image/gif"),
            "webp" => Some("image/webp"),
            _ => None,
        }
    });
    Branding {
        css: asset(
            "css",
            branding.css.as_ref(),
            Some("text/css; charset=utf-8"),
        ),
        js: asset(
            "js",
            branding.js.as_ref(),
            Some("text/javascript; charset=utf-8"),
        ),
        logo: asset("logo", branding.logo.as_ref(), logo_type.flatten()),
        title: branding.title.clone(),
    }
}

/// The chain of parents from `start` back to `start`, if following parents ever returns there.
fn find_cycle(start: &str, by_id: &HashMap<&str, &FileEntity>) -> Option<Vec<String>> {
    let mut chain = vec![start.to_string()];
    let mut current = by_id.get(start)?.parent.as_deref();
    while let Some(id) = current {
        chain.push(id.to_string());
        if id == start {
            return Some(chain);
        }
        if chain.len() > by_id.len() + 1 {
            return None; // a cycle further up, reported on the entities that form it
        }
        current = by_id.get(id).and_then(|e| e.parent.as_deref());
    }
    None
}

fn check_users(
    check: &mut Checker,
    users: &[FileUser],
    entity_ids: &HashSet<&str>,
) -> Vec<UserDecl> {
    let mut seen_ids = HashSet::new();
    let mut seen_emails = HashSet::new();
    let mut declared = Vec::new();
    for (i, user) in users.iter().enumerate() {
        let path = format!("users[{i}]");
        check_unique(check, &mut seen_ids, format!("{path}.id"), &user.id);
        let email = user.email.trim();
        if !is_plausible_email(email) {
            check.problem(format!("{path}.email"), "not an email address");
        } else if !seen_emails.insert(email.to_lowercase()) {
            check.problem(
                format!("{path}.email"),
                format!("duplicate email {email:?}"),
            );
        }
        if user.name.trim().is_empty() {
            check.problem(format!("{path}.name"), "must not be empty");
        }
        for (j, entity) in user.attached_to.iter().enumerate() {
            if !entity_ids.contains(entity.as_str()) {
                check.problem(
                    format!("{path}.attached_to[{j}]"),
                    format!("unknown entity {entity:?}"),
                );
            }
        }
        let password = check.password(
            &path,
            user.password_hash.as_deref(),
            user.password.as_deref(),
        );
        if let Some(password) = password {
            declared.push(UserDecl {
                id: user.id.clone(),
                email: email.to_string(),
                name: user.name.trim().to_string(),
                password,
                attached_to: user.attached_to.clone(),
            });
        }
    }
    declared
}

pub fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && !domain.contains('@')
        }
        None => false,
    }
}

fn check_clients(
    check: &mut Checker,
    clients: &[FileClient],
    default_alg: Alg,
    issuer_is_https: bool,
) -> Vec<ClientDecl> {
    let mut seen = HashSet::new();
    let mut declared = Vec::new();
    for (i, client) in clients.iter().enumerate() {
        let path = format!("clients[{i}]");
        check_unique(
            check,
            &mut seen,
            format!("{path}.client_id"),
            &client.client_id,
        );
        let secret = client
            .client_secret
            .as_deref()
            .and_then(|value| check.secret(&format!("{path}.client_secret"), value));
        if let Some(secret) = &secret
            && secret.expose().len() < MIN_CLIENT_SECRET_LEN
        {
            check.problem(
                format!("{path}.client_secret"),
                format!(
                    "must be at least {MIN_CLIENT_SECRET_LEN} characters (make one with `openssl rand -base64 32`)"
                ),
            );
        }
        let has_secret = client.client_secret.is_some();
        if client.redirect_uris.is_empty() {
            check.problem(format!("{path}.redirect_uris"), "at least one is required");
        }
        for (key, uris) in [
            ("redirect_uris", &client.redirect_uris),
            (
                "post_logout_redirect_uris",
                &client.post_logout_redirect_uris,
            ),
        ] {
            for (j, uri) in uris.iter().enumerate() {
                if let Err(message) = check_redirect_uri(uri, issuer_is_https) {
                    check.problem(format!("{path}.{key}[{j}]"), message);
                }
            }
        }
        let allowed_scopes = client
            .allowed_scopes
            .clone()
            .unwrap_or_else(|| vec!["openid".into(), "profile".into(), "email".into()]);
        for (j, scope) in allowed_scopes.iter().enumerate() {
            if !KNOWN_SCOPES.contains(&scope.as_str()) {
                check.problem(
                    format!("{path}.allowed_scopes[{j}]"),
                    format!(
                        "unknown scope {scope:?} (known: {})",
                        KNOWN_SCOPES.join(", ")
                    ),
                );
            }
        }
        if !allowed_scopes.iter().any(|s| s == "openid") {
            check.problem(format!("{path}.allowed_scopes"), "must include openid");
        }
        let id_token_alg = match client.id_token_alg.as_deref() {
            None => default_alg,
            Some(value) => Alg::parse(value).unwrap_or_else(|| {
                check.problem(
                    format!("{path}.id_token_alg"),
                    "must be RS256, ES256, EdDSA or HS256",
                );
                default_alg
            }),
        };
        if id_token_alg == Alg::HS256 && !has_secret {
            check.problem(
                format!("{path}.id_token_alg"),
                "HS256 signs with the client secret, so client_secret is required",
            );
        }
        let default_method = if has_secret {
            TokenAuthMethod::ClientSecretBasic
        } else {
            TokenAuthMethod::None
        };
        let method = match client.token_endpoint_auth_method.as_deref() {
            None => default_method,
            Some(value) => TokenAuthMethod::parse(value).unwrap_or_else(|| {
                check.problem(
                    format!("{path}.token_endpoint_auth_method"),
                    "must be client_secret_basic, client_secret_post or none",
                );
                default_method
            }),
        };
        match (method, has_secret) {
            (TokenAuthMethod::None, true) => check.problem(
                format!("{path}.token_endpoint_auth_method"),
                "none is for public clients; remove client_secret or pick a secret method",
            ),
            (TokenAuthMethod::ClientSecretBasic | TokenAuthMethod::ClientSecretPost, false) => {
                check.problem(
                    format!("{path}.client_secret"),
                    format!("required by token_endpoint_auth_method {}", method.as_str()),
                )
            }
            _ => {}
        }
        if !has_secret && client.require_pkce == Some(false) {
            check.problem(
                format!("{path}.require_pkce"),
                "a public client (no client_secret) must use PKCE",
            );
        }
        declared.push(ClientDecl {
            client_id: client.client_id.clone(),
            secret,
            redirect_uris: client.redirect_uris.clone(),
            post_logout_redirect_uris: client.post_logout_redirect_uris.clone(),
            allowed_scopes,
            id_token_alg,
            require_pkce: client.require_pkce.unwrap_or(true),
            token_endpoint_auth_method: method,
        });
    }
    declared
}

fn check_api_credentials(
    check: &mut Checker,
    credentials: &[FileApiCredential],
) -> Vec<ApiCredentialDecl> {
    let mut seen = HashSet::new();
    let mut declared = Vec::new();
    for (i, credential) in credentials.iter().enumerate() {
        let path = format!("api_credentials[{i}]");
        check_unique(
            check,
            &mut seen,
            format!("{path}.username"),
            &credential.username,
        );
        if credential.username.contains(':') {
            check.problem(
                format!("{path}.username"),
                "must not contain ':' (HTTP Basic separates with it)",
            );
        }
        for (j, scope) in credential.scopes.iter().enumerate() {
            if !API_SCOPES.contains(&scope.as_str()) {
                check.problem(
                    format!("{path}.scopes[{j}]"),
                    format!("unknown scope {scope:?} (known: {})", API_SCOPES.join(", ")),
                );
            }
        }
        let password = check.password(
            &path,
            credential.password_hash.as_deref(),
            credential.password.as_deref(),
        );
        if let Some(password) = password {
            declared.push(ApiCredentialDecl {
                username: credential.username.clone(),
                password,
                scopes: credential.scopes.clone(),
            });
        }
    }
    declared
}

/// Product ids appear in URLs (`/sso/jwt/{id}`), so they are kept to URL-safe characters.
fn is_url_safe_id(id: &str) -> bool {
    id.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

fn check_products(
    check: &mut Checker,
    products: &[FileProduct],
    issuer_is_https: bool,
) -> Vec<ProductDecl> {
    let mut seen = HashSet::new();
    let mut declared = Vec::new();
    for (i, product) in products.iter().enumerate() {
        let path = format!("products[{i}]");
        let problems_before = check.problems.len();
        if check_unique(check, &mut seen, format!("{path}.id"), &product.id).is_some()
            && !is_url_safe_id(&product.id)
        {
            check.problem(
                format!("{path}.id"),
                "only letters, digits, '-', '_' and '.' (it is part of /sso/jwt/{id})",
            );
        }
        let format = match (product.format.as_str(), product.login_url.as_deref()) {
            ("hub", None) => {
                check.problem(format!("{path}.login_url"), "required for format hub");
                None
            }
            ("hub", Some(login_url)) => {
                if !login_url.contains("{hub_domain}") {
                    check.problem(
                        format!("{path}.login_url"),
                        "must contain {hub_domain} (example: https://{hub_domain}/login/sso)",
                    );
                } else if let Err(message) = check_redirect_uri(
                    &login_url.replace("{hub_domain}", "hub.example.com"),
                    issuer_is_https,
                ) {
                    check.problem(format!("{path}.login_url"), message);
                }
                Some(ProductFormat::Hub {
                    login_url: login_url.to_string(),
                })
            }
            ("workspace", None) => Some(ProductFormat::Workspace),
            ("workspace", Some(_)) => {
                check.problem(
                    format!("{path}.login_url"),
                    "only for format hub (a workspace is sent to https://{domain}/sso)",
                );
                None
            }
            _ => {
                check.problem(format!("{path}.format"), "must be hub or workspace");
                None
            }
        };
        if product.allowed_domains.is_empty() {
            check.problem(
                format!("{path}.allowed_domains"),
                "at least one is required",
            );
        }
        let allowed_domains: Vec<DomainPattern> = product
            .allowed_domains
            .iter()
            .enumerate()
            .filter_map(|(j, value)| {
                DomainPattern::parse(value)
                    .map_err(|message| {
                        check.problem(format!("{path}.allowed_domains[{j}]"), message)
                    })
                    .ok()
            })
            .collect();
        let preview_domain = product.preview_domain.as_deref().and_then(|value| {
            let host = domains::normalize_host(value);
            if host.is_none() {
                check.problem(
                    format!("{path}.preview_domain"),
                    "not a DNS hostname (no scheme, port, path, wildcard or trailing dot)",
                );
            }
            host
        });
        if product.secrets.is_empty() {
            check.problem(
                format!("{path}.secrets"),
                "at least one is required (the first signs)",
            );
        }
        let secrets: Vec<Secret> = product
            .secrets
            .iter()
            .enumerate()
            .filter_map(|(j, value)| check.hmac_secret(&format!("{path}.secrets[{j}]"), value))
            .collect();
        let token_ttl = check.duration(
            &format!("{path}.token_ttl"),
            product.token_ttl.as_deref(),
            DEFAULT_PRODUCT_TOKEN_TTL,
        );
        if let Some(format) = format
            && check.problems.len() == problems_before
        {
            declared.push(ProductDecl {
                id: product.id.clone(),
                format,
                allowed_domains,
                preview_domain,
                secrets,
                token_ttl,
            });
        }
    }
    declared
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Some(30));
        assert_eq!(parse_duration("5m"), Some(300));
        assert_eq!(parse_duration("8h"), Some(28_800));
        assert_eq!(parse_duration("90d"), Some(7_776_000));
        for bad in [
            "",
            "h",
            "8",
            "8x",
            "-1h",
            "0s",
            "1.5h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert!(is_plausible_email("alice@example.com"));
        for bad in [
            "alice",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@example.com",
        ] {
            assert!(!is_plausible_email(bad), "{bad}");
        }
    }
}
