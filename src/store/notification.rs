//! What a change announces to webhooks (SPEC section 8): the event, the user, and the JSON
//! payload an outbox row carries. The store writes it in the change's own transaction
//! ([`super::enqueue_notification`]); `notifications` delivers it.
use serde::Serialize;

use super::User;
use crate::config::Attachment;
use crate::vocabulary::events::{EventType, schema_url};

/// The person a notification is about, as the payload's `user` shows them: the profile's other
/// parts only where known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedUser {
    pub id: String,
    pub email: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<NotifiedAddress>,
    /// The organisations the user belongs to, as `attached_to` shows them; read when the
    /// notification is written ([`super::enqueue_notification`]).
    pub attached_to: Vec<Attachment>,
}

/// A postal address as payloads show it: the parts known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotifiedAddress {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// Something that happened, before it is addressed to webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub event: EventType,
    pub user: NotifiedUser,
    /// The customer profile the user is, where there is one (`internalCustomer`).
    pub internal_customer: Option<String>,
    /// How a login was made: `local`, or the upstream connection's id (logins only).
    pub connection: Option<String>,
}

impl Notification {
    pub fn new(event: EventType, user: &User) -> Notification {
        let profile = &user.profile;
        let address = &profile.address;
        Notification {
            event,
            user: NotifiedUser {
                id: user.id.clone(),
                email: user.email.clone(),
                name: user.name.clone(),
                given_name: profile.given_name.clone(),
                family_name: profile.family_name.clone(),
                locale: profile.locale.clone(),
                address: (!address.is_empty()).then(|| NotifiedAddress {
                    street_address: address.street_address.clone(),
                    postal_code: address.postal_code.clone(),
                    locality: address.locality.clone(),
                    country: address.country.clone(),
                }),
                attached_to: Vec::new(),
            },
            internal_customer: None,
            connection: None,
        }
    }

    /// A session was started for `user` by signing in at `connection`.
    pub fn user_login(user: &User, connection: &str) -> Notification {
        Notification {
            connection: Some(connection.to_string()),
            ..Notification::new(EventType::UserLogin, user)
        }
    }

    /// The same, saying where the user is attached.
    pub fn attached_to(mut self, attached_to: Vec<Attachment>) -> Notification {
        self.user.attached_to = attached_to;
        self
    }

    pub fn with_internal_customer(self, internal_customer: impl Into<String>) -> Notification {
        Notification {
            internal_customer: Some(internal_customer.into()),
            ..self
        }
    }

    /// The JSON body delivered for this notification, with `id` as its idempotency key and `now`
    /// as its date; the schema it follows is served under `issuer`.
    pub fn payload(&self, id: &str, issuer: &str, now: i64) -> String {
        let date = chrono::DateTime::from_timestamp(now, 0)
            .unwrap_or(chrono::DateTime::UNIX_EPOCH)
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let payload = Payload {
            meta: Meta {
                kind: self.event.as_str(),
                date,
                schema_url: schema_url(issuer, self.event),
                id,
            },
            user: &self.user,
            internal_customer: self.internal_customer.as_deref(),
            connection: self.connection.as_deref(),
        };
        serde_json::to_string(&payload).expect("a payload is plain JSON")
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Payload<'a> {
    meta: Meta<'a>,
    user: &'a NotifiedUser,
    #[serde(skip_serializing_if = "Option::is_none")]
    internal_customer: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    date: String,
    schema_url: String,
    id: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserSource;

    fn alice() -> User {
        User {
            id: "u-alice".into(),
            email: "alice@example.com".into(),
            name: "Alice Example".into(),
            password_hash: None,
            source: UserSource::Config,
            created_at: 0,
            updated_at: 0,
            profile: Default::default(),
            disabled_at: None,
        }
    }

    #[test]
    fn login_payload() {
        let body = Notification::user_login(&alice(), "local").payload(
            "n-1",
            "https://id.example.com",
            1_700_000_000,
        );
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "meta": {
                    "type": "UserLoginNotification",
                    "date": "2023-11-14T22:13:20Z",
                    "schemaUrl": "https://id.example.com/JsonNotificationSchemas/UserLoginNotification",
                    "id": "n-1",
                },
                "user": {
                    "id": "u-alice", "email": "alice@example.com", "name": "Alice Example",
                    "attachedTo": [],
                },
                "connection": "local",
            })
        );
    }

    #[test]
    fn internal_customer_only_where_given() {
        let plain = Notification::new(EventType::ProfileUpdated, &alice());
        assert!(
            !plain
                .payload("n", "https://i", 0)
                .contains("internalCustomer")
        );
        let body = plain
            .with_internal_customer("C-42")
            .payload("n", "https://i", 0);
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["internalCustomer"], "C-42");
        assert!(json.get("connection").is_none());
    }
}
