//! The HS256 SSO JWT of a product and the URL that carries it (SPEC section 7). Tokens are
//! signed with the product's first secret; the others are kept in the config only while the
//! product moves to the new one.
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Map, Value, json};
use url::Url;

use super::error::ProductError;
use super::request::Destination;
use crate::config::ProductDecl;
use crate::crypto;

/// The signed-in user a token is about.
#[derive(Debug, Clone)]
pub struct SsoUser {
    pub id: String,
    /// Empty for a session URL's customer whose profile has none yet.
    pub email: String,
    pub name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub organization: Option<Organization>,
}

/// The user's organization: the attached entity nearest to MERCHANT.
#[derive(Debug, Clone)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub level: &'static str,
    /// Entity names from the root, as in `attached_to`.
    pub path: String,
}

#[derive(Serialize)]
struct HubClaims<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    /// The hub domain the token is for, so that one tenant cannot replay it at another.
    aud: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    hub_id: Option<&'a str>,
    user: HubUser<'a>,
}

#[derive(Serialize)]
struct HubUser<'a> {
    /// The user's stable idbridge id (the OIDC `sub`), never the email: a hub that keys its
    /// accounts on it cannot confuse two people, whichever addresses their providers assert.
    id: &'a str,
    email: &'a str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    given_name: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    family_name: Option<&'a str>,
    /// idbridge keeps no per-user custom data: always `{}`.
    custom_data: Map<String, Value>,
    /// Absent for a user attached to no entity: the format has no `null` organization.
    #[serde(skip_serializing_if = "Option::is_none")]
    organization: Option<HubOrganization<'a>>,
}

#[derive(Serialize)]
struct HubOrganization<'a> {
    id: &'a str,
    name: &'a str,
    /// Where the organization sits in the hierarchy: `{"level", "path"}`.
    custom_data: Value,
}

#[derive(Serialize)]
struct WorkspaceClaims<'a> {
    iss: &'a str,
    /// `{email}:{domain}`, as the format fixes it: the workspace knows people by address only.
    /// That is safe because an address reaches here only from its rightful source: a domain a
    /// connection lists is asserted by that connection's provider alone, and an OIDC provider's
    /// address must be verified unless the provider owns the domain (see docs/security.md).
    sub: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    redirect_to: Option<&'a str>,
}

fn sign(product: &ProductDecl, claims: &impl Serialize) -> Result<String, ProductError> {
    let key = EncodingKey::from_secret(product.signing_secret().expose().as_bytes());
    Ok(jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &key,
    )?)
}

/// Whether a token for `destination` can name someone with this address: a workspace knows
/// people by address alone, so without one there is no one to name.
pub fn can_name(destination: &Destination, email: &str) -> Result<(), ProductError> {
    match destination {
        Destination::Workspace { .. } if email.is_empty() => Err(ProductError::NoEmail),
        _ => Ok(()),
    }
}

