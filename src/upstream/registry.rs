//! The connectors of this deployment, by id: local accounts and every configured connection.
use std::collections::BTreeMap;
use std::sync::Arc;

use super::saml::SamlLimits;
use super::{Connector, LocalAccounts, OidcConnector, SamlConnector, UpstreamError, email_domain};
use crate::config::{Config, ConnectionProtocol};

/// The connectors of this deployment; local accounts when no connection claims a login hint.
pub struct Connectors {
    local: Arc<LocalAccounts>,
    /// The configured connections, in config order (the login page lists them so), disabled ones
    /// included: their domains stay theirs, so no other provider may assert those addresses.
    upstream: Vec<Arc<dyn Connector>>,
    /// Every enabled connector by id, local accounts included.
    by_id: BTreeMap<String, Arc<dyn Connector>>,
    /// What SAML responses may cost, over all SAML connections.
    saml_limits: Arc<SamlLimits>,
}

impl Connectors {
    /// The per-address budget of SAML messages, which the SAML IdP's requests share with the
    /// responses posted to the connections' ACS.
    pub fn saml_limits(&self) -> &SamlLimits {
        &self.saml_limits
    }

    /// The connectors `config` declares.
    pub fn from_config(config: &Config) -> Result<Connectors, UpstreamError> {
        Connectors::carrying_over(config, None, |_| false)
    }

    /// The connectors `config` declares, taking over from `previous` its limits and the
    /// connectors of the connections `unchanged` names (with what they fetched of their
    /// provider).
    pub fn carrying_over(
        config: &Config,
        previous: Option<&Connectors>,
        unchanged: impl Fn(&str) -> bool,
    ) -> Result<Connectors, UpstreamError> {
        let saml_limits = previous.map_or_else(
            || {
                Arc::new(SamlLimits::new(
                    config.server.saml_posts_per_minute_per_address,
                ))
            },
            |previous| previous.saml_limits.clone(),
        );
        let kept = |id: &str| {
            previous
                .filter(|_| unchanged(id))
                .and_then(|previous| previous.upstream.iter().find(|c| c.id() == id).cloned())
        };
        let mut upstream: Vec<Arc<dyn Connector>> = Vec::new();
        let mut disabled = Vec::new();
        for connection in &config.connections {
            if !connection.enabled {
                disabled.push(connection.id.as_str());
            }
            let connector: Arc<dyn Connector> = match (kept(&connection.id), &connection.protocol) {
                (Some(connector), _) => connector,
                (None, ConnectionProtocol::Oidc(settings)) => Arc::new(OidcConnector::new(
                    connection.clone(),
                    settings.clone(),
                    &config.server.issuer,
                )?),
                (None, ConnectionProtocol::Saml(settings)) => Arc::new(SamlConnector::new(
                    connection.clone(),
                    settings.clone(),
                    &config.server.issuer,
                    saml_limits.clone(),
                )),
            };
            upstream.push(connector);
        }
        let mut connectors = Connectors::new(upstream);
        connectors.saml_limits = saml_limits;
        for id in disabled {
            connectors.by_id.remove(id);
        }
        Ok(connectors)
    }

    fn new(upstream: Vec<Arc<dyn Connector>>) -> Connectors {
        let local = Arc::new(LocalAccounts);
        let mut by_id: BTreeMap<String, Arc<dyn Connector>> = upstream
            .iter()
            .map(|connector| (connector.id().to_string(), connector.clone()))
            .collect();
        by_id.insert(LocalAccounts::ID.to_string(), local.clone());
        Connectors {
            local,
            upstream,
            by_id,
            saml_limits: Arc::new(SamlLimits::new(0)),
        }
    }

    /// Whether the connector `id` takes logins.
    fn enabled(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// The connector `id`.
    pub fn get(&self, id: &str) -> Option<&Arc<dyn Connector>> {
        self.by_id.get(id)
    }

    /// Local accounts.
    pub fn local(&self) -> &LocalAccounts {
        &self.local
    }

    /// The connector for a login hint: the one whose `domains` contain the hint's email domain
    /// (compared case-insensitively), or local accounts.
    pub fn for_login_hint(&self, hint: Option<&str>) -> &dyn Connector {
        let domain = hint
            .and_then(|hint| hint.rsplit_once('@'))
            .map(|(_, domain)| domain.to_ascii_lowercase());
        domain
            .and_then(|domain| {
                self.upstream().find(|connector| {
                    connector
                        .domains()
                        .iter()
                        .any(|d| d.eq_ignore_ascii_case(&domain))
                })
            })
            .unwrap_or(self.local.as_ref())
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
        connection: &dyn Connector,
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

    /// Reads again what every connector fetches of its provider (SAML metadata from a URL),
    /// each whatever became of the others: one customer's IdP being down must not hold up
    /// another's key rollover. The errors, one per connector that failed (it keeps what was read
    /// before); in id order.
    pub async fn fetch_metadata(&self) -> Vec<UpstreamError> {
        let mut failed = Vec::new();
        for connector in self.by_id.values() {
            if let Err(error) = connector.refresh().await {
                failed.push(error);
            }
        }
        failed
    }

    /// The enabled upstream connectors, for the login page to offer.
    pub fn upstream(&self) -> impl Iterator<Item = &dyn Connector> {
        self.upstream
            .iter()
            .filter(|connector| self.enabled(connector.id()))
            .map(|connector| connector.as_ref())
    }

    /// Reads again what the connector `id` fetches of its provider.
    pub async fn fetch_metadata_of(&self, id: &str) -> Option<Result<(), UpstreamError>> {
        Some(self.by_id.get(id)?.refresh().await)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        Admission, Answer, AnswerRoute, Context, Identity, LoginRequest, Outgoing, Working,
    };
    use super::*;
    use crate::store::KeptLogin;

    struct Fake {
        id: &'static str,
        domains: Vec<String>,
    }

    impl Connector for Fake {
        fn id(&self) -> &str {
            self.id
        }
        fn name(&self) -> &str {
            self.id
        }
        fn domains(&self) -> &[String] {
            &self.domains
        }
        fn kind(&self) -> &'static str {
            "fake"
        }
        fn answer_route(&self) -> AnswerRoute {
            AnswerRoute::Callback
        }
        fn begin<'a>(
            &'a self,
            _: &'a LoginRequest<'a>,
            _: i64,
        ) -> Working<'a, Result<Outgoing, UpstreamError>> {
            Box::pin(async { Ok(Outgoing::default()) })
        }
        fn complete<'a>(
            &'a self,
            _: &'a Answer,
            _: Option<&'a KeptLogin>,
            _: &'a Context<'a>,
            _: Admission,
        ) -> Working<'a, Result<Identity, UpstreamError>> {
            Box::pin(async { Err(UpstreamError::InvalidCredentials) })
        }
    }

    fn fake(id: &'static str, domains: &[&str]) -> Arc<dyn Connector> {
        Arc::new(Fake {
            id,
            domains: domains.iter().map(|d| d.to_string()).collect(),
        })
    }

    #[test]
    fn a_domain_is_asserted_by_its_connection_only() {
        let acme = fake("acme", &["acme.com"]);
        let open = fake("open", &[]);
        let connectors = Connectors::new(vec![acme.clone(), open.clone()]);
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
        let connectors = Connectors::new(vec![fake("acme", &["acme.com"])]);
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
