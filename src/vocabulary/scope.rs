//! Scope values (RFC 6749 section 3.3): space-separated, each known and allowed for the client.
use std::fmt;

pub const OPENID: &str = "openid";
pub const PROFILE: &str = "profile";
pub const EMAIL: &str = "email";
pub const ADDRESS: &str = "address";
pub const OFFLINE_ACCESS: &str = "offline_access";

/// Longest scope (or prompt) value accepted; far more than the known scopes need, and small
/// enough that parsing it costs nothing.
pub const MAX_LEN: usize = 1024;

/// The distinct values of a scope, in the order they were given. `Display` writes them
/// space-separated, the form the wire and the database hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// The values of a space-separated scope string; repeats and empty values are dropped.
    pub fn parse(scope: &str) -> Scopes {
        let mut seen = std::collections::HashSet::new();
        Scopes(
            scope
                .split(' ')
                .filter(|v| !v.is_empty() && seen.insert(*v))
                .map(str::to_string)
                .collect(),
        )
    }

    pub fn contains(&self, value: &str) -> bool {
        self.0.iter().any(|v| v == value)
    }

    /// Whether every value of `self` is in `granted`.
    pub fn covered_by(&self, granted: &Scopes) -> bool {
        self.iter().all(|value| granted.contains(value))
    }

    /// The same values with `value` added at the end, when it is not among them.
    pub fn with(mut self, value: &str) -> Scopes {
        if !self.contains(value) {
            self.0.push(value.to_string());
        }
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// Plain words for what a scope lets an application see, for the consent page.
pub fn describe(value: &str) -> Option<&'static str> {
    match value {
        OPENID => Some("Your user id at idbridge"),
        PROFILE => Some(
            "Your name (with your first and last name and your language, where idbridge knows \
             them), your email address as your username, and the organisations you belong to",
        ),
        EMAIL => Some("Your email address"),
        ADDRESS => Some("Your postal address, where idbridge knows it"),
        OFFLINE_ACCESS => Some("Access to this information while you are not signed in"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_and_coverage() {
        let parsed = Scopes::parse("openid  profile openid");
        assert_eq!(parsed.iter().collect::<Vec<_>>(), ["openid", "profile"]);
        assert_eq!(parsed.to_string(), "openid profile");
        let granted = Scopes::parse("profile email openid");
        assert!(parsed.covered_by(&granted));
        assert!(!parsed.covered_by(&Scopes::parse("openid")));
        assert!(!Scopes::parse("openidx").contains("openid"));
        assert_eq!(
            parsed.with(OFFLINE_ACCESS).with(OPENID).to_string(),
            "openid profile offline_access"
        );
    }
}
