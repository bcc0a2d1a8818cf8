//! Where a product token may go: the destination a request asks for, checked against the
//! product before anything is signed (SPEC section 7).
use serde::Deserialize;
use url::Url;

use super::error::ProductError;
use crate::config::{ProductDecl, ProductFormat};
use crate::http::pages::is_local_path;
use crate::vocabulary::domains::normalize_host;

/// Longest `return_to` / `redirect_to` accepted.
const MAX_TARGET_LEN: usize = 2048;
/// Longest `hub_id` accepted.
const MAX_HUB_ID_LEN: usize = 128;

/// The destination fields of a request, as a query string (browser) or JSON (backend). Every
/// product takes `hub_domain`, the host the token is for (SPEC section 7); a hub also takes
/// `hub_id` and `return_to`, a workspace `redirect_to`, and `domain` as another name for
/// `hub_domain`. An empty value counts as absent.
#[derive(Debug, Default, Deserialize)]
pub struct SsoRequest {
    pub hub_domain: Option<String>,
    pub hub_id: Option<String>,
    pub return_to: Option<String>,
    pub domain: Option<String>,
    pub redirect_to: Option<String>,
}

/// A checked destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Hub {
        /// Lower-cased, on the product's domains; the token's `aud`.
        hub_domain: String,
        /// The product's `login_url` for this hub domain.
        login_url: Url,
        hub_id: Option<String>,
        /// A path on the hub.
        return_to: Option<String>,
    },
    Workspace {
        /// Lower-cased, on the product's domains.
        domain: String,
        /// `https://{domain}/sso`, where the workspace takes its tokens.
        login_url: Url,
        /// An https URL on the product's domains.
        redirect_to: Option<Url>,
    },
}

impl Destination {
    /// The host the token is for, as the person is shown it.
    pub fn host(&self) -> &str {
        match self {
            Destination::Hub { hub_domain, .. } => hub_domain,
            Destination::Workspace { domain, .. } => domain,
        }
    }

