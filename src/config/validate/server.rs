//! `[server]`, `[database]` and `[keys]`, with their environment overrides (SPEC section 2).
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use base64::Engine;
use ipnet::IpNet;

use super::checker::Checker;
use super::urls::check_issuer;
use crate::config::file::{FileDatabase, FileKeys, FileServer};
use crate::config::{
    Alg, DEFAULT_BIND, DEFAULT_DATABASE_URL, DEFAULT_ISSUER, EncryptionKey, KeysConfig,
    LEGACY_DEPRECATED_AT, ServerConfig,
};

/// Pending logins one address may start per minute: a person needs two (the authorization and
/// the upstream login), an office behind one NAT address many more.
const DEFAULT_PENDING_LOGINS_PER_MINUTE: i64 = 60;

/// Unexpired pending logins kept at most: far above any real load (each lives 10 minutes), and a
/// few tens of megabytes of rows.
const DEFAULT_MAX_PENDING_LOGINS: i64 = 100_000;

/// Token-endpoint requests a second per address and per client, in each process: well above
/// what one backend needs (a client_credentials token is meant to be reused for its lifetime),
/// well below what one core can answer.
const DEFAULT_TOKEN_REQUESTS_PER_SECOND: i64 = 1_000;
/// Far above what an operator's scripts need, low enough that a leaked credential cannot scan
/// the users table at the database's pace.
const DEFAULT_ADMIN_REQUESTS_PER_SECOND: i64 = 50;
/// Two a second on average, with room for a burst: far more than the people behind one address
/// sign in through SAML, far fewer than the verifications one core can make.
const DEFAULT_SAML_POSTS_PER_MINUTE: i64 = 120;

/// A request's whole time, body included: far above any answer idbridge gives (upstream calls
/// have their own, shorter timeouts), short enough that a trickled body cannot hold a
/// connection for long.
const DEFAULT_REQUEST_TIMEOUT: i64 = 30;

/// The time to deliver a request's headers: a browser sends them at once; what is slower is a
/// slow-loris client or an idle keep-alive connection.
const DEFAULT_HEADER_TIMEOUT: i64 = 10;

/// The longest either timeout may be set to.
const MAX_TIMEOUT: i64 = 600;

/// Whose config is validated: an operator's must set `keys.encryption_key`, the demo need not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::config) enum Origin {
    Operator,
    Demo,
}

/// `[server]`, with `IDBRIDGE_ISSUER` and `IDBRIDGE_BIND`.
pub(super) fn check_server(check: &mut Checker, server: FileServer) -> ServerConfig {
    let (issuer, issuer_key) = check.overridable("IDBRIDGE_ISSUER", "server.issuer", server.issuer);
    let issuer = issuer.unwrap_or_else(|| DEFAULT_ISSUER.to_string());
    let issuer = match check_issuer(&issuer) {
        Ok(issuer) => issuer,
        Err(message) => {
            check.problem(issuer_key, message);
            DEFAULT_ISSUER.to_string()
        }
    };

    let (bind, bind_key) = check.overridable("IDBRIDGE_BIND", "server.bind", server.bind);
    let bind = bind.unwrap_or_else(|| DEFAULT_BIND.to_string());
    let bind = bind.parse::<SocketAddr>().unwrap_or_else(|_| {
        check.problem(bind_key, "not a socket address (example: 0.0.0.0:8080)");
        DEFAULT_BIND.parse().expect("default bind address")
    });

    let session_ttl = check.duration(
        "server.session_ttl",
        server.session_ttl.as_deref(),
        8 * 3600,
    );
    let userinfo_cache = check_userinfo_cache(check, server.userinfo_cache.as_deref());
    let pending_logins_per_minute = check.count(
        "server.pending_logins_per_minute",
        server.pending_logins_per_minute,
        DEFAULT_PENDING_LOGINS_PER_MINUTE,
        100_000,
    ) as u32;
    let max_pending_logins = check.count(
        "server.max_pending_logins",
        server.max_pending_logins,
        DEFAULT_MAX_PENDING_LOGINS,
        100_000_000,
    ) as u64;
    let token_requests_per_second_per_address = check.count(
        "server.token_requests_per_second_per_address",
        server.token_requests_per_second_per_address,
        DEFAULT_TOKEN_REQUESTS_PER_SECOND,
        1_000_000,
    ) as u32;
    let token_requests_per_second_per_client = check.count(
        "server.token_requests_per_second_per_client",
        server.token_requests_per_second_per_client,
        DEFAULT_TOKEN_REQUESTS_PER_SECOND,
        1_000_000,
    ) as u32;
    let admin_requests_per_second_per_credential = check.count(
        "server.admin_requests_per_second_per_credential",
        server.admin_requests_per_second_per_credential,
        DEFAULT_ADMIN_REQUESTS_PER_SECOND,
        1_000_000,
    ) as u32;
    let saml_posts_per_minute_per_address = check.count(
        "server.saml_posts_per_minute_per_address",
        server.saml_posts_per_minute_per_address,
        DEFAULT_SAML_POSTS_PER_MINUTE,
        1_000_000,
    ) as u32;
    let request_timeout = check_timeout(
        check,
        "server.request_timeout",
        server.request_timeout.as_deref(),
        DEFAULT_REQUEST_TIMEOUT,
    );
    let header_timeout = check_timeout(
        check,
        "server.header_timeout",
        server.header_timeout.as_deref(),
        DEFAULT_HEADER_TIMEOUT,
    );
    let trusted_proxies = server
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
    let legacy_sunset = server
        .legacy_sunset
        .as_deref()
        .and_then(|value| check_sunset(check, value));
    let audit_retention = check.duration(
        "server.audit_retention",
        server.audit_retention.as_deref(),
        DEFAULT_AUDIT_RETENTION,
    );
    let metrics_token = server
        .metrics_token
        .as_deref()
        .and_then(|value| check.hmac_secret("server.metrics_token", value));
    ServerConfig {
        issuer,
        bind,
        session_ttl,
        trusted_proxies,
        userinfo_cache,
        pending_logins_per_minute,
        max_pending_logins,
        token_requests_per_second_per_address,
        token_requests_per_second_per_client,
        admin_requests_per_second_per_credential,
        saml_posts_per_minute_per_address,
        request_timeout,
        header_timeout,
        legacy_sunset,
        metrics_token,
        audit_retention,
    }
}

