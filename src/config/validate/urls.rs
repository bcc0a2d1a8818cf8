//! The URLs of the config: the issuer, redirect URIs, and targets idbridge calls (webhooks,
//! upstream endpoints).
use url::Url;

pub(super) fn check_issuer(value: &str) -> Result<String, &'static str> {
    let url = Url::parse(value).map_err(|_| "not an absolute URL")?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("must be an http or https URL with a host");
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment");
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// A redirect target a client registers: absolute, no fragment, https unless it points at the
/// machine itself or the whole deployment runs on plain http (a development setup).
pub(super) fn check_redirect_uri(value: &str, issuer_is_https: bool) -> Result<(), &'static str> {
    let url = parse_target_url(value)?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if !issuer_is_https || is_loopback(&url) => Ok(()),
        "http" => Err("must use https (plain http is allowed only for loopback hosts)"),
        _ => Err("must be an http or https URL"),
    }
}

/// An absolute URL that idbridge sends people or data to: no fragment, no user information.
pub(super) fn parse_target_url(value: &str) -> Result<Url, &'static str> {
    let url = Url::parse(value).map_err(|_| "not an absolute URL")?;
    if url.fragment().is_some() {
        return Err("must not have a fragment");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry user information");
    }
    Ok(url)
}

pub(super) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(domain)) => domain == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A URL idbridge fetches from (an upstream IdP's endpoints, metadata): https, except on the
/// machine itself (a development setup, or tests).
pub(super) fn parse_upstream_url(value: &str) -> Result<Url, &'static str> {
    let url = Url::parse(value).map_err(|_| "not an absolute URL")?;
    // It is shown by the admin API and in logs and errors: no password may ride in it.
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry user information");
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        _ => Err("must be an https URL (http only for loopback hosts)"),
    }
}