    /// The URL the token is handed to (before its query parameters are added).
    pub fn login_url(&self) -> &Url {
        match self {
            Destination::Hub { login_url, .. } | Destination::Workspace { login_url, .. } => {
                login_url
            }
        }
    }
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// The host, lower-cased, when it is a bare DNS name on the product's `allowed_domains` or its
/// `preview_domain`.
fn allowed_host(product: &ProductDecl, candidate: &str) -> Option<String> {
    let host = normalize_host(candidate)?;
    let allowed = product.allowed_domains.iter().any(|p| p.matches(&host))
        || product.preview_domain.as_deref() == Some(host.as_str());
    allowed.then_some(host)
}

/// Checks a request against the product: every field it gives must be one this product's format
/// takes, and every host and path must be allowed.
pub fn destination(
    product: &ProductDecl,
    request: &SsoRequest,
) -> Result<Destination, ProductError> {
    match &product.format {
        ProductFormat::Hub { login_url } => {
            if given(&request.domain).is_some() || given(&request.redirect_to).is_some() {
                return Err(ProductError::BadRequest(
                    "domain and redirect_to are for workspace products; a hub takes hub_domain, hub_id and return_to",
                ));
            }
            let hub_domain = given(&request.hub_domain)
                .ok_or(ProductError::BadRequest("hub_domain is required"))?;
            let hub_domain = allowed_host(product, hub_domain).ok_or(ProductError::BadRequest(
                "hub_domain is not one of this product's domains",
            ))?;
            let hub_id =
                given(&request.hub_id)
                    .map(|id| {
                        let valid = id.len() <= MAX_HUB_ID_LEN
                            && id.bytes().all(|b| {
                                b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
                            });
                        valid.then(|| id.to_string()).ok_or(ProductError::BadRequest(
                        "hub_id may hold only letters, digits, '-', '_' and '.' (at most 128)",
                    ))
                    })
                    .transpose()?;
            let return_to = given(&request.return_to)
                .map(|path| {
                    (path.len() <= MAX_TARGET_LEN && is_local_path(path))
                        .then(|| path.to_string())
                        .ok_or(ProductError::BadRequest(
                            "return_to must be a path on the hub, starting with a single /",
                        ))
                })
                .transpose()?;
            // Config validation accepts a login_url that is a URL once a hostname is filled in,
            // and hub_domain is a checked hostname.
            let login_url = Url::parse(&login_url.replace("{hub_domain}", &hub_domain))?;
            Ok(Destination::Hub {
                login_url,
                hub_domain,
                hub_id,
                return_to,
            })
        }
        ProductFormat::Workspace => {
            if given(&request.hub_id).is_some() || given(&request.return_to).is_some() {
                return Err(ProductError::BadRequest(
                    "hub_id and return_to are for hub products; a workspace takes hub_domain and redirect_to",
                ));
            }
            let domain = allowed_host(product, workspace_domain(request)?).ok_or(
                ProductError::BadRequest(
                    "the workspace domain is not one of this product's domains",
                ),
            )?;
            let redirect_to = given(&request.redirect_to)
                .map(|target| {
                    allowed_url(product, target).ok_or(ProductError::BadRequest(
                        "redirect_to must be an https URL on one of this product's domains",
                    ))
                })
                .transpose()?;
            let login_url = Url::parse(&format!("https://{domain}/sso"))?;
            Ok(Destination::Workspace {
                domain,
                login_url,
                redirect_to,
            })
        }
    }
}

/// A workspace's host: `hub_domain`, as every product takes it, or `domain`, the name workspace
/// links have used. Given both, they must name the same host, so that no link is read two ways.
fn workspace_domain(request: &SsoRequest) -> Result<&str, ProductError> {
    match (given(&request.hub_domain), given(&request.domain)) {
        (Some(hub_domain), Some(domain)) if !hub_domain.eq_ignore_ascii_case(domain) => {
            Err(ProductError::BadRequest(
                "hub_domain and domain name different hosts; give only hub_domain",
            ))
        }
        (Some(host), _) | (None, Some(host)) => Ok(host),
        (None, None) => Err(ProductError::BadRequest("hub_domain is required")),
    }
}

/// An absolute https URL without user information or a port, whose host is allowed.
fn allowed_url(product: &ProductDecl, target: &str) -> Option<Url> {
    if target.len() > MAX_TARGET_LEN {
        return None;
    }
    let url = Url::parse(target).ok()?;
    is_product_url(product, &url).then_some(url)
}

/// Whether `url` is https without user information or a port, on a host the product allows.
pub fn is_product_url(product: &ProductDecl, url: &Url) -> bool {
    url.scheme() == "https"
        && url.username().is_empty()
        && url.password().is_none()
        && url.port().is_none()
        && url
            .host_str()
            .is_some_and(|host| allowed_host(product, host).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::vocabulary::domains::DomainPattern;

    fn product(format: ProductFormat) -> ProductDecl {
        ProductDecl {
            id: "p".into(),
            format,
            allowed_domains: vec![
                DomainPattern::parse("help.example.com").unwrap(),
                DomainPattern::parse("*.help.example.com").unwrap(),
            ],
            preview_domain: Some("preview.example.net".into()),
            secrets: vec![Secret::new("x".repeat(32))],
            token_ttl: 300,
        }
    }

    fn hub(hub_domain: &str, return_to: Option<&str>) -> Result<Destination, ProductError> {
        destination(
            &product(ProductFormat::Hub {
                login_url: "https://{hub_domain}/sso".into(),
            }),
            &SsoRequest {
                hub_domain: Some(hub_domain.into()),
                return_to: return_to.map(Into::into),
                ..SsoRequest::default()
            },
        )
    }

    #[test]
    fn hub_destinations() {
        assert_eq!(
            hub("ACME.help.example.com", Some("/tickets?id=1")).unwrap(),
            Destination::Hub {
                login_url: Url::parse("https://acme.help.example.com/sso").unwrap(),
                hub_domain: "acme.help.example.com".into(),
                hub_id: None,
                return_to: Some("/tickets?id=1".into()),
            }
        );
        assert!(hub("preview.example.net", None).is_ok());
        assert!(hub("other.example.net", None).is_err());
        for bad in [
            "//evil.com",
            "/\\evil.com",
            "https://evil.com",
            "/a\nb",
            "x",
        ] {
            assert!(hub("help.example.com", Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn fields_of_the_other_format_are_refused() {
        let request = SsoRequest {
            hub_domain: Some("help.example.com".into()),
            redirect_to: Some("https://help.example.com/".into()),
            ..SsoRequest::default()
        };
        assert!(
            destination(
                &product(ProductFormat::Hub {
                    login_url: "https://{hub_domain}/sso".into()
                }),
                &request
            )
            .is_err()
        );
        let request = SsoRequest {
            domain: Some("help.example.com".into()),
            return_to: Some("/".into()),
            ..SsoRequest::default()
        };
        assert!(destination(&product(ProductFormat::Workspace), &request).is_err());
    }

    #[test]
    fn workspace_redirects_stay_on_the_product() {
        let workspace = |redirect_to: &str| {
            destination(
                &product(ProductFormat::Workspace),
                &SsoRequest {
                    domain: Some("acme.help.example.com".into()),
                    redirect_to: Some(redirect_to.into()),
                    ..SsoRequest::default()
                },
            )
        };
        assert!(workspace("https://acme.help.example.com/inbox?x=1").is_ok());
        assert!(workspace("https://help.example.com:443/").is_ok());
        for bad in [
            "https://evil.com/",
            "http://acme.help.example.com/",
            "https://acme.help.example.com:8443/",
            "https://user@acme.help.example.com/",
            "https://acme.help.example.com.evil.com/",
            "/inbox",
            "javascript:alert(1)",
        ] {
            assert!(workspace(bad).is_err(), "{bad}");
        }
    }
}
