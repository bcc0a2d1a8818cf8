//! Scope values (RFC 6749 section 3.3): space-separated, each known and allowed for the client.
pub const OPENID: &str = "openid";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Longest scope (or prompt) value accepted; far more than the known scopes need, and small
/// enough that parsing it costs nothing.
pub const MAX_LEN: usize = 1024;

/// The distinct values of a scope string, in order.
pub fn parse(scope: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    scope
        .split(' ')
        .filter(|v| !v.is_empty() && seen.insert(*v))
        .map(str::to_string)
        .collect()
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
