//! Where a person proves who they are: a local account, or a customer's identity provider
//! (OpenID Connect or SAML). All of them sit behind one interface, so neither the login
//! page nor the authorization flow asks which kind it is dealing with: they ask the registry for
//! the connector a `login_hint` points to (home-realm discovery by email domain) and send the
//! browser where that connector says. A connector signs the person in, starts the idbridge
//! session and sends the browser on to the `return_to` it was given (for an authorization, its
//! resume URL).
mod local;
mod oidc;
mod routes;
mod saml;
mod saml_limits;
mod saml_scan;

use std::collections::HashMap;
use std::sync::Arc;

use url::form_urlencoded::Serializer;

use crate::config::{Config, ConnectionProtocol};
pub use local::LocalLogin;
pub use oidc::OidcConnector;
pub use routes::router;
pub use saml::{SamlConnector, SamlIdentity};
use saml_limits::SamlLimits;

/// What a connector needs to start a login.
#[derive(Debug, Clone, Copy)]
pub struct LoginRequest<'a> {
    /// A local path: where the browser goes once signed in.
    pub return_to: &'a str,
    /// Ask for credentials even if the browser is signed in (`prompt=login`, `max_age`).
    pub force: bool,
    pub login_hint: Option<&'a str>,
}

/// One way to sign in.
pub trait UpstreamConnector: Send + Sync {
    /// The connection id (`local` for local accounts).
    fn id(&self) -> &str;
    /// What the login page calls it.
    fn name(&self) -> &str;
    /// Email domains whose users sign in here (home-realm discovery).
    fn domains(&self) -> &[String];
    /// Where to send the browser to start signing in.
    fn begin(&self, request: &LoginRequest) -> String;
}

/// The query string every connector's login path takes: `return_to`, `force`, `login_hint`.
fn login_query(request: &LoginRequest) -> String {
    let mut query = Serializer::new(String::new());
    query.append_pair("return_to", request.return_to);
    if request.force {
        query.append_pair("force", "1");
    }
    if let Some(hint) = request.login_hint {
        query.append_pair("login_hint", hint);
    }
    query.finish()
}

/// Refuses a person whose email address is not in one of the connection's `domains`, when it has
/// any. A provider may sign in people of other organisations too (a Google or Entra multi-tenant
/// app, guests): only the connection's own domains are its people.
pub fn check_domain(connector: &dyn UpstreamConnector, email: &str) -> Result<(), UpstreamError> {
    let email_domain = email
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_ascii_lowercase())
        .unwrap_or_default();
    let domains = connector.domains();
    if domains.is_empty() || domains.contains(&email_domain) {
        return Ok(());
    }
    Err(UpstreamError::ForeignDomain {
        connection: connector.id().to_string(),
        email_domain,
    })
}

/// Why a login at an upstream identity provider did not work.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("connection {connection}: the identity provider could not be reached: {detail}")]
    Unreachable { connection: String, detail: String },
    #[error("connection {connection}: the identity provider's answer was refused: {detail}")]
    Invalid { connection: String, detail: String },
    #[error("connection {connection}: the identity provider answered error={code}")]
    Denied { connection: String, code: String },
    #[error("connection {connection}: {email_domain} is not one of the connection's domains")]
    ForeignDomain {
        connection: String,
        email_domain: String,
    },
    #[error("connection {connection}: the SAML response was refused: {detail}")]
    Rejected { connection: String, detail: String },
    #[error("connection {connection}: too many SAML responses from one address")]
    TooManyResponses { connection: String },
    #[error("connection {connection}: no SAML verification turn came free in time")]
    Busy { connection: String },
}

/// The connectors of this deployment; local login when no connector claims the hint.
pub struct Connectors {
    local: LocalLogin,
    upstream: Vec<Arc<dyn UpstreamConnector>>,
    oidc: HashMap<String, Arc<OidcConnector>>,
    saml: HashMap<String, Arc<SamlConnector>>,
    /// What SAML responses may cost, over all SAML connections.
    saml_limits: SamlLimits,
}

