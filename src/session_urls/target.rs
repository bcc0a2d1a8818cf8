//! The `TargetUrl` of a session-URL request (SPEC section 7): read as customers' tools send it,
//! checked to lead to a registered client or product, and split into the customer's profile
//! parameters and the URL the browser goes to without them.
use std::borrow::Cow;

use percent_encoding::percent_decode_str;
use url::Url;
use url::form_urlencoded;

use crate::clients::Clients;
use crate::config::{ProductDecl, is_plausible_email};
use crate::products::request::is_product_url;
use crate::store::{ProfileFields, SessionUrlData};

/// Longest `TargetUrl` accepted, as sent.
const MAX_TARGET_LEN: usize = 8192;
/// Longest value of a profile parameter, in characters.
const MAX_VALUE_LEN: usize = 256;

/// The query parameter that names the customer.
const CUSTOMER_PARAMETER: &str = "internalcustomer";

/// The parameter of the customer's profile, each with the field it fills.
type ProfileParameter = (&'static str, fn(&mut ProfileFields) -> &mut Option<String>);

/// The query parameters that describe the customer. They are taken out of the target, as is
/// [`CUSTOMER_PARAMETER`]; every other parameter stays, in its order and encoding.
const PROFILE_PARAMETERS: [ProfileParameter; 8] = [
    ("billingFirstname", |p| &mut p.first_name),
    ("billingLastname", |p| &mut p.last_name),
    ("billingEMail", |p| &mut p.email),
    ("billingStreet1", |p| &mut p.street1),
    ("billingPostalCode", |p| &mut p.postal_code),
    ("billingCity", |p| &mut p.city),
    ("billingCountryId", |p| &mut p.country_id),
    ("language", |p| &mut p.language),
];

/// Why a `TargetUrl` is refused. The text is the `ResultMessage` of the answer, so it never
/// repeats a value from the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("TargetUrl is longer than 8192 characters")]
    TooLong,
    #[error("TargetUrl is not an absolute URL")]
    NotAUrl,
    #[error("TargetUrl must be an https URL")]
    Scheme,
    #[error("TargetUrl must not carry user information")]
    UserInfo,
    #[error("TargetUrl does not lead to a registered client or product")]
    NotRegistered,
    #[error("TargetUrl has no internalcustomer parameter")]
    MissingCustomer,
    #[error("the {0} parameter of TargetUrl is given more than once")]
    Repeated(&'static str),
    #[error("the {0} parameter of TargetUrl is longer than 256 characters")]
    ValueTooLong(&'static str),
    #[error("the {0} parameter of TargetUrl contains control characters")]
    ControlCharacters(&'static str),
    #[error("the billingEMail parameter of TargetUrl is not an email address")]
    Email,
}

/// Reads a `TargetUrl`: where the browser goes, whose profile it is and what the profile says.
/// The target must lie on the origin of a client's registered redirect URI, or be an https URL
/// without a port on a product's `allowed_domains` or `preview_domain`.
pub fn read(
    raw: &str,
    clients: &Clients,
    products: &[ProductDecl],
) -> Result<SessionUrlData, TargetError> {
    let mut url = normalize(raw)?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(TargetError::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::UserInfo);
    }
    if !registered(&url, clients, products) {
        return Err(TargetError::NotRegistered);
    }
    let (kept, customer, profile) = split_query(url.query().unwrap_or(""))?;
    let internal_customer = customer.ok_or(TargetError::MissingCustomer)?;
    if profile
        .email
        .as_deref()
        .is_some_and(|email| !is_email(email))
    {
        return Err(TargetError::Email);
    }
    url.set_query((!kept.is_empty()).then_some(kept.as_str()));
    Ok(SessionUrlData {
        internal_customer,
        profile,
        target_url: url.into(),
    })
}

/// The `TargetUrl` as a URL. A value that is not an absolute URL as it stands is taken to be
/// percent-encoded whole (`https%3A%2F%2F…`) and decoded once; then HTML-escaped separators
/// (`&amp;`) become `&`.
fn normalize(raw: &str) -> Result<Url, TargetError> {
    let raw = raw.trim();
    if raw.len() > MAX_TARGET_LEN {
        return Err(TargetError::TooLong);
    }
    let text = if Url::parse(raw).is_ok() {
        Cow::Borrowed(raw)
    } else {
        percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| TargetError::NotAUrl)?
    };
    Url::parse(&text.replace("&amp;", "&")).map_err(|_| TargetError::NotAUrl)
}

/// Whether the target is where a registered client or product lives.
fn registered(url: &Url, clients: &Clients, products: &[ProductDecl]) -> bool {
    let client = clients.has_origin(&url.origin().ascii_serialization());
    client || products.iter().any(|product| is_product_url(product, url))
}

/// Splits a raw query into the parameters that stay (as they were written, in their order),
/// the customer, and the profile of [`PROFILE_PARAMETERS`], decoded and trimmed; an empty value
/// counts as absent.
fn split_query(query: &str) -> Result<(String, Option<String>, ProfileFields), TargetError> {
    let mut customer = None;
    let mut profile = ProfileFields::default();
    let mut kept = Vec::new();
    for segment in query.split('&').filter(|s| !s.is_empty()) {
        let (name, value) = form_urlencoded::parse(segment.as_bytes())
            .next()
            .unwrap_or_default();
        let (parameter, slot) = if name == CUSTOMER_PARAMETER {
            (CUSTOMER_PARAMETER, &mut customer)
        } else if let Some((parameter, field)) = PROFILE_PARAMETERS.iter().find(|p| p.0 == name) {
            (*parameter, field(&mut profile))
        } else {
            kept.push(segment);
            continue;
        };
        let value = value.trim();
        if slot.is_some() {
            return Err(TargetError::Repeated(parameter));
        }
        if value.chars().count() > MAX_VALUE_LEN {
            return Err(TargetError::ValueTooLong(parameter));
        }
        if value.chars().any(char::is_control) {
            return Err(TargetError::ControlCharacters(parameter));
        }
        *slot = Some(value.to_string());
    }
    let given = |slot: &mut Option<String>| {
        if slot.as_deref() == Some("") {
            *slot = None;
        }
    };
    given(&mut customer);
    for (_, field) in PROFILE_PARAMETERS {
        given(field(&mut profile));
    }
    Ok((kept.join("&"), customer, profile))
}

/// An address as the config accepts one ([`is_plausible_email`]), whose domain has no empty
/// label either (`jane@example..com`).
fn is_email(value: &str) -> bool {
    is_plausible_email(value)
        && value
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain.split('.').all(|label| !label.is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Alg, ClientDecl, ProductFormat, Secret, TokenAuthMethod};
    use crate::vocabulary::domains::DomainPattern;

    fn clients() -> Clients {
        Clients::new(&[ClientDecl {
            client_id: "shop".into(),
            secret: None,
            redirect_uris: vec![
                "https://shop.example.com/callback".into(),
                "http://127.0.0.1:8400/cb".into(),
            ],
            post_logout_redirect_uris: vec![],
            allowed_scopes: vec!["openid".into()],
            id_token_alg: Alg::RS256,
            require_pkce: true,
            token_endpoint_auth_method: TokenAuthMethod::None,
            backchannel_logout: None,
            frontchannel_logout: None,
        }])
    }

    fn products() -> Vec<ProductDecl> {
        vec![ProductDecl {
            id: "helpdesk".into(),
            format: ProductFormat::Workspace,
            allowed_domains: vec![DomainPattern::parse("*.help.example.com").unwrap()],
            preview_domain: Some("preview.help.example.net".into()),
            secrets: vec![Secret::new("x".repeat(32))],
            token_ttl: 300,
        }]
    }

    fn read_target(raw: &str) -> Result<SessionUrlData, TargetError> {
        read(raw, &clients(), &products())
    }

    #[test]
    fn an_encoded_target_with_escaped_separators() {
        let raw = "https%3A%2F%2Fshop.example.com%2Fcheckout%3Fcart%3D42%26amp%3Binternalcustomer%3DC-1001\
                   %26amp%3BbillingFirstname%3DJane%26amp%3BbillingLastname%3DDoe\
                   %26amp%3BbillingEMail%3Djane%2540example.com%26amp%3BbillingStreet1%3DMain%2520St%25201\
                   %26amp%3BbillingPostalCode%3D1234%26amp%3BbillingCity%3DVienna\
                   %26amp%3BbillingCountryId%3DAT%26amp%3Blanguage%3Dde";
        assert_eq!(
            read_target(raw).unwrap(),
            SessionUrlData {
                internal_customer: "C-1001".into(),
                profile: ProfileFields {
                    first_name: Some("Jane".into()),
                    last_name: Some("Doe".into()),
                    email: Some("jane@example.com".into()),
                    street1: Some("Main St 1".into()),
                    postal_code: Some("1234".into()),
                    city: Some("Vienna".into()),
                    country_id: Some("AT".into()),
                    language: Some("de".into()),
                },
                target_url: "https://shop.example.com/checkout?cart=42".into(),
            }
        );
    }

    #[test]
    fn other_parameters_keep_their_order_and_encoding() {
        let read = read_target(
            "https://shop.example.com/p/x?b=2&internalcustomer=C%201&a=%2Fx+y&amp;billingCity=Graz&c#top",
        )
        .unwrap();
        assert_eq!(read.internal_customer, "C 1");
        assert_eq!(read.profile.city.as_deref(), Some("Graz"));
        assert_eq!(read.profile.first_name, None);
        assert_eq!(
            read.target_url,
            "https://shop.example.com/p/x?b=2&a=%2Fx+y&c#top"
        );
        let only_customer = read_target("https://shop.example.com/?internalcustomer=C-1").unwrap();
        assert_eq!(only_customer.target_url, "https://shop.example.com/");
    }

    #[test]
    fn empty_values_change_nothing() {
        let read =
            read_target("https://shop.example.com/?internalcustomer=C-1&billingCity=&language=")
                .unwrap();
        assert_eq!(read.profile, ProfileFields::default());
        assert_eq!(
            read_target("https://shop.example.com/?internalcustomer=&billingCity=Graz"),
            Err(TargetError::MissingCustomer)
        );
    }

    #[test]
    fn clients_and_products_are_where_targets_may_lead() {
        for allowed in [
            "https://shop.example.com/anything?internalcustomer=C-1",
            "https://SHOP.example.com:443/?internalcustomer=C-1",
            "http://127.0.0.1:8400/?internalcustomer=C-1",
            "https://acme.help.example.com/x?internalcustomer=C-1",
            "https://preview.help.example.net/?internalcustomer=C-1",
        ] {
            assert!(read_target(allowed).is_ok(), "{allowed}");
        }
        for refused in [
            "https://shop.example.com.evil.com/?internalcustomer=C-1",
            "https://evil.com/shop.example.com?internalcustomer=C-1",
            "https://evil.com\\@shop.example.com/?internalcustomer=C-1",
            "https://shop.example.com:8443/?internalcustomer=C-1",
            "http://shop.example.com/?internalcustomer=C-1",
            "http://127.0.0.1:8401/?internalcustomer=C-1",
            "https://help.example.com/?internalcustomer=C-1",
            "https://a.b.help.example.com/?internalcustomer=C-1",
            "https://acme.help.example.com:8443/?internalcustomer=C-1",
            "https://evilshop.example.com/?internalcustomer=C-1",
        ] {
            assert_eq!(
                read_target(refused),
                Err(TargetError::NotRegistered),
                "{refused}"
            );
        }
    }

    #[test]
    fn what_is_not_an_https_url_is_refused() {
        assert_eq!(
            read_target("https://shop.example.com@evil.com/?internalcustomer=C-1"),
            Err(TargetError::UserInfo)
        );
        assert_eq!(
            read_target("https://user:pw@shop.example.com/?internalcustomer=C-1"),
            Err(TargetError::UserInfo)
        );
        for scheme in [
            "javascript:alert(1)//shop.example.com?internalcustomer=C-1",
            "javascript%3Aalert(1)",
            "data:text/html,hi",
            "ftp://shop.example.com/?internalcustomer=C-1",
        ] {
            assert_eq!(read_target(scheme), Err(TargetError::Scheme), "{scheme}");
        }
        for not_a_url in [
            "",
            "evil.com/shop.example.com",
            "/checkout?internalcustomer=C-1",
            "shop.example.com",
            "https%3A%2F%2Fshop.example.com%2F%FF",
        ] {
            assert_eq!(
                read_target(not_a_url),
                Err(TargetError::NotAUrl),
                "{not_a_url}"
            );
        }
        let long = format!("https://shop.example.com/?q={}", "a".repeat(MAX_TARGET_LEN));
        assert_eq!(read_target(&long), Err(TargetError::TooLong));
    }

    #[test]
    fn a_value_that_is_encoded_once_is_decoded_once() {
        // The URL parses as it stands, so its own escapes stay: %2540 is a literal "%40".
        let read = read_target(
            "https://shop.example.com/?internalcustomer=C%2541&billingStreet1=Main%2520St",
        )
        .unwrap();
        assert_eq!(read.internal_customer, "C%41");
        assert_eq!(read.profile.street1.as_deref(), Some("Main%20St"));
    }

    #[test]
    fn profile_values_are_checked() {
        let with = |extra: &str| {
            read_target(&format!(
                "https://shop.example.com/?internalcustomer=C-1&{extra}"
            ))
        };
        assert_eq!(
            with("internalcustomer=C-2"),
            Err(TargetError::Repeated("internalcustomer"))
        );
        assert_eq!(
            with(&format!("billingCity={}", "a".repeat(257))),
            Err(TargetError::ValueTooLong("billingCity"))
        );
        assert!(with(&format!("billingCity={}", "ä".repeat(256))).is_ok());
        assert_eq!(
            with("billingLastname=Doe%0D%0ASet-Cookie"),
            Err(TargetError::ControlCharacters("billingLastname"))
        );
        for bad in [
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "jane@@example.com",
            "jane@example..com",
            "ja ne@example.com",
        ] {
            let encoded: String = form_urlencoded::byte_serialize(bad.as_bytes()).collect();
            assert_eq!(
                with(&format!("billingEMail={encoded}")),
                Err(TargetError::Email),
                "{bad}"
            );
        }
        assert!(with("billingEMail=jane.doe%2Bshop@mail.example.co.uk").is_ok());
    }
}
