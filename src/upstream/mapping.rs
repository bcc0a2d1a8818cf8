//! What a provider says of a person beyond who they are, as their connection maps it: the
//! entities they are attached to and the parts of their profile. The same for every kind: each
//! connector reads its provider's values by name (SAML attributes, OIDC claims) and hands them
//! here, at every login, so that what the provider says now is what idbridge keeps.
//!
//! Entity rules name the entity for each value explicitly: a provider's value never names an
//! entity by itself, so one customer's IdP cannot attach its people to another customer's
//! entities.
use super::UpstreamError;
use crate::config::{ConnectionDecl, ProfileNames};
use crate::store::{PostalAddress, Profile};

/// The longest profile value kept (as for session URLs): longer ones are cut.
const MAX_PROFILE_VALUE_CHARS: usize = 256;

/// Every value a provider gives under a name (several for a multi-valued SAML attribute or an
/// array claim such as `groups`); none when it gives none.
pub type Values<'a> = &'a dyn Fn(&str) -> Vec<String>;

/// The entities the person is attached to: that of every entity rule whose attribute has its
/// value, in the rules' order; when none matches, the connection's `entity`, or
/// [`UpstreamError::NoEntity`] for a connection without one.
pub fn entities(connection: &ConnectionDecl, values: Values) -> Result<Vec<String>, UpstreamError> {
    let mut attached: Vec<String> = Vec::new();
    for rule in &connection.entity_rules {
        let matches = values(&rule.attribute)
            .iter()
            .any(|value| value.trim() == rule.equals);
        if matches && !attached.contains(&rule.entity) {
            attached.push(rule.entity.clone());
        }
    }
    if attached.is_empty() {
        let default = connection
            .entity
            .clone()
            .ok_or_else(|| UpstreamError::NoEntity {
                connection: connection.id.clone(),
            })?;
        attached.push(default);
    }
    Ok(attached)
}

/// The profile the provider gives under `names`: each part its first usable value.
pub fn profile(names: &ProfileNames, values: Values) -> Profile {
    let part = |name: &Option<String>| {
        let name = name.as_deref()?;
        values(name).iter().find_map(|value| profile_value(value))
    };
    Profile {
        given_name: part(&names.given_name),
        family_name: part(&names.family_name),
        locale: part(&names.locale),
        address: PostalAddress::default(),
    }
}

/// A value fit to keep and release: without control characters, trimmed, at most
/// [`MAX_PROFILE_VALUE_CHARS`] characters; `None` when nothing is left.
fn profile_value(raw: &str) -> Option<String> {
    let clean: String = raw.chars().filter(|c| !c.is_control()).collect();
    let clean: String = clean.trim().chars().take(MAX_PROFILE_VALUE_CHARS).collect();
    let clean = clean.trim_end().to_string();
    (!clean.is_empty()).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConnectionProtocol, EntityRule, OidcConnectionDecl, Secret};

    fn connection(entity: Option<&str>) -> ConnectionDecl {
        let rule = |attribute: &str, equals: &str, entity: &str| EntityRule {
            attribute: attribute.into(),
            equals: equals.into(),
            entity: entity.into(),
        };
        ConnectionDecl {
            id: "acme".into(),
            name: "Acme".into(),
            entity: entity.map(String::from),
            entity_rules: vec![
                rule("division", "East", "e-east"),
                rule("groups", "merchants", "e-mer"),
                rule("division", "West", "e-west"),
            ],
            domains: Vec::new(),
            enabled: true,
            protocol: ConnectionProtocol::Oidc(OidcConnectionDecl {
                issuer: "https://idp.acme.test".into(),
                client_id: "idbridge".into(),
                client_secret: Secret::new("secret"),
                scopes: vec!["openid".into()],
                email_claim: "email".into(),
                name_claim: "name".into(),
                profile_claims: ProfileNames::default(),
                email_authoritative: false,
                timeout: 10,
            }),
        }
    }

    #[test]
    fn every_matching_rule_attaches_and_the_default_only_when_none_does() {
        let said = |division: &'static [&'static str], groups: &'static [&'static str]| {
            move |name: &str| -> Vec<String> {
                let values = match name {
                    "division" => division,
                    "groups" => groups,
                    _ => &[],
                };
                values.iter().map(|v| v.to_string()).collect()
            }
        };
        let acme = connection(Some("e-default"));
        let of = |division, groups| entities(&acme, &said(division, groups)).unwrap();
        assert_eq!(of(&["East"], &[]), ["e-east"]);
        assert_eq!(
            of(&[" West "], &["staff", "merchants"]),
            ["e-mer", "e-west"]
        );
        assert_eq!(of(&["east"], &["Merchants"]), ["e-default"], "exact values");
        assert_eq!(of(&[], &[]), ["e-default"]);
        let strict = connection(None);
        assert!(matches!(
            entities(&strict, &said(&["North"], &[])),
            Err(UpstreamError::NoEntity { .. })
        ));
        assert_eq!(
            entities(&strict, &said(&["East"], &[])).unwrap(),
            ["e-east"]
        );
    }

    #[test]
    fn profile_values_are_cleaned_and_bounded() {
        let names = ProfileNames {
            given_name: Some("givenName".into()),
            family_name: Some("sn".into()),
            locale: None,
        };
        let values = |name: &str| -> Vec<String> {
            match name {
                "givenName" => vec!["  ".into(), " Al\u{7}ice\n ".into()],
                "sn" => vec!["x".repeat(300)],
                _ => vec!["de".into()],
            }
        };
        let profile = profile(&names, &values);
        assert_eq!(profile.given_name.as_deref(), Some("Alice"));
        assert_eq!(profile.family_name.map(|f| f.len()), Some(256));
        assert_eq!(profile.locale, None, "a part the connection does not map");
    }
}