impl Connectors {
    /// The connectors `config` declares.
    pub fn from_config(config: &Config) -> Result<Connectors, UpstreamError> {
        let mut upstream: Vec<Arc<dyn UpstreamConnector>> = Vec::new();
        let mut oidc = HashMap::new();
        let mut saml = HashMap::new();
        for connection in &config.connections {
            match &connection.protocol {
                ConnectionProtocol::Oidc(settings) => {
                    let connector =
                        Arc::new(OidcConnector::new(connection.clone(), settings.clone())?);
                    oidc.insert(connection.id.clone(), connector.clone());
                    upstream.push(connector);
                }
                ConnectionProtocol::Saml(settings) => {
                    let connector = Arc::new(SamlConnector::new(
                        connection.clone(),
                        settings.clone(),
                        &config.server.issuer,
                    ));
                    saml.insert(connection.id.clone(), connector.clone());
                    upstream.push(connector);
                }
            }
        }
        Ok(Connectors {
            local: LocalLogin,
            upstream,
            oidc,
            saml,
            saml_limits: SamlLimits::default(),
        })
    }

    /// The connector for a login hint: the one whose `domains` contain the hint's email domain
    /// (compared case-insensitively), or local login.
    pub fn for_login_hint(&self, hint: Option<&str>) -> &dyn UpstreamConnector {
        let domain = hint
            .and_then(|hint| hint.rsplit_once('@'))
            .map(|(_, domain)| domain.to_ascii_lowercase());
        domain
            .and_then(|domain| {
                self.upstream.iter().find(|connector| {
                    connector
                        .domains()
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(&domain))
                })
            })
            .map(|connector| connector.as_ref())
            .unwrap_or(&self.local)
    }

    /// Fetches the metadata of SAML connections that name a URL for it; an error names the
    /// first connection that failed.
    pub async fn fetch_metadata(&self) -> Result<(), UpstreamError> {
        for connector in self.saml.values() {
            connector.fetch_metadata().await?;
        }
        Ok(())
    }

    /// The upstream connectors, for the login page to offer.
    pub fn upstream(&self) -> impl Iterator<Item = &dyn UpstreamConnector> {
        self.upstream.iter().map(|connector| connector.as_ref())
    }

    fn oidc(&self, id: &str) -> Option<&OidcConnector> {
        self.oidc.get(id).map(|connector| connector.as_ref())
    }

    fn saml(&self, id: &str) -> Option<Arc<SamlConnector>> {
        self.saml.get(id).cloned()
    }

    fn saml_limits(&self) -> &SamlLimits {
        &self.saml_limits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Acme(Vec<String>);

    impl UpstreamConnector for Acme {
        fn id(&self) -> &str {
            "acme"
        }
        fn name(&self) -> &str {
            "Acme"
        }
        fn domains(&self) -> &[String] {
            &self.0
        }
        fn begin(&self, request: &LoginRequest) -> String {
            format!("/saml/acme/login?{}", login_query(request))
        }
    }

    #[test]
    fn the_email_domain_picks_the_connector() {
        let connectors = Connectors {
            local: LocalLogin,
            upstream: vec![Arc::new(Acme(vec!["acme.com".into()]))],
            oidc: HashMap::new(),
            saml: HashMap::new(),
            saml_limits: SamlLimits::default(),
        };
        assert_eq!(connectors.for_login_hint(Some("bob@ACME.com")).id(), "acme");
        for other in [
            Some("bob@example.com"),
            Some("e-mer-1"),
            Some("acme.com"),
            None,
        ] {
            assert_eq!(connectors.for_login_hint(other).id(), "local", "{other:?}");
        }
        // A subdomain is another realm.
        assert_eq!(
            connectors.for_login_hint(Some("bob@evil.acme.com")).id(),
            "local"
        );
    }
}