/// Signs a token for `user` and returns the URL that hands it to the product at `destination`
/// (which [`super::request::destination`] has checked against this product).
pub fn login_url(
    product: &ProductDecl,
    issuer: &str,
    destination: &Destination,
    user: &SsoUser,
    now: i64,
) -> Result<Url, ProductError> {
    let exp = now + product.token_ttl;
    match destination {
        Destination::Hub {
            login_url,
            hub_domain,
            hub_id,
            return_to,
        } => {
            let claims = HubClaims {
                iss: issuer,
                iat: now,
                exp,
                jti: crypto::random_token(),
                aud: hub_domain,
                hub_id: hub_id.as_deref(),
                user: HubUser {
                    id: &user.id,
                    email: &user.email,
                    name: &user.name,
                    given_name: user.given_name.as_deref(),
                    family_name: user.family_name.as_deref(),
                    custom_data: Map::new(),
                    organization: user.organization.as_ref().map(|org| HubOrganization {
                        id: &org.id,
                        name: &org.name,
                        custom_data: json!({"level": org.level, "path": org.path}),
                    }),
                },
            };
            let token = sign(product, &claims)?;
            let mut url = login_url.clone();
            url.query_pairs_mut().append_pair("jwt", &token);
            if let Some(return_to) = return_to {
                url.query_pairs_mut().append_pair("return_to", return_to);
            }
            Ok(url)
        }
        Destination::Workspace {
            domain,
            login_url,
            redirect_to,
        } => {
            can_name(destination, &user.email)?;
            let claims = WorkspaceClaims {
                iss: issuer,
                sub: format!("{}:{domain}", user.email),
                iat: now,
                nbf: now,
                exp,
                jti: crypto::random_token(),
                redirect_to: redirect_to.as_ref().map(Url::as_str),
            };
            let token = sign(product, &claims)?;
            let mut url = login_url.clone();
            url.query_pairs_mut()
                .append_pair("identifier", &user.email)
                .append_pair("strategy", "email")
                .append_pair("token", &token);
            Ok(url)
        }
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{DecodingKey, Validation};

    use super::*;
    use crate::config::{ProductFormat, Secret};
    use crate::vocabulary::domains::DomainPattern;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn product(format: ProductFormat) -> ProductDecl {
        ProductDecl {
            id: "p".into(),
            format,
            allowed_domains: vec![DomainPattern::parse("*.help.example.com").unwrap()],
            preview_domain: None,
            secrets: vec![Secret::new(SECRET), Secret::new("o".repeat(32))],
            token_ttl: 300,
        }
    }

    fn alice() -> SsoUser {
        SsoUser {
            id: "u-alice".into(),
            email: "alice+1@example.com".into(),
            name: "Alice Example".into(),
            given_name: None,
            family_name: None,
            organization: None,
        }
    }

    fn param(url: &Url, name: &str) -> String {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap()
    }

    #[test]
    fn hub_url_carries_a_token_for_the_hub_domain() {
        let destination = Destination::Hub {
            login_url: Url::parse("https://acme.help.example.com/login/sso?lang=en").unwrap(),
            hub_domain: "acme.help.example.com".into(),
            hub_id: None,
            return_to: Some("/a b?c=d&e".into()),
        };
        let url = login_url(
            &product(ProductFormat::Hub {
                login_url: "https://{hub_domain}/login/sso?lang=en".into(),
            }),
            "https://id.example.com",
            &destination,
            &alice(),
            1000,
        )
        .unwrap();
        assert_eq!(url.host_str(), Some("acme.help.example.com"));
        assert_eq!(url.path(), "/login/sso");
        assert_eq!(param(&url, "lang"), "en");
        assert_eq!(param(&url, "return_to"), "/a b?c=d&e");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_audience(&["acme.help.example.com"]);
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<Value>(
            param(&url, "jwt"),
            &DecodingKey::from_secret(SECRET.as_bytes()),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["exp"], 1300);
        assert_eq!(
            claims["user"]["id"], "u-alice",
            "the stable id, not the email"
        );
        assert_eq!(claims["user"]["email"], "alice+1@example.com");
        assert_eq!(claims["user"]["organization"], Value::Null);
        assert!(claims.get("hub_id").is_none());
    }

    #[test]
    fn workspace_url_is_encoded_part_by_part() {
        let destination = Destination::Workspace {
            domain: "acme.help.example.com".into(),
            login_url: Url::parse("https://acme.help.example.com/sso").unwrap(),
            redirect_to: None,
        };
        let url = login_url(
            &product(ProductFormat::Workspace),
            "https://id.example.com",
            &destination,
            &alice(),
            1000,
        )
        .unwrap();
        assert!(
            url.as_str()
                .starts_with("https://acme.help.example.com/sso?identifier=alice%2B1%40example.com&strategy=email&token="),
            "{url}"
        );
    }
}
