//! `[[connections]]`: the upstream identity providers.
mod saml;

use std::collections::HashSet;
use std::path::Path;

use url::Url;

use super::super::file::FileConnection;
use super::checker::{Checker, check_unique};
use super::urls::is_loopback;
use crate::config::{ConnectionDecl, ConnectionProtocol, OidcConnectionDecl};
use crate::vocabulary::connections::RESERVED;
use crate::vocabulary::domains::normalize_host;

const DEFAULT_TIMEOUT_SECONDS: i64 = 10;

pub(super) fn check_connections(
    check: &mut Checker,
    connections: &[FileConnection],
    entity_ids: &HashSet<&str>,
    issuer: &str,
    base_dir: &Path,
) -> Vec<ConnectionDecl> {
    let mut seen = HashSet::new();
    let mut claimed_domains = HashSet::new();
    let mut declared = Vec::new();
    for (i, connection) in connections.iter().enumerate() {
        let path = format!("connections[{i}]");
        if let Some(id) = check_unique(check, &mut seen, format!("{path}.id"), &connection.id)
            && !is_path_segment(id)
        {
            check.problem(
                format!("{path}.id"),
                "use only lowercase letters, digits, - and _ (it appears in URLs), and not \"local\", \"session_url\" or \"config\"",
            );
        }
        if !entity_ids.contains(connection.entity.as_str()) {
            check.problem(
                format!("{path}.entity"),
                format!("unknown entity {:?}", connection.entity),
            );
        }
        let mut domains = Vec::new();
        for (j, domain) in connection.domains.iter().enumerate() {
            let key = format!("{path}.domains[{j}]");
            // An email domain: a DNS name of two labels or more.
            match normalize_host(domain.trim()).filter(|domain| domain.contains('.')) {
                None => check.problem(key, "not a domain name (example: acme.com)"),
                Some(domain) if !claimed_domains.insert(domain.clone()) => {
                    check.problem(key, format!("{domain} is claimed by another connection"));
                }
                Some(domain) => domains.push(domain),
            }
        }
        if connection.email_authoritative.is_some() && connection.kind == "saml" {
            check.problem(
                format!("{path}.email_authoritative"),
                "only for oidc connections: a SAML IdP's assertion has no email_verified to skip",
            );
        }
        let protocol = match connection.kind.as_str() {
            "oidc" => check_oidc(check, &path, connection).map(ConnectionProtocol::Oidc),
            "saml" => saml::check_saml(check, &path, connection, issuer, base_dir)
                .map(ConnectionProtocol::Saml),
            _ => {
                check.problem(format!("{path}.type"), "must be oidc or saml");
                None
            }
        };
        if let Some(protocol) = protocol {
            declared.push(ConnectionDecl {
                id: connection.id.clone(),
                name: connection
                    .name
                    .clone()
                    .unwrap_or_else(|| connection.id.clone()),
                entity: connection.entity.clone(),
                domains,
                protocol,
            });
        }
    }
    declared
}

fn check_oidc(
    check: &mut Checker,
    path: &str,
    connection: &FileConnection,
) -> Option<OidcConnectionDecl> {
    let issuer = match connection.issuer.as_deref() {
        None => {
            check.problem(format!("{path}.issuer"), "required for an oidc connection");
            None
        }
        Some(issuer) => match check_upstream_issuer(issuer) {
            Ok(()) => Some(issuer.to_string()),
            Err(message) => {
                check.problem(format!("{path}.issuer"), message);
                None
            }
        },
    };
    let client_id = connection.client_id.clone().filter(|id| !id.is_empty());
    if client_id.is_none() {
        check.problem(
            format!("{path}.client_id"),
            "required for an oidc connection",
        );
    }
    let client_secret = match connection.client_secret.as_deref() {
        None => {
            check.problem(
                format!("{path}.client_secret"),
                "required for an oidc connection",
            );
            None
        }
        Some(value) => check.secret(&format!("{path}.client_secret"), value),
    };
    let scopes = connection
        .scopes
        .clone()
        .unwrap_or_else(|| ["openid", "profile", "email"].map(String::from).to_vec());
    if !scopes.iter().any(|s| s == "openid") {
        check.problem(format!("{path}.scopes"), "must include openid");
    }
    let claim =
        |name: Option<&String>, default: &str| name.cloned().unwrap_or_else(|| default.to_string());
    let claims = connection.claims.as_ref();
    let email_authoritative = connection.email_authoritative.unwrap_or(false);
    if email_authoritative && connection.domains.is_empty() {
        check.problem(
            format!("{path}.email_authoritative"),
            "needs domains: a provider can be authoritative only for the domains the connection lists",
        );
    }
    let timeout = check.duration(
        &format!("{path}.timeout"),
        connection.timeout.as_deref(),
        DEFAULT_TIMEOUT_SECONDS,
    );
    Some(OidcConnectionDecl {
        issuer: issuer?,
        client_id: client_id?,
        client_secret: client_secret?,
        scopes,
        email_claim: claim(claims.and_then(|c| c.email.as_ref()), "email"),
        name_claim: claim(claims.and_then(|c| c.name.as_ref()), "name"),
        email_authoritative,
        timeout: timeout as u64,
    })
}

/// A usable connection id: a path segment, and none of the ids idbridge reserves (those that
/// name logins other than through a connection in notifications, and the `source` of the users
/// config sync owns, which for a connection's users is its id).
fn is_path_segment(id: &str) -> bool {
    !RESERVED.contains(&id)
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// An upstream issuer: an upstream URL without query or fragment.
fn check_upstream_issuer(value: &str) -> Result<(), &'static str> {
    let url = parse_upstream_url(value)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    Ok(())
}

/// A URL of an upstream identity provider: https, except on the machine itself (a development
/// setup, or tests).
fn parse_upstream_url(value: &str) -> Result<Url, &'static str> {
    let url = Url::parse(value).map_err(|_| "not an absolute URL")?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err("must be an https URL (http only for loopback hosts)"),
    }
}
