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

use std::collections::{BTreeMap, HashMap};
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

/// Why a response body was not read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Read(#[from] openidconnect::reqwest::Error),
}

/// Reads a provider's answer of at most `limit` bytes, chunk by chunk: a provider that sends
/// more (hostile, or broken) is refused before it can fill memory.
async fn read_limited(
    mut response: openidconnect::reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The domain of an email address, lower-cased.
fn email_domain(email: &str) -> String {
    email
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_ascii_lowercase())
        .unwrap_or_default()
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
    #[error("connection {connection}: the provider did not say the email address is verified")]
    UnverifiedEmail { connection: String },
    #[error(
        "connection {connection}: {email_domain} belongs to connection {owner}, which alone may sign its people in"
    )]
    ClaimedDomain {
        connection: String,
        email_domain: String,
        owner: String,
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
    /// By id, so that metadata is fetched in a stable order.
    saml: BTreeMap<String, Arc<SamlConnector>>,
    /// What SAML responses may cost, over all SAML connections.
    saml_limits: SamlLimits,
}

impl Connectors {
    /// The connectors `config` declares.
    pub fn from_config(config: &Config) -> Result<Connectors, UpstreamError> {
        let mut upstream: Vec<Arc<dyn UpstreamConnector>> = Vec::new();
        let mut oidc = HashMap::new();
        let mut saml = BTreeMap::new();
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

    /// Refuses an email address that `connection`'s provider may not assert, before anyone is
    /// signed in with it (OIDC and SAML alike; products know people by their address):
    /// - one in a domain another connection lists: that domain's people sign in at their own
    ///   provider only, so no other provider can speak for them;
    /// - for a connection with `domains`, one outside them: a provider that also signs in other
    ///   organisations' people (Google, a multi-tenant Entra app, guests) cannot attach them to
    ///   this connection's entity.
    ///
    /// A connection without `domains` may assert addresses of every domain no connection lists.
    pub fn check_email(
        &self,
        connection: &dyn UpstreamConnector,
        email: &str,
    ) -> Result<(), UpstreamError> {
        let email_domain = email_domain(email);
        let owner = self
            .upstream
            .iter()
            .find(|connector| connector.domains().contains(&email_domain));
        match owner {
            Some(owner) if owner.id() == connection.id() => Ok(()),
            Some(owner) => Err(UpstreamError::ClaimedDomain {
                connection: connection.id().to_string(),
                email_domain,
                owner: owner.id().to_string(),
            }),
            None if connection.domains().is_empty() => Ok(()),
            None => Err(UpstreamError::ForeignDomain {
                connection: connection.id().to_string(),
                email_domain,
            }),
        }
    }

    /// Fetches the metadata of every SAML connection that names a URL for it, each whatever
    /// became of the others: one customer's IdP being down must not hold up another's key
    /// rollover. The errors, one per connection that failed (it keeps what was read before).
    pub async fn fetch_metadata(&self) -> Vec<UpstreamError> {
        let mut failed = Vec::new();
        for connector in self.saml.values() {
            if let Err(error) = connector.fetch_metadata().await {
                failed.push(error);
            }
        }
        failed
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

    struct Open;

    impl UpstreamConnector for Open {
        fn id(&self) -> &str {
            "open"
        }
        fn name(&self) -> &str {
            "Open"
        }
        fn domains(&self) -> &[String] {
            &[]
        }
        fn begin(&self, request: &LoginRequest) -> String {
            format!("/oidc/open/login?{}", login_query(request))
        }
    }

    #[test]
    fn a_domain_is_asserted_by_its_connection_only() {
        let acme = Arc::new(Acme(vec!["acme.com".into()]));
        let open = Arc::new(Open);
        let connectors = Connectors {
            local: LocalLogin,
            upstream: vec![acme.clone(), open.clone()],
            oidc: HashMap::new(),
            saml: BTreeMap::new(),
            saml_limits: SamlLimits::default(),
        };
        assert!(
            connectors
                .check_email(acme.as_ref(), "bob@ACME.com")
                .is_ok()
        );
        assert!(matches!(
            connectors.check_email(acme.as_ref(), "bob@example.com"),
            Err(UpstreamError::ForeignDomain { .. })
        ));
        assert!(
            connectors
                .check_email(open.as_ref(), "bob@example.com")
                .is_ok()
        );
        assert!(matches!(
            connectors.check_email(open.as_ref(), "ceo@Acme.com"),
            Err(UpstreamError::ClaimedDomain { owner, .. }) if owner == "acme"
        ));
        // A subdomain is another domain, which acme does not list.
        assert!(
            connectors
                .check_email(open.as_ref(), "bob@eu.acme.com")
                .is_ok()
        );
    }

    #[test]
    fn the_email_domain_picks_the_connector() {
        let connectors = Connectors {
            local: LocalLogin,
            upstream: vec![Arc::new(Acme(vec!["acme.com".into()]))],
            oidc: HashMap::new(),
            saml: BTreeMap::new(),
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