/// How long audit events are kept unless `server.audit_retention` says: a year, what compliance
/// reviews commonly ask for.
const DEFAULT_AUDIT_RETENTION: i64 = 365 * 86_400;

/// A timeout of the HTTP server, from one second to [`MAX_TIMEOUT`].
fn check_timeout(check: &mut Checker, path: &str, value: Option<&str>, default: i64) -> Duration {
    let seconds = check.duration(path, value, default);
    if seconds > MAX_TIMEOUT {
        check.problem(path, "at most 10m");
        return Duration::from_secs(default as u64);
    }
    Duration::from_secs(seconds as u64)
}

/// `server.legacy_sunset`: a date (`2027-06-30`), after the paths' deprecation; midnight UTC of
/// it in Unix seconds.
fn check_sunset(check: &mut Checker, value: &str) -> Option<i64> {
    const KEY: &str = "server.legacy_sunset";
    let Ok(date) = chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d") else {
        check.problem(KEY, "not a date as YYYY-MM-DD (example: 2027-06-30)");
        return None;
    };
    let at = date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp();
    if at <= LEGACY_DEPRECATED_AT {
        check.problem(KEY, "must come after the paths' deprecation on 2026-12-03");
        return None;
    }
    Some(at)
}

/// `database.url` (or `IDBRIDGE_DATABASE_URL`).
pub(super) fn check_database(check: &mut Checker, database: FileDatabase) -> String {
    let (database_url, database_key) =
        check.overridable("IDBRIDGE_DATABASE_URL", "database.url", database.url);
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
    database_url
}

/// `[keys]`: an operator's config must give `encryption_key`; the demo may not.
pub(super) fn check_keys(check: &mut Checker, keys: FileKeys, origin: Origin) -> KeysConfig {
    let id_token_alg = match keys.id_token_alg.as_deref() {
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
        keys.rotate_after.as_deref(),
        90 * 86400,
    );
    let saml_rotate_after = check.duration(
        "keys.saml_rotate_after",
        keys.saml_rotate_after.as_deref(),
        365 * 86400,
    );
    let saml_publish_before = check.duration(
        "keys.saml_publish_before",
        keys.saml_publish_before.as_deref(),
        30 * 86400,
    );
    if saml_publish_before >= saml_rotate_after {
        check.problem(
            "keys.saml_publish_before",
            "must be shorter than keys.saml_rotate_after (a key is listed this long before it signs)",
        );
    }
    if keys.encryption_key.is_none() && origin == Origin::Operator {
        check.problem(
            "keys.encryption_key",
            "required: private signing keys are stored encrypted with it \
             (make one with `openssl rand -base64 32`; only the embedded demo runs without one)",
        );
    }
    let encryption_key = keys.encryption_key.as_deref().and_then(|value| {
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
    KeysConfig {
        id_token_alg,
        rotate_after,
        saml_rotate_after,
        saml_publish_before,
        encryption_key,
    }
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
