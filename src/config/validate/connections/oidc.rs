//! `type = "oidc"` connections: a customer's OpenID Connect provider, and how idbridge talks to
//! it.
use serde::Deserialize;

use super::super::super::file::{FileClaimMap, FileConnection};
use super::super::Checker;
use super::parse_upstream_url;
use crate::config::OidcConnectionDecl;
use crate::config::ProfileNames;

const DEFAULT_TIMEOUT_SECONDS: i64 = 10;

/// The keys of an `oidc` connection besides those every connection has.
#[derive(Debug, Deserialize)]
pub(super) struct FileOidcConnection {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scopes: Option<Vec<String>>,
    claims: Option<FileClaimMap>,
    email_authoritative: Option<bool>,
    timeout: Option<String>,
}

pub(super) fn check(
    check: &mut Checker,
    path: &str,
    connection: &FileConnection,
    settings: FileOidcConnection,
) -> Option<OidcConnectionDecl> {
    let issuer = match settings.issuer {
        None => {
            check.problem(format!("{path}.issuer"), "required for an oidc connection");
            None
        }
        Some(issuer) => match check_upstream_issuer(&issuer) {
            Ok(()) => Some(issuer),
            Err(message) => {
                check.problem(format!("{path}.issuer"), message);
                None
            }
        },
    };
    let client_id = settings.client_id.filter(|id| !id.is_empty());
    if client_id.is_none() {
        check.problem(
            format!("{path}.client_id"),
            "required for an oidc connection",
        );
    }
    let client_secret = match settings.client_secret.as_deref() {
        None => {
            check.problem(
                format!("{path}.client_secret"),
                "required for an oidc connection",
            );
            None
        }
        Some(value) => check.secret(&format!("{path}.client_secret"), value),
    };
    let scopes = settings
        .scopes
        .unwrap_or_else(|| ["openid", "profile", "email"].map(String::from).to_vec());
    if !scopes.iter().any(|s| s == "openid") {
        check.problem(format!("{path}.scopes"), "must include openid");
    }
    let claims = settings.claims.unwrap_or_default();
    let email_authoritative = settings.email_authoritative.unwrap_or(false);
    if email_authoritative && connection.domains.is_empty() {
        check.problem(
            format!("{path}.email_authoritative"),
            "needs domains: a provider can be authoritative only for the domains the connection lists",
        );
    }
    let timeout = check.duration(
        &format!("{path}.timeout"),
        settings.timeout.as_deref(),
        DEFAULT_TIMEOUT_SECONDS,
    );
    Some(OidcConnectionDecl {
        issuer: issuer?,
        client_id: client_id?,
        client_secret: client_secret?,
        scopes,
        email_claim: claims.email.unwrap_or_else(|| "email".to_string()),
        name_claim: claims.name.unwrap_or_else(|| "name".to_string()),
        // OpenID Connect's standard claims, unless the connection names others.
        profile_claims: ProfileNames {
            given_name: claims.given_name.or_else(|| Some("given_name".into())),
            family_name: claims.family_name.or_else(|| Some("family_name".into())),
            locale: claims.locale.or_else(|| Some("locale".into())),
        },
        email_authoritative,
        timeout: timeout as u64,
    })
}

/// An upstream issuer: an upstream URL without query or fragment.
fn check_upstream_issuer(value: &str) -> Result<(), &'static str> {
    let url = parse_upstream_url(value)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    Ok(())
}
