//! The claims about a user that a granted scope releases (SPEC section 4), the same in ID tokens
//! and at userinfo.
use serde_json::{Map, Value, json};

use crate::hierarchy::Hierarchy;
use crate::store::User;
use crate::store::UserSource;
use crate::vocabulary::scope::{self, Scopes};

/// The person a set of claims is about.
pub struct Subject<'a> {
    pub id: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    /// Addresses of accounts the operator declared are vouched for by the operator.
    pub email_verified: bool,
}

impl<'a> From<&'a User> for Subject<'a> {
    fn from(user: &'a User) -> Subject<'a> {
        Subject {
            id: &user.id,
            email: &user.email,
            name: &user.name,
            email_verified: user.source == UserSource::Config,
        }
    }
}

/// The claims about a user that a scope releases (SPEC section 4): `sub` always; `profile` adds
/// name, preferred_username (the email) and attached_to; `email` adds email and email_verified.
pub fn user_claims(
    hierarchy: &Hierarchy,
    subject: &Subject,
    entity_ids: &[String],
    granted: &Scopes,
) -> Map<String, Value> {
    let mut claims = Map::new();
    claims.insert("sub".into(), json!(subject.id));
    if granted.contains(scope::PROFILE) {
        claims.insert("name".into(), json!(subject.name));
        claims.insert("preferred_username".into(), json!(subject.email));
        claims.insert(
            "attached_to".into(),
            json!(hierarchy.attachments(entity_ids)),
        );
    }
    if granted.contains(scope::EMAIL) {
        claims.insert("email".into(), json!(subject.email));
        claims.insert("email_verified".into(), json!(subject.email_verified));
    }
    claims
}
