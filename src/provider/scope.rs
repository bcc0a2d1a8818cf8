//! Scope values (RFC 6749 section 3.3): space-separated, each known and allowed for the client.
pub const OPENID: &str = "openid";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// The distinct values of a scope string, in order.
pub fn parse(scope: &str) -> Vec<String> {
    let mut values: Vec<String> = Vec::new();
    for value in scope.split(' ').filter(|v| !v.is_empty()) {
        if !values.iter().any(|v| v == value) {
            values.push(value.to_string());
        }
    }
    values
}

pub fn contains(scope: &str, value: &str) -> bool {
    scope.split(' ').any(|v| v == value)
}

/// Whether every value of `requested` is in `granted`.
pub fn covered_by(requested: &str, granted: &str) -> bool {
    parse(requested)
        .iter()
        .all(|value| contains(granted, value))
}

/// Plain words for what a scope lets an application see, for the consent page.
pub fn describe(value: &str) -> Option<&'static str> {
    match value {
        OPENID => Some("Your user id at idbridge"),
        PROFILE => Some(
            "Your name, your email address as your username, and the organisations you belong to",
        ),
        EMAIL => Some("Your email address"),
        OFFLINE_ACCESS => Some("Access to this information while you are not signed in"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_and_coverage() {
        assert_eq!(parse("openid  profile openid"), ["openid", "profile"]);
        assert!(covered_by("openid profile", "profile email openid"));
        assert!(!covered_by("openid profile", "openid"));
        assert!(!contains("openidx", "openid"));
    }
}
