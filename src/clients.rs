//! The registered downstream clients, from the config and held in memory: the token endpoint
//! authenticates a client without a database round trip.
use std::collections::HashMap;
use std::sync::Arc;

use url::Url;

use crate::config::{Alg, ClientDecl, LogoutChannel, Secret, TokenAuthMethod};
use crate::crypto;

#[derive(Debug)]
pub struct Client {
    pub id: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub allowed_scopes: Vec<String>,
    pub id_token_alg: Alg,
    pub require_pkce: bool,
    pub auth_method: TokenAuthMethod,
    pub backchannel_logout: Option<LogoutChannel>,
    pub frontchannel_logout: Option<LogoutChannel>,
    /// SHA-256 of the secret, compared in constant time; the secret itself is kept only for
    /// clients whose ID tokens are HS256, which need it as the key.
    secret_sha256: Option<String>,
    pub hs256_secret: Option<Secret>,
}

impl Client {
    pub fn is_public(&self) -> bool {
        self.secret_sha256.is_none()
    }

    /// Whether `secret` is this client's secret.
    pub fn secret_matches(&self, secret: &str) -> bool {
        self.secret_sha256
            .as_deref()
            .is_some_and(|stored| crypto::constant_time_eq(stored, &crypto::sha256_hex(secret)))
    }

    /// Exact string comparison with a registered value: no normalisation, prefix or wildcard.
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris
            .iter()
            .any(|registered| registered == uri)
    }

    /// Whether a sign-out of a session this client got a code in must reach it.
    pub fn hears_of_logout(&self) -> bool {
        self.backchannel_logout.is_some() || self.frontchannel_logout.is_some()
    }

    /// Origins of the registered redirect URIs (`https://shop.example.com`), for CORS.
    pub fn origins(&self) -> impl Iterator<Item = String> + '_ {
        self.redirect_uris
            .iter()
            .filter_map(|uri| Url::parse(uri).ok())
            .map(|url| url.origin().ascii_serialization())
    }
}

#[derive(Debug, Default)]
pub struct Clients {
    /// Shared, so that a request keeps its client while the directory is replaced.
    by_id: HashMap<String, Arc<Client>>,
}

impl Clients {
    pub fn new(declared: &[ClientDecl]) -> Clients {
        let by_id = declared
            .iter()
            .map(|decl| {
                let client = Client {
                    id: decl.client_id.clone(),
                    redirect_uris: decl.redirect_uris.clone(),
                    post_logout_redirect_uris: decl.post_logout_redirect_uris.clone(),
                    allowed_scopes: decl.allowed_scopes.clone(),
                    id_token_alg: decl.id_token_alg,
                    require_pkce: decl.require_pkce || decl.secret.is_none(),
                    auth_method: decl.token_endpoint_auth_method,
                    backchannel_logout: decl.backchannel_logout.clone(),
                    frontchannel_logout: decl.frontchannel_logout.clone(),
                    secret_sha256: decl.secret.as_ref().map(|s| crypto::sha256_hex(s.expose())),
                    hs256_secret: decl
                        .secret
                        .clone()
                        .filter(|_| decl.id_token_alg == Alg::HS256),
                };
                (client.id.clone(), Arc::new(client))
            })
            .collect();
        Clients { by_id }
    }

    pub fn get(&self, client_id: &str) -> Option<Arc<Client>> {
        self.by_id.get(client_id).cloned()
    }

    pub fn all(&self) -> impl Iterator<Item = &Client> {
        self.by_id.values().map(Arc::as_ref)
    }

    /// Whether any client registered a redirect URI on this origin.
    pub fn has_origin(&self, origin: &str) -> bool {
        self.by_id
            .values()
            .any(|c| c.origins().any(|o| o == origin))
    }
}
