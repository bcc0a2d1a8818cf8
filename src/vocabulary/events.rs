//! The kinds of notification (SPEC section 8), by the names webhooks subscribe to and payloads
//! carry, and where each one's JSON Schema is served.

/// The path under which the schemas are served, `GET {SCHEMAS_PATH}/{type}`.
pub const SCHEMAS_PATH: &str = "/JsonNotificationSchemas";

/// The kinds of notification, named as in the payload's `meta.type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    UserLogin,
    ProfileCreated,
    ProfileUpdated,
}

impl EventType {
    pub const ALL: [EventType; 3] = [
        EventType::UserLogin,
        EventType::ProfileCreated,
        EventType::ProfileUpdated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserLogin => "UserLoginNotification",
            EventType::ProfileCreated => "ProfileCreatedNotification",
            EventType::ProfileUpdated => "ProfileUpdatedNotification",
        }
    }

    pub fn parse(value: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|e| e.as_str() == value)
    }
}

/// Where the schema of `event` is served.
pub fn schema_url(issuer: &str, event: EventType) -> String {
    format!("{issuer}{SCHEMAS_PATH}/{}", event.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_round_trip() {
        for event in EventType::ALL {
            assert_eq!(EventType::parse(event.as_str()), Some(event));
        }
        assert_eq!(EventType::parse("UserLogin"), None);
    }
}
