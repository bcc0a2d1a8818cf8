//! The claims about a user that a granted scope releases (SPEC section 4), the same in ID tokens
//! and at userinfo.
use serde_json::{Map, Value, json};

use crate::config::Hierarchy;
use crate::store::{PostalAddress, User, UserSource};
use crate::vocabulary::scope::{self, Scopes};

/// The claims about a user that a scope releases (SPEC section 4): `sub` always; `profile` adds
/// name, preferred_username (the email), attached_to, and given_name, family_name and locale
/// where known; `email` adds email and email_verified (true for the accounts the operator
/// declared, whose addresses the operator vouches for); `address` adds the postal address where
/// known.
pub fn user_claims(
    hierarchy: &Hierarchy,
    user: &User,
    entity_ids: &[String],
    granted: &Scopes,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(user.id));
    let profile = &user.profile;
    if granted.contains(scope::PROFILE) {
        claims.insert("name".into(), json!(user.name));
        claims.insert("preferred_username".into(), json!(user.email));
        claims.insert(
            "attached_to".into(),
            json!(hierarchy.attachments(entity_ids)),
        );
        for (name, value) in [
            ("given_name", &profile.given_name),
            ("family_name", &profile.family_name),
            ("locale", &profile.locale),
        ] {
            if let Some(value) = value {
                claims.insert(name.into(), json!(value));
            }
        }
    }
    if granted.contains(scope::EMAIL) {
        claims.insert("email".into(), json!(user.email));
        claims.insert(
            "email_verified".into(),
            json!(user.source == UserSource::Config),
        );
    }
    if granted.contains(scope::ADDRESS) && !profile.address.is_empty() {
        claims.insert("address".into(), address_claim(&profile.address));
    }
    claims
}

/// OpenID Connect's `address` claim (Core section 5.1.1): the parts known, and `formatted` as
/// they are written on an envelope, one line each.
fn address_claim(address: &PostalAddress) -> Value {
    let mut claim = Map::new();
    let town = [&address.postal_code, &address.locality]
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let formatted = [
        address.street_address.as_deref(),
        Some(town.as_str()),
        address.country.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|line| !line.is_empty())
    .collect::<Vec<_>>()
    .join("\n");
    claim.insert("formatted".into(), json!(formatted));
    for (name, value) in [
        ("street_address", &address.street_address),
        ("postal_code", &address.postal_code),
        ("locality", &address.locality),
        ("country", &address.country),
    ] {
        if let Some(value) = value {
            claim.insert(name.into(), json!(value));
        }
    }
    Value::Object(claim)
}
