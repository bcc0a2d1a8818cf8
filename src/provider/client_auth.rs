//! How a client proves who it is at the token, revocation and introspection endpoints
//! (RFC 6749 section 2.3): HTTP Basic, form fields, or, for a public client, its id alone, each
//! only by the method the client registered.
use std::net::IpAddr;
use std::sync::Arc;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, header};
use serde::Deserialize;

use super::error::OAuthError;
use crate::clients::Client;
use crate::config::TokenAuthMethod;
use crate::crypto;
use crate::state::AppState;

/// Counts a request to an endpoint where clients authenticate against its address's rate
/// (`limits::ClientRates`); the first thing such an endpoint does, so malformed requests count too.
pub fn within_address_rate(state: &AppState, address: IpAddr) -> Result<(), OAuthError> {
    state
        .client_rates
        .admit_address(address)
        .map_err(OAuthError::TooManyRequests)
}

/// The client named by HTTP Basic or the form, authenticated by the method it registered, within
/// its client's rate (`limits::ClientRates`).
pub fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    form_id: Option<&str>,
    form_secret: Option<&str>,
) -> Result<Arc<Client>, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("basic "));
    let (method, id, secret) = match (basic, form_secret) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::InvalidRequest(
                "use one client authentication method".into(),
            ));
        }
        (Some(header), None) => {
            let (id, secret) = basic_credentials(header).ok_or(OAuthError::InvalidClient)?;
            if form_id.is_some_and(|f| f != id) {
                return Err(OAuthError::InvalidClient);
            }
            (TokenAuthMethod::ClientSecretBasic, id, Some(secret))
        }
        (None, Some(secret)) => {
            let id = form_id.ok_or(OAuthError::InvalidClient)?;
            (
                TokenAuthMethod::ClientSecretPost,
                id.to_string(),
                Some(secret.to_string()),
            )
        }
        (None, None) => {
            let id = form_id.ok_or(OAuthError::InvalidClient)?;
            (TokenAuthMethod::None, id.to_string(), None)
        }
    };
    let client = state.client(&id).ok_or(OAuthError::InvalidClient)?;
    let authenticated = match secret {
        Some(secret) => client.secret_matches(&secret),
        None => client.is_public(),
    };
    if !authenticated || client.auth_method != method {
        return Err(OAuthError::InvalidClient);
    }
    state
        .client_rates
        .admit_client(&client.id)
        .map_err(OAuthError::TooManyRequests)?;
    Ok(client)
}

/// The form of a revocation or introspection request.
#[derive(Deserialize)]
pub struct TokenParam {
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// The authenticated client and the stored key of the `token` it asks about: the request of
/// revocation (RFC 7009 section 2.1) and introspection (RFC 7662 section 2.1).
pub(super) fn client_and_token(
    state: &AppState,
    address: IpAddr,
    headers: &HeaderMap,
    form: Result<Form<TokenParam>, FormRejection>,
) -> Result<(Arc<Client>, String), OAuthError> {
    within_address_rate(state, address)?;
    let Form(form) = form?;
    let client = authenticate_client(
        state,
        headers,
        form.client_id.as_deref(),
        form.client_secret.as_deref(),
    )?;
    let token = form
        .token
        .ok_or_else(|| OAuthError::InvalidRequest("token is required".into()))?;
    Ok((client, crypto::ordered_token_key(&token)))
}

/// Client credentials as presented at an endpoint: HTTP Basic (RFC 6749 section 2.3.1, whose
/// parts are form-encoded) or form fields.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    let (id, secret) = crate::api_auth::basic_pair(header)?;
    let unescape = |part: &str| {
        url::form_urlencoded::parse(format!("x={part}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((unescape(&id)?, unescape(&secret)?))
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    #[test]
    fn basic_parts_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20client:p%3Ass+word"));
        assert_eq!(
            basic_credentials(&header),
            Some(("my client".into(), "p:ss word".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
        assert_eq!(basic_credentials("Basic !!!"), None);
    }
}
