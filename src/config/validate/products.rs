//! `[[products]]`: the downstream products that take an HS256 SSO JWT.
use std::collections::HashSet;

use super::checker::{Checker, check_unique, is_url_safe_id};
use super::urls::check_redirect_uri;
use crate::config::file::FileProduct;
use crate::config::*;
use crate::vocabulary::domains::{self, DomainPattern};

/// Default lifetime of a product SSO JWT: long enough for a redirect, short against replay.
const DEFAULT_PRODUCT_TOKEN_TTL: i64 = 5 * 60;

pub(super) fn check_products(
    check: &mut Checker,
    products: &[FileProduct],
    issuer_is_https: bool,
) -> Vec<ProductDecl> {
    let mut seen = HashSet::new();
    let mut declared = Vec::new();
    for (i, product) in products.iter().enumerate() {
        let path = format!("products[{i}]");
        let problems_before = check.problems.len();
        if check_unique(check, &mut seen, format!("{path}.id"), &product.id).is_some()
            && !is_url_safe_id(&product.id)
        {
            check.problem(
                format!("{path}.id"),
                "only letters, digits, '-', '_' and '.' (it is part of /sso/jwt/{id})",
            );
        }
        let format = match (product.format.as_str(), product.login_url.as_deref()) {
            ("hub", None) => {
                check.problem(format!("{path}.login_url"), "required for format hub");
                None
            }
            ("hub", Some(login_url)) => {
                if !login_url.contains("{hub_domain}") {
                    check.problem(
                        format!("{path}.login_url"),
                        "must contain {hub_domain} (example: https://{hub_domain}/login/sso)",
                    );
                } else if let Err(message) = check_redirect_uri(
                    &login_url.replace("{hub_domain}", "hub.example.com"),
                    issuer_is_https,
                ) {
                    check.problem(format!("{path}.login_url"), message);
                }
                Some(ProductFormat::Hub {
                    login_url: login_url.to_string(),
                })
            }
            ("workspace", None) => Some(ProductFormat::Workspace),
            ("workspace", Some(_)) => {
                check.problem(
                    format!("{path}.login_url"),
                    "only for format hub (a workspace is sent to https://{domain}/sso)",
                );
                None
            }
            _ => {
                check.problem(format!("{path}.format"), "must be hub or workspace");
                None
            }
        };
        let allowed_domains = check.required_list(
            &format!("{path}.allowed_domains"),
            &product.allowed_domains,
            "at least one is required",
            |check, path, value| {
                DomainPattern::parse(value)
                    .map_err(|message| check.problem(path, message))
                    .ok()
            },
        );
        let preview_domain = product.preview_domain.as_deref().and_then(|value| {
            let host = domains::normalize_host(value);
            if host.is_none() {
                check.problem(
                    format!("{path}.preview_domain"),
                    "not a DNS hostname (no scheme, port, path, wildcard or trailing dot)",
                );
            }
            host
        });
        let secrets = check.required_list(
            &format!("{path}.secrets"),
            &product.secrets,
            "at least one is required (the first signs)",
            |check, path, value| check.hmac_secret(path, value),
        );
        let token_ttl = check.duration(
            &format!("{path}.token_ttl"),
            product.token_ttl.as_deref(),
            DEFAULT_PRODUCT_TOKEN_TTL,
        );
        if let Some(format) = format
            && check.problems.len() == problems_before
        {
            declared.push(ProductDecl {
                id: product.id.clone(),
                format,
                allowed_domains,
                preview_domain,
                secrets,
                token_ttl,
            });
        }
    }
    declared
}
