//! `[[clients]]`: the relying parties of the OpenID provider.
use std::collections::HashSet;

use super::checker::{Checker, check_unique};
use super::urls::check_redirect_uri;
use crate::config::file::FileClient;
use crate::config::*;

/// Minimum length of a client secret given in the config: 32 characters, about what
/// `openssl rand -base64 32` prints, so that a secret is never guessable.
const MIN_CLIENT_SECRET_LEN: usize = 32;

pub(super) fn check_clients(
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
        let mut logout_channel = |channel: &str, uri: &Option<String>, required: Option<bool>| {
            if let Some(uri) = uri
                && let Err(message) = check_redirect_uri(uri, issuer_is_https)
            {
                check.problem(format!("{path}.{channel}_logout_uri"), message);
            }
            if uri.is_none() && required.is_some() {
                check.problem(
                    format!("{path}.{channel}_logout_session_required"),
                    format!("only with {channel}_logout_uri"),
                );
            }
            uri.clone().map(|uri| LogoutChannel {
                uri,
                session_required: required.unwrap_or(false),
            })
        };
        let backchannel_logout = logout_channel(
            "backchannel",
            &client.backchannel_logout_uri,
            client.backchannel_logout_session_required,
        );
        let frontchannel_logout = logout_channel(
            "frontchannel",
            &client.frontchannel_logout_uri,
            client.frontchannel_logout_session_required,
        );
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
            backchannel_logout,
            frontchannel_logout,
        });
    }
    declared
}
