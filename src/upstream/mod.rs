//! Where a person proves who they are: a local account here, a customer's identity provider
//! (SAML, OpenID Connect) in the connectors that later issues add. All of them sit behind one
//! interface, so the authorization flow never asks which kind it is dealing with: it asks the
//! registry for the connector a `login_hint` points to (home-realm discovery by email domain)
//! and sends the browser where that connector says. A connector signs the person in, starts the
//! idbridge session and sends the browser back to the pending authorization's resume URL.
mod local;

use std::sync::Arc;

pub use local::LocalLogin;

/// What a connector needs to start a login for a pending authorization.
#[derive(Debug, Clone, Copy)]
pub struct LoginRequest<'a> {
    /// The pending authorization, which the connector's callback resumes; it doubles as the
    /// upstream `state` / SAML `RelayState`.
    pub pending_id: &'a str,
    /// Where the browser goes once signed in.
    pub resume_path: &'a str,
    /// Ask for credentials even if the browser is signed in (`prompt=login`, `max_age`).
    pub force: bool,
    pub login_hint: Option<&'a str>,
}

/// One way to sign in.
pub trait UpstreamConnector: Send + Sync {
    /// The connection id (`local` for local accounts).
    fn id(&self) -> &str;
    /// Email domains whose users sign in here (home-realm discovery).
    fn domains(&self) -> &[String];
    /// Where to send the browser to start signing in.
    fn begin(&self, request: &LoginRequest) -> String;
}

/// The connectors of this deployment; local login when no connector claims the hint.
pub struct Connectors {
    local: LocalLogin,
    upstream: Vec<Arc<dyn UpstreamConnector>>,
}

impl Connectors {
    pub fn new(upstream: Vec<Arc<dyn UpstreamConnector>>) -> Connectors {
        Connectors {
            local: LocalLogin,
            upstream,
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Acme(Vec<String>);

    impl UpstreamConnector for Acme {
        fn id(&self) -> &str {
            "acme"
        }
        fn domains(&self) -> &[String] {
            &self.0
        }
        fn begin(&self, request: &LoginRequest) -> String {
            format!("/saml/acme/login?pending={}", request.pending_id)
        }
    }

    #[test]
    fn the_email_domain_picks_the_connector() {
        let connectors = Connectors::new(vec![Arc::new(Acme(vec!["acme.com".into()]))]);
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
